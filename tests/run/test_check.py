"""``safemix run CONFIG --check``: every problem at once, as a table with OK / FAIL and the fix, exit 2 on any FAIL,
and the same checks before any work in ``safemix run`` (no run folder is made). One test per class of FAIL, on real
tiny models and the real data."""

import json
import os
from pathlib import Path

import pytest

BASE = """name: chk
model: {model}
data: {{general: gpteacher-roleplay, n_general: 8, k: [0, 4], leakage: "off"}}
train: {{max_steps: 1, batch_size: 4, micro_batch_size: 4, cutoff_len: 64{train}}}
generate: {{suites: [Q-Harm], limit_per_suite: 2, preset: greedy, max_new_tokens: 4{generate}}}
judges: [xstest-strmatch]
"""


def config(tmp_path: Path, model, train: str = "", generate: str = "", extra: str = "") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(BASE.format(model=model, train=train, generate=generate) + extra)
    return path


def fails(table: str) -> dict[str, str]:
    """{check: the FAIL's line} of a printed table."""
    return {line[6:].split("  ")[0].strip(): line for line in table.splitlines() if line.startswith("FAIL")}


def test_the_miniature_passes_offline(shared_data, run_cli):
    code, table, _ = run_cli("run", "configs/quickstart.yaml", "--check", "--data-dir", shared_data)
    assert code == 0, table
    assert table.strip().endswith("0 FAIL") and "OK    refusal" not in table  # the judges' rows are named, not kinds
    for row in ("model resolves", "tokenizer loads, has EOS and pad", "prompt format renders", "suite xstest",
                "capability task safemix-mini-mc", "judge refusal-clf", "free disk"):
        assert f"OK    {row}" in table, row


def test_every_problem_at_once_and_nothing_made(tiny_model, shared_data, tmp_path, run_cli):
    """An extra not installed (vLLM: before, a job trained for hours and then failed at generate), LoRA targets the
    family does not have (Phi-3's fused attention), lengths beyond the model's context and a too-large N: one table,
    each with its fix; ``safemix run`` stops the same way before making the run folder."""
    cfg = config(tmp_path, tiny_model("phi3"), train=", lora_target_modules: [q_proj, v_proj], cutoff_len: 1024",
                 generate=", backend: vllm").read_text().replace("n_general: 8", "n_general: 99999")
    (tmp_path / "c.yaml").write_text(cfg)
    code, table, _ = run_cli("run", tmp_path / "c.yaml", "--check", "--data-dir", shared_data)
    assert code == 2
    failed = fails(table)
    assert set(failed) == {"extra 'vllm' installed", "LoRA target modules exist", "lengths fit the context",
                           "data set gpteacher-roleplay"}, table
    assert "no modules named ['q_proj', 'v_proj'] in phi3" in failed["LoRA target modules exist"]
    assert "qkv_proj" in failed["LoRA target modules exist"]
    assert "fix: pip install 'safemix[vllm]'" in table and "4 FAIL" in table
    out = tmp_path / "run"
    code, _, err = run_cli("run", tmp_path / "c.yaml", "--out", out, "--data-dir", shared_data)
    assert code == 2 and err.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'c.yaml'}: ")
    assert "'vllm' is not installed" in err and not out.exists()


def test_hub_model_not_in_the_cache_offline(shared_data, tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    code, table, _ = run_cli("run", config(tmp_path, "org/not-cached"), "--check", "--data-dir", shared_data)
    assert code == 2 and "Hub revisions resolve" in fails(table) and "safemix prefetch" in table


def test_hub_model_in_a_local_cache_passes_offline(tiny_model, shared_data, tmp_path, monkeypatch, run_cli):
    import shutil

    snap = tmp_path / "hub" / "models--org--tiny" / "snapshots" / ("a" * 40)
    shutil.copytree(tiny_model("qwen3"), snap)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    code, table, _ = run_cli("run", config(tmp_path, "org/tiny", train=", prompt_format: chat"), "--check",
                             "--data-dir", shared_data)
    assert code == 0, table
    assert "OK    org/tiny pinned" in table and "a" * 40 in table and "qwen3" in table


def test_chat_format_without_a_chat_template(tiny_model, shared_data, tmp_path, run_cli):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_model("gemma2"), folder)
    tc = folder / "tokenizer_config.json"
    doc = json.loads(tc.read_text())
    doc.pop("chat_template", None)
    tc.write_text(json.dumps(doc))
    for f in folder.glob("chat_template.*"):
        f.unlink()
    code, table, _ = run_cli("run", config(tmp_path, folder, train=", prompt_format: chat"), "--check",
                             "--data-dir", shared_data)
    assert code == 2 and set(fails(table)) == {"prompt format renders"}, table
    assert "needs a tokenizer with a chat template" in table


def test_empty_suite_and_unreachable_judge_data(tmp_path, run_cli):
    """No data folder (and offline): refusal-clf's training sets and the registry data cannot be reached; an empty
    prompts file is a suite with no prompts."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cfg = config(tmp_path, "smollm2-135m").read_text().replace("suites: [Q-Harm]", f"suites: [{empty}]")
    cfg = cfg.replace("judges: [xstest-strmatch]", "judges: [xstest-strmatch, refusal-clf]")
    (tmp_path / "c.yaml").write_text(cfg)
    code, table, _ = run_cli("run", tmp_path / "c.yaml", "--check")
    failed = fails(table)
    assert code == 2 and {"suite empty", "judge refusal-clf", "data set gpteacher-roleplay"} <= set(failed), table
    assert "OK    judge xstest-strmatch" in table


def test_disk_estimate_above_free_space(tmp_path):
    """A full fine-tuning of a model whose weights are larger than the disk (a sparse file: no space used)."""
    from safemix.config import RunConfig
    from safemix.run.check import estimate_bytes, machine_checks

    folder = tmp_path / "m"
    folder.mkdir()
    with open(folder / "model.safetensors", "wb") as f:
        f.truncate(1 << 43)  # 8 TiB apparent size
    cfg = RunConfig(name="x", model="smollm2-135m", data={"general": "g", "safety": "s", "n_general": 1, "k": [0, 1]},
                    train={"method": "full"})
    assert estimate_bytes(cfg, folder) > 8 * (1 << 43)
    row = next(r for r in machine_checks(cfg, tmp_path / "run", folder) if r.what == "free disk")
    assert not row.ok and "the run may write about" in row.detail


def test_limits_refused_up_front(tmp_path, run_cli):
    """Before: --max-new-tokens 1000000000 died with a traceback allocating 768 GB."""
    cfg = config(tmp_path, "smollm2-135m", generate=", max_new_tokens: 1000000000")
    code, _, err = run_cli("run", cfg, "--check")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "generate.max_new_tokens" in err
    code, _, err = run_cli("generate", "--model", "smollm2-135m", "--suites", "q-harm", "--out", tmp_path / "g",
                           "--max-new-tokens", "1000000000")
    assert code == 2 and "--max-new-tokens: Input should be less than or equal to 131072" in err and not (tmp_path / "g").exists()
    cfg = config(tmp_path, "smollm2-135m", train=", micro_batch_size: 100000000, batch_size: 100000000")
    code, _, err = run_cli("run", cfg, "--check")
    assert code == 2 and "train.micro_batch_size" in err


@pytest.mark.slow
def test_capability_task_not_in_the_harness(shared_data, tmp_path, run_cli):
    """Before: 'piqaa' passed preflight and failed hours later at the capability step."""
    cfg = config(tmp_path, "smollm2-135m", extra="capability: {tasks: [safemix-mini-mc, piqaa]}\n")
    code, table, _ = run_cli("run", cfg, "--check", "--data-dir", shared_data)
    assert code == 2 and set(fails(table)) == {"capability tasks exist in lm-eval"}, table
    assert "piqaa (did you mean piqa?)" in table


def test_tokenizer_without_an_eos_token(tiny_model, shared_data, tmp_path, run_cli):
    """Training ends each example with EOS and batched generation pads with it: a tokenizer without one is a FAIL."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_model("mistral"), folder)
    tc = folder / "tokenizer_config.json"
    doc = json.loads(tc.read_text())
    doc["eos_token"] = doc["pad_token"] = None
    tc.write_text(json.dumps(doc))
    code, table, _ = run_cli("run", config(tmp_path, folder), "--check", "--data-dir", shared_data)
    assert code == 2 and set(fails(table)) == {"tokenizer loads, has EOS and pad"}, table
    assert "has no EOS token" in table


@pytest.mark.slow
def test_every_shipped_config_prints_its_table(shared_data, run_cli):
    """The CPU configs pass offline; the paper's GPU config (a Hub model, vLLM, lm-eval's PIQA/BoolQ/OpenBookQA) prints
    its table too, and fails here on what this machine lacks: the Hub model not in the cache, and vLLM."""
    from safemix.config import load_run_config

    root = Path(__file__).resolve().parents[2] / "configs"
    seen = set()
    for path in sorted(root.glob("*.yaml")):
        try:
            load_run_config(path)
        except Exception:
            continue  # an audit config
        code, table, err = run_cli("run", path, "--check", "--data-dir", shared_data)
        assert table.strip().splitlines()[-1].endswith("FAIL") and "Traceback" not in err and "error:" not in err, err
        seen.add(path.name)
        if path.name == "paper.yaml":
            failed = fails(table)
            assert code == 2 and "Hub revisions resolve" in failed and "extra 'vllm' installed" in failed, table
        else:
            assert code == 0, (path.name, table)
    assert {"quickstart.yaml", "paper.yaml", "cpu-gemma.yaml", "cpu-dpo.yaml", "cpu-paper.yaml"} <= seen


def test_memory_plan_refuses_a_stage_that_cannot_fit(shared_data, tmp_path, monkeypatch, run_cli):
    """Each stage's estimate against the device (here the limit a job would have): a FAIL names the stage and sizes."""
    cfg = config(tmp_path, "smollm2-135m", train=", micro_batch_size: 4", generate=", batch_size: 8")
    code, table, _ = run_cli("run", cfg, "--check", "--data-dir", shared_data)
    assert code == 0 and "OK    memory plan fits" in table
    monkeypatch.setenv("SAFEMIX_MEMORY_LIMIT", "1G")
    code, table, _ = run_cli("run", cfg, "--check", "--data-dir", shared_data)
    assert code == 2 and set(fails(table)) == {"memory plan fits"}, table
    assert "needs about" in table and "SAFEMIX_MEMORY_LIMIT has 1.0 GB" in table
    big = config(tmp_path, "smollm2-135m", train=", micro_batch_size: 4096, batch_size: 4096, cutoff_len: 8192")
    monkeypatch.delenv("SAFEMIX_MEMORY_LIMIT")
    code, table, _ = run_cli("run", big, "--check", "--data-dir", shared_data)
    assert code == 2 and "train needs about" in fails(table)["memory plan fits"]
