"""Readers for what the trackers wrote: W&B's offline run file (its own record log), TensorBoard's
event files and MLflow's file store, read back with the real libraries where they have readers."""

import json
import os
import struct
from pathlib import Path

import pytest

BLOCK = 32768  # W&B's run file is a LevelDB-style log: 32 KiB blocks of (crc32, length, type) + data


def wandb_records(path: Path):
    """The protobuf records of a ``.wandb`` offline run file (wandb 0.2x/0.3x has no Python reader)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", path
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:  # zero padding to the end of the block
            pos += room
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        pending += chunk
        if kind in (1, 4):  # FULL or LAST
            rec = pb.Record()
            rec.ParseFromString(pending)
            pending = b""
            yield rec


def wandb_run(folder: Path) -> dict:
    """One offline run folder: its id, name, tags, config, history rows and summary."""
    out = {"history": [], "summary": {}, "config": {}, "artifacts": []}
    for rec in wandb_records(next(folder.glob("*.wandb"))):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out.update(id=rec.run.run_id, name=rec.run.display_name, tags=list(rec.run.tags))
            out["config"].update({i.key: json.loads(i.value_json) for i in rec.run.config.update})
        elif kind == "config":
            out["config"].update({i.key: json.loads(i.value_json) for i in rec.config.update})
        elif kind == "history":
            out["history"].append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item})
        elif kind == "summary":
            out["summary"].update({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.summary.update})
        elif kind == "artifact":
            out["artifacts"].append(rec.artifact.name)
    return out


def tensorboard_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture
def mlflow_client():
    def open_(uri: str):
        from mlflow.tracking import MlflowClient

        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        return MlflowClient(tracking_uri=uri)
    return open_


@pytest.fixture
def read_wandb():
    return wandb_run


@pytest.fixture
def read_tensorboard():
    return tensorboard_scalars
