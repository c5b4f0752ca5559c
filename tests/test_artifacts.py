"""The typed records between stages: writers cannot omit a required field, readers name the file and
record of a bad one, and fields beyond the contract survive a round trip."""

import json

import pytest
from pydantic import ValidationError

from safemix.artifacts import GenerationRecord, RunRecord, TrainManifest, VerdictRecord, read_record, read_records
from safemix.errors import DataError


def test_round_trip_keeps_declared_order_and_extra_fields(tmp_path):
    rec = GenerationRecord(id="s:0", prompt="q", output="a", key="k", model="smollm2-135m", adapter=None)
    doc = rec.dump()
    assert list(doc)[:3] == ["suite", "id", "prompt"] and doc["model"] == "smollm2-135m" and "adapter" in doc
    f = tmp_path / "S.jsonl"
    f.write_text(json.dumps(doc) + "\n")
    assert read_records(GenerationRecord, f)[0].dump() == doc


def test_writer_cannot_omit_a_required_field():
    with pytest.raises(ValidationError):
        VerdictRecord(id="s:0", judge="j", kind="refusal")  # no store key
    with pytest.raises(ValidationError):
        TrainManifest(kind="lora", base_model="m", prompt_format={"name": "alpaca"})  # kind is adapter|full


def test_reader_names_file_record_and_field(tmp_path):
    f = tmp_path / "S.jsonl"
    f.write_text(json.dumps({"id": "a", "prompt": "q", "output": "x", "key": "k"}) + "\n"
                 + json.dumps({"id": "b", "prompt": "q", "output": 3, "key": "k2"}) + "\n")
    with pytest.raises(DataError, match=r"S.jsonl: record 1: field 'output': Input should be a valid string"):
        read_records(GenerationRecord, f)
    f.write_text('["not", "an", "object"]\n')
    with pytest.raises(DataError, match=r"S.jsonl: record 0: expected a JSON object, got list"):
        read_records(GenerationRecord, f)
    m = tmp_path / "manifest.json"
    m.write_text(json.dumps({"kind": "adapter", "base_model": "m", "prompt_format": {}}))
    with pytest.raises(DataError, match=r"manifest.json: field 'prompt_format.name': Field required"):
        read_record(TrainManifest, m)


def test_run_record_carries_step_times(tmp_path):
    run = RunRecord(config="c", steps=2, ran=1, step_times=[{"stage": "train", "point": "k=0 seed=1", "seconds": 3.5,
                                                              "peak_rss_mb": 900.0}])
    (tmp_path / "run.json").write_text(json.dumps(run.dump()))
    back = read_record(RunRecord, tmp_path / "run.json")
    assert back.step_times[0].stage == "train" and back.step_times[0].peak_rss_mb == 900.0
