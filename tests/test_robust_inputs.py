"""One-line errors instead of tracebacks, and outputs that cannot be turned against their reader."""

import os

import numpy as np
import pytest

from safemix.config import load_run_config
from safemix.errors import SafemixError
from safemix.fileio import atomic_copy, csv_cell, inside
from safemix.judge.learned import load_weights, save_weights
from safemix.report.results import to_csv
from safemix.secrets import redact, redact_doc


def test_deeply_nested_yaml_is_a_one_line_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(SafemixError, match="nested too deeply to be a config"):
        load_run_config(path)


def test_a_file_name_that_starts_a_formula_reaches_results_csv_as_text():
    rows = [{"suite": name, "k": 0, "seed": 1, "judge": "-", "metric": "eos_rate", "n": 1, "value": -0.5,
             "ci_low": 0, "ci_high": 1} for name in ("=cmd|' /C calc'!A0", "+1", "@SUM(A1)", "-2", "plain")]
    lines = to_csv(rows).splitlines()[1:]
    assert [x.split(",")[0] for x in lines[:2]] == ["'=cmd|' /C calc'!A0", "'+1"]
    assert lines[2].startswith("'@SUM") and lines[3].startswith("'-2") and lines[4].startswith("plain,0,1,-,")
    assert ",-0.5," in lines[0] and csv_cell(-0.5) == -0.5


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04garbage", None])
def test_a_corrupt_judge_cache_is_rebuilt_not_a_traceback(tmp_path, damage):
    path = tmp_path / "w.npz"
    save_weights(path, {"classes": ["a"]}, coef=np.ones((1, 2)), intercept=np.zeros(1))
    assert load_weights(path, ("coef", "intercept"), ("classes",)) is not None
    if damage is None:  # a file missing an array the judge needs
        save_weights(path, {"classes": ["a"]}, coef=np.ones((1, 2)))
    else:
        path.write_bytes(damage)
    assert load_weights(path, ("coef", "intercept"), ("classes",)) is None


def test_redaction_removes_every_uri_credential():
    text = "uri: http://alice:s3cret@127.0.0.1:5000/x and ray://bob:pw@head:10001, plain http://host/x"
    assert redact(text) == "uri: http://***@127.0.0.1:5000/x and ray://***@head:10001, plain http://host/x"
    assert redact_doc({"a": ["https://u:p@h/"], "b": 3}) == {"a": ["https://***@h/"], "b": 3}


def test_writes_replace_a_planted_symlink_and_refuse_folders_leading_out(tmp_path):
    run_dir, outside = tmp_path / "run", tmp_path / "outside"
    (run_dir / "cards" / "k8").mkdir(parents=True)
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    (run_dir / "cards" / "k8" / "adapter_config.json").symlink_to(victim)
    src = tmp_path / "src.json"
    src.write_text("{}")
    atomic_copy(src, run_dir / "cards" / "k8" / "adapter_config.json")
    assert victim.read_text() == "keep me" and not (run_dir / "cards" / "k8" / "adapter_config.json").is_symlink()
    (run_dir / "report").symlink_to(outside)
    with pytest.raises(SafemixError, match=r"leads out of .* \(through a symlink\)"):
        inside(run_dir, run_dir / "report")
    assert inside(run_dir, run_dir / "cards" / "k8") == run_dir / "cards" / "k8"


def test_pushing_a_card_with_the_hub_unreachable_is_one_line(tmp_path):
    from huggingface_hub import HfApi

    from safemix.report.card import push_card

    api = HfApi(endpoint="http://127.0.0.1:9", token="hf_secret_token_value")  # nothing listens there
    with pytest.raises(SafemixError) as info:
        push_card(tmp_path, "me/adapter", api=api)
    message = str(info.value)
    assert message.startswith(f"cannot push {tmp_path} to the Hub as me/adapter") and "\n" not in message
    assert "hf_secret_token_value" not in message


def test_slurm_without_its_commands_is_refused_before_any_work(tmp_path, monkeypatch):
    pytest.importorskip("submitit", reason="the [slurm] extra is not installed")
    from safemix.executors import get_executor
    from safemix.executors.slurm import SlurmOptions

    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without SLURM's commands
    with pytest.raises(SafemixError, match="executor slurm: sbatch, srun, sacct not found on this machine"):
        get_executor("slurm", SlurmOptions(), tmp_path).check()
    assert os.listdir(tmp_path) == []
