"""Every common architecture family through the whole sweep, with its default LoRA targets: tiny random-weight
checkpoints built offline (conftest.build_tiny) for Llama, Mistral, Qwen2, Qwen3, Gemma2, Gemma3 and Phi-3, each
with a chat template in its family's format, through data -> training (LoRA with the family's default targets,
and full) -> merge -> batched generation -> judges -> report. Phi-3's attention is one fused ``qkv_proj``: with
the old fixed default (q_proj, v_proj) it failed at once."""

import csv
from pathlib import Path

import pytest

from safemix.models.families import default_targets, lora_targets

FAMILIES = ["llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3"]

SWEEP = """name: tiny-{family}-{method}
model: {model}
data: {{general: gpteacher-roleplay, n_general: 8, k: [0, 4], leakage: "off"}}
train: {{method: {method}, prompt_format: {fmt}, max_steps: 2, batch_size: 4, micro_batch_size: 4, cutoff_len: 160,
        learning_rate: 1.0e-3, progress: false}}
generate: {{suites: [Q-Harm, xstest], limit_per_suite: 2, preset: greedy, max_new_tokens: 6, batch_size: 8}}
judges: [xstest-strmatch, refusal-clf]
"""


def test_default_targets_by_family():
    assert default_targets("llama") == ["q_proj", "v_proj"]  # the paper's
    assert default_targets("phi3") == ["qkv_proj"]  # fused attention: PEFT's table lacks it
    assert default_targets("no-such-family") is None


def test_every_family_has_its_default_targets(tiny_model):
    from safemix.run.check import _meta_model

    for family in FAMILIES:
        folder = tiny_model(family)
        _, model = _meta_model(folder, False)
        names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        targets = lora_targets(str(folder), None)
        assert targets and set(targets) <= names, (family, targets)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method,fmt", [("lora", "chat"), ("full", "alpaca")])
def test_family_runs_the_whole_sweep(family, method, fmt, tiny_model, shared_data, tmp_path, run_cli):
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(SWEEP.format(family=family, method=method, fmt=fmt, model=tiny_model(family)))
    out = tmp_path / "run"
    code, _, err = run_cli("run", cfg, "--out", out, "--data-dir", shared_data)
    assert code == 0, err
    with open(out / "report" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["k"] for r in rows} == {"0", "4"}
    assert {r["judge"] for r in rows} >= {"xstest-strmatch", "refusal-clf"}
    if method == "lora":  # the adapter adapts the family's default layers
        import json

        adapter = next((out / "train").glob("*/adapter/adapter_config.json"))
        assert sorted(json.loads(adapter.read_text())["target_modules"]) == sorted(lora_targets(family_folder(cfg), None))


def family_folder(cfg: Path) -> str:
    import yaml

    return yaml.safe_load(cfg.read_text())["model"]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_family_batched_generation_equals_one_at_a_time(family, tiny_model):
    from safemix.formats import get_format
    from safemix.generate.hf import HFBackend
    from safemix.generate.presets import get_decoding
    from safemix.models import load_causal_lm, load_tokenizer, resolve_model

    ref = resolve_model(str(tiny_model(family)))
    tok = load_tokenizer(ref)
    fmt = get_format("chat", tok)
    be = HFBackend(load_causal_lm(ref), tok, fmt)
    texts = [fmt.render(x, tokenizer=tok) for x in ("Hi.", "Name a fruit.", "Explain how a bicycle's gears change "
                                                    "the effort needed to climb a hill.", "Write a haiku.")]
    d = get_decoding("greedy", 8)
    batched = be.generate(texts, d)
    single = [be.generate([t], d)[0] for t in texts]
    assert [c.output_tokens for c in batched] == [c.output_tokens for c in single]
    assert [c.text for c in batched] == [c.text for c in single]


def test_full_fine_tuning_needs_no_lora_default(tmp_path):
    """A family neither table knows: LoRA asks for targets in one line; full fine-tuning, which adapts no layer,
    plans without them (the key then names none)."""
    from safemix.config import RunConfig
    from safemix.errors import SafemixError
    from safemix.run.stages import STAGES

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "no-such-family"}')
    (folder / "model.safetensors").write_bytes(b"")
    data = {"general": "gpteacher-roleplay", "safety": "safety-tuned-llamas", "n_general": 4, "k": [0]}
    full = RunConfig(name="x", model=str(folder), data=data, train={"method": "full"})
    assert STAGES["train"].key_parts(full, 0, 1)[0]["lora_target_modules"] is None
    lora = RunConfig(name="x", model=str(folder), data=data)
    with pytest.raises(SafemixError, match="no default LoRA target modules for this family"):
        STAGES["train"].key_parts(lora, 0, 1)
