import json

import numpy as np
import pytest
import torch

import safemix.models.cpu_matmul as cm
from safemix.generate import get_decoding, load_backend
from safemix.generate.hf import HFBackend
from safemix.train import TrainConfig, train
from safemix.train.recipe import SFTRecipe

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this PyTorch has no oneDNN")


@pytest.fixture
def onednn_calls(monkeypatch) -> list[tuple]:
    """Every call of oneDNN's linear op through safemix (shapes of input and weight), the real op still run."""
    calls, real = [], cm.onednn_linear

    def spy(x, weight, bias):
        calls.append((tuple(x.shape), tuple(weight.shape)))
        return real(x, weight, bias)

    monkeypatch.setattr(cm, "onednn_linear", spy)
    return calls


def test_frozen_linears_run_through_onednn_with_the_same_values_and_input_gradients(onednn_calls):
    assert cm.onednn_linear_available()
    torch.manual_seed(0)
    frozen, trainable = torch.nn.Linear(64, 48), torch.nn.Linear(48, 8)
    frozen.requires_grad_(False)
    model = torch.nn.Sequential(frozen, trainable)
    x = torch.randn(2, 5, 64, requires_grad=True)
    want = model(x)
    want.square().sum().backward()
    want_x, want_w = x.grad.clone(), trainable.weight.grad.clone()
    x.grad, trainable.weight.grad = None, None
    with cm.onednn_linears(model) as n:
        assert n == 2 and "forward" in vars(frozen)
        got = model(x)
        got.square().sum().backward()
    assert "forward" not in vars(frozen) and "forward" not in vars(trainable)  # as before afterwards
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, want_x, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(trainable.weight.grad, want_w, rtol=1e-5, atol=1e-5)  # trainable: F.linear
    assert frozen.weight.grad is None
    # forward of the frozen layer, then its input gradient (64 <- 48: the transposed weight)
    assert onednn_calls == [((2, 5, 64), (48, 64)), ((2, 5, 48), (64, 48))]


def test_nothing_changes_when_off_or_not_fp32(onednn_calls):
    lin = torch.nn.Linear(16, 4)
    with cm.onednn_linears(lin, enabled=False) as n:
        lin(torch.randn(3, 16))
    assert n == 0
    with cm.onednn_linears(lin.to(torch.bfloat16)) as n:
        lin(torch.randn(3, 16, dtype=torch.bfloat16))
    assert n == 0 and onednn_calls == []
    with cm.onednn_linears(lin.float()), torch.autocast("cpu", dtype=torch.bfloat16):
        assert lin(torch.randn(3, 16)).dtype == torch.bfloat16  # autocast keeps its own product
    assert onednn_calls == []


def test_generation_runs_its_linears_through_onednn_with_the_same_answers(smollm, onednn_calls, monkeypatch):
    assert HFBackend.cpu_onednn is True
    be, _, fmt = load_backend("smollm2-135m", None, "alpaca", False)
    prompts = [fmt.render(p, "") for p in ("Name a colour.", "How do I kill a Python process?", "Write a haiku about rain.")]
    answers = {}
    for on in (True, False):
        monkeypatch.setattr(HFBackend, "cpu_onednn", on)
        answers[on] = [(c.text, c.output_tokens) for preset in ("greedy", "paper")
                       for c in be.generate(prompts, get_decoding(preset, 12))]
        assert bool(onednn_calls) == on
        onednn_calls.clear()
    assert answers[True] == answers[False]
    assert all("forward" not in vars(m) for m in be.model.modules())


@pytest.mark.slow
def test_lora_training_runs_its_frozen_base_through_onednn(smollm, mixture_file, tmp_path, onednn_calls, monkeypatch):
    """Forward and input gradients of the frozen base (and the vocabulary projection) go through oneDNN; the
    loss is the one MKL's products give, to float rounding."""
    assert SFTRecipe.cpu_onednn is True
    cfg = TrainConfig(max_steps=2, batch_size=4, micro_batch_size=2, cutoff_len=64, progress=False, val_size=0)
    losses = {}
    for on in (True, False):
        monkeypatch.setattr(SFTRecipe, "cpu_onednn", on)
        train(cfg, mixture_file, tmp_path / f"out-{on}")
        rows = [json.loads(line) for line in (tmp_path / f"out-{on}" / "train_log.jsonl").read_text().splitlines()]
        losses[on] = [r["loss"] for r in rows if "loss" in r]
        shapes = {w for _, w in onednn_calls}
        if on:
            assert (49152, 576) in shapes and (576, 49152) in shapes  # vocabulary projection and its input gradient
            assert (576, 576) in shapes and (576, 1536) in shapes  # the frozen base, forward and backward
        else:
            assert not onednn_calls
        onednn_calls.clear()
    assert len(losses[True]) == 2
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)


def test_sentence_encoder_runs_through_onednn_with_the_same_embeddings(onednn_calls, monkeypatch):
    from safemix.models.encoder import get_encoder

    enc = get_encoder()
    texts = ["How do I kill a Python process?", "Where can I buy a can of coke?", "I cannot help with that."]
    got = enc.encode(texts)
    assert onednn_calls
    monkeypatch.setattr(cm, "onednn_linear_available", lambda: False)  # MKL's products
    np.testing.assert_allclose(got, enc.encode(texts), atol=1e-5)


@pytest.mark.slow
def test_capability_scoring_runs_through_onednn_with_the_same_scores(smollm, onednn_calls, tmp_path, monkeypatch):
    from safemix.capability import evaluate_capability

    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(x) + "\n" for x in (
        {"question": "What color is a ripe banana?", "choices": ["yellow", "blue", "black"], "answer": 0},
        {"question": "Where do fish live?", "choices": ["in trees", "in water", "in the sky"], "answer": 1})))
    on = evaluate_capability(f"toy={items}", tmp_path / "on.json", model="smollm2-135m", batch_size=4)
    assert onednn_calls
    monkeypatch.setattr(cm, "onednn_linear_available", lambda: False)
    off = evaluate_capability(f"toy={items}", tmp_path / "off.json", model="smollm2-135m", batch_size=4)
    assert on["tasks"]["toy"]["acc"] == off["tasks"]["toy"]["acc"]
    assert on["tasks"]["toy"]["acc_norm"] == off["tasks"]["toy"]["acc_norm"]


def test_packed_weights_give_the_same_values_and_gradients():
    """Inference with every weight packed, and training with the frozen layers' W and W^T packed: bit for bit the
    plain oneDNN products; a tied weight is packed once, a trainable one never; afterwards the copies are gone."""
    assert cm.onednn_packing_available()
    torch.manual_seed(0)
    frozen, tied, trainable = torch.nn.Linear(64, 48), torch.nn.Linear(48, 64, bias=False), torch.nn.Linear(64, 8)
    again = torch.nn.Linear(48, 64, bias=False)
    again.weight = tied.weight  # tied, like a vocabulary projection and its embedding
    model = torch.nn.Sequential(frozen, tied, torch.nn.Tanh(), frozen.__class__(64, 48), again, trainable)
    x = torch.randn(3, 7, 64, requires_grad=True)
    with torch.inference_mode(), cm.onednn_linears(model):
        want = model(x)
    with torch.inference_mode(), cm.onednn_linears(model, packed=True):
        assert tied._onednn_packed is again._onednn_packed and tied._onednn_packed.is_mkldnn
        got = model(x)
    assert torch.equal(got, want)
    assert all("_onednn_packed" not in vars(m) for m in model.modules())

    for m in model[:5]:
        m.requires_grad_(False)
    grads = {}
    for packed in (False, True):
        x.grad, trainable.weight.grad = None, None
        with cm.onednn_linears(model, packed_frozen=packed):
            assert ("_onednn_packed_t" in vars(frozen)) == packed and "_onednn_packed" not in vars(trainable)
            model(x).square().sum().backward()
        grads[packed] = (x.grad.clone(), trainable.weight.grad.clone())
    assert torch.equal(grads[True][0], grads[False][0]) and torch.equal(grads[True][1], grads[False][1])


def test_generation_reads_packed_weights_with_the_same_answers(smollm, monkeypatch):
    assert HFBackend.cpu_packed_weights is True
    be, _, fmt = load_backend("smollm2-135m", None, "alpaca", False)
    prompts = [fmt.render(p, "") for p in ("Name a colour.", "How do I kill a Python process?", "Write a haiku about rain.")]
    seen, real = [], cm.onednn_linear
    monkeypatch.setattr(cm, "onednn_linear", lambda x, w, b: seen.append(w.is_mkldnn) or real(x, w, b))
    answers = {}
    for on in (True, False):
        monkeypatch.setattr(HFBackend, "cpu_packed_weights", on)
        answers[on] = [(c.text, c.output_tokens) for c in be.generate(prompts, get_decoding("greedy", 12))]
        assert seen and all(p == on for p in seen)  # every product read a packed weight, or none did
        seen.clear()
    assert answers[True] == answers[False]
    assert all("_onednn_packed" not in vars(m) for m in be.model.modules())


def test_nothing_is_packed_above_the_size_limit(monkeypatch):
    lin = torch.nn.Linear(64, 48)
    with cm.onednn_linears(lin, packed=True):
        assert "_onednn_packed" in vars(lin)
    monkeypatch.setattr(cm, "PACK_MAX_BYTES", lin.weight.numel() * 4 - 1)  # one byte short of the weight
    with torch.inference_mode(), cm.onednn_linears(lin, packed=True, packed_frozen=True) as n:
        assert n == 1 and "_onednn_packed" not in vars(lin)  # still through oneDNN, from the weight as it is
        torch.testing.assert_close(lin(torch.ones(2, 64)), torch.nn.functional.linear(torch.ones(2, 64), lin.weight, lin.bias))
