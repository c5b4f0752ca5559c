import json

import pytest


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
    code, out, _ = run_cli("data", "list", "--json", "--data-dir", tmp_path)
    assert code == 0 and {r["local"] for r in json.loads(out)} == {"missing"}


def test_usage_error_exit_code(run_cli):
    code, _, err = run_cli("data", "mix", "--k", "1")
    assert code == 2 and "Missing option" in err


def test_check_leakage_cli(run_cli, shared_data, tmp_path):
    code, out, _ = run_cli("data", "check-leakage", "--train", "safety-tuned-llamas", "--suites", "i-maliciousinstructions",
                           "--method", "text", "--data-dir", shared_data, "--out", tmp_path / "leak.json")
    assert code == 0 and "0 leaked prompts of 100" in out
    assert json.loads((tmp_path / "leak.json").read_text())["total"] == 0
