"""``safemix audit``: existing models, no training, one report with a row per model. Two "models":
the built-in model and a local folder holding it with a LoRA merged in."""

import csv

import pytest

pytestmark = pytest.mark.slow

CONFIG = """name: audit-test
models:
  - {{name: base, model: smollm2-135m, prompt_format: chat}}
  - {{name: merged, model: {merged}, prompt_format: chat}}
generate: {{suites: [Q-Harm, I-Alpaca, xstest], limit_per_suite: {{Q-Harm: 3, I-Alpaca: 3, xstest-safe: 3, xstest-unsafe: 3}},
           preset: greedy, max_new_tokens: 8, batch_size: 8}}
judges: [xstest-strmatch]
quality_judge: quality-relevance
"""


@pytest.fixture(scope="module")
def merged_folder(smollm, tmp_path_factory):
    """The built-in model with a random (non-zero) LoRA merged in, saved as a plain safetensors folder."""
    import torch
    from peft import LoraConfig, get_peft_model

    from safemix.models import load_causal_lm, load_tokenizer

    ref, _ = smollm
    torch.manual_seed(0)
    lm = get_peft_model(load_causal_lm(ref), LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    folder = tmp_path_factory.mktemp("merged") / "smollm2-lora-merged"
    lm.merge_and_unload().save_pretrained(folder, safe_serialization=True)
    load_tokenizer(ref).save_pretrained(folder)
    return folder


def test_audit_two_models_one_report_and_resume(run_cli, shared_data, merged_folder, tmp_path):
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(CONFIG.format(merged=merged_folder))
    code, out, err = run_cli("audit", cfg, "--out", tmp_path / "a", "--data-dir", shared_data)
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "a" / "report" / "audit.csv")))
    assert {r["model"] for r in rows} == {"base", "merged"}
    for model in ("base", "merged"):
        mine = {r["metric"]: r for r in rows if r["model"] == model}
        assert mine["harmful compliance (all harmful prompts)"]["n"] == "6"  # 3 Q-Harm + 3 XSTest unsafe
        assert mine["refusals of XSTest's safe prompts"]["n"] == "3"
        assert "answer quality on I-Alpaca (mean score)" in mine
        assert all(float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"]) for r in mine.values())
    page = (tmp_path / "a" / "report" / "report.html").read_text()
    assert "<script" not in page and "merged" in page
    # the two models answered differently (the merged LoRA changed the weights)
    gens = sorted((tmp_path / "a" / "generate").iterdir())
    assert len(gens) == 2 and (gens[0] / "Q-Harm.jsonl").read_text() != (gens[1] / "Q-Harm.jsonl").read_text()
    # resumable: a second call finds every step done and only rewrites the report
    code, out, err = run_cli("audit", cfg, "--out", tmp_path / "a", "--data-dir", shared_data)
    assert code == 0 and "audit base: generate" not in out + err and "report:" in out


def test_audit_bad_config_is_one_line(run_cli, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: x\nmodels: [{name: a, model: smollm2-135m}, {name: a, model: smollm2-135m}]\n")
    code, _, err = run_cli("audit", cfg)
    assert code == 2 and "names must be unique" in err and len(err.strip().splitlines()) == 1
    cfg.write_text("name: x\nmodels: [{name: a, model: no-such-model}]\n")
    code, _, err = run_cli("audit", cfg)
    assert code == 2 and "unknown model 'no-such-model'" in err
