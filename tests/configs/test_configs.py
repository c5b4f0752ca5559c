import re
from pathlib import Path

import pytest

from safemix.config import load_run_config
from safemix.errors import SafemixError

ALL = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
AUDITS = [p for p in ALL if p.name.startswith("audit")]  # safemix audit configs
CONFIGS = [p for p in ALL if p not in AUDITS]  # safemix run configs


def test_configs_exist():
    assert {p.name for p in CONFIGS} >= {"quickstart.yaml", "paper.yaml"} and AUDITS


@pytest.mark.parametrize("path", AUDITS, ids=lambda p: p.name)
def test_every_shipped_audit_config_loads(path):
    from safemix.run.audit import load_audit_config

    cfg = load_audit_config(path)
    assert cfg.models and all(m.prompt_format == "chat" for m in cfg.models)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_run_config(path)
    assert cfg.train.model == cfg.model and cfg.data.k == sorted(cfg.data.k)


def test_paper_config_follows_the_paper():
    cfg = load_run_config(Path(__file__).resolve().parents[2] / "configs" / "paper.yaml")
    t = cfg.train
    assert (t.lora_r, t.lora_alpha, t.lora_dropout, t.lora_target_modules) == (8, 16, 0.05, ["q_proj", "v_proj"])
    assert (t.learning_rate, t.batch_size, t.cutoff_len, t.epochs) == (3e-4, 128, 256, 4)
    assert cfg.data.k == [0, 100, 300, 500, 1000, 1500, 2000] and cfg.data.n_general == 20000
    assert cfg.capability.tasks == ["piqa", "boolq", "openbookqa"] and cfg.capability.num_fewshot == 0
    assert (cfg.quality.judge, cfg.quality.suite, cfg.quality.baseline_k) == ("quality-rm", "I-Alpaca", 0)


def test_quickstart_measures_helpfulness_offline():
    from safemix.capability import parse_tasks
    from safemix.judge import available

    cfg = load_run_config(Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml")
    assert all(s.local and s.path.is_file() for s in parse_tasks(cfg.capability.tasks))
    assert cfg.quality.judge in available() and cfg.quality.suite in cfg.generate.suites


@pytest.mark.parametrize("text,message", [
    ("name: x\nmodel: m\n", "data: Field required"),
    ("name: x\nmodel: m\ndata: {general: g, n_general: 10, k: [0]}\ntrain: {lora_r: 0}\n", "train.lora_r: Input should be greater than 0"),
    ("name: x\nmodel: m\ndata: {general: g, n_general: 10, k: [0]}\ntrian: {}\n", "trian: unknown key (did you mean train?)"),
    ("name: x\nmodel: m\ndata: {general: g, n_general: 10, k: [-1]}\n", "data.k: k must be a non-empty list"),
    ("- a\n- b\n", "expected a mapping"),
    ("name: x\nmodel: m\ndata: {general: g, n_general: 10, k: [0]}\njudges: [harm-hh]\n", "unknown judge 'harm-hh'"),
    ("name: x\nmodel: m\ndata: {general: g, n_general: 10, k: [0]}\njudges: [refusal-clf]\njudge_options: {timeout: 5}\n",
     "option(s) timeout are taken by none of the judges refusal-clf"),
    ("name: x\nmodel: m\ndata: {general: g, n_general: 10, k: [0]}\njudges: [llm-refusal]\njudge_options: {timeout: 0}\n",
     "judge_options.timeout: Input should be greater than 0"),
    ("name: [unclosed\n", "invalid YAML: line 2 column 1: expected ',' or ']'"),
])
def test_config_errors_name_the_key(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(SafemixError, match=re.escape(message)):
        load_run_config(path)


def test_run_name_is_a_name_not_a_path(tmp_path):
    base = (Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml").read_text()
    for bad in ("../../../x", "a/b", ".hidden", "/abs"):
        path = tmp_path / "c.yaml"
        path.write_text(base.replace("name: quickstart", f"name: '{bad}'"))
        with pytest.raises(SafemixError, match=r"c.yaml: name: .* must be a plain folder name"):
            load_run_config(path)
