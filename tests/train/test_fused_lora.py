import pytest
import torch
from torch import nn

from safemix.models.cpu_matmul import onednn_linear_available
from safemix.train.dropout import use_word_dropout
from safemix.train.fused_lora import FusedLoRA, fused_lora


def _peft(model: nn.Module, dropout: float, targets: list[str], words: bool = True, r: int = 4):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=dropout, target_modules=targets))
    if words:
        use_word_dropout(peft_model)
    for name, p in peft_model.named_parameters():  # LoRA's B starts at zero: give it values so its path counts
        if "lora_B" in name:
            nn.init.normal_(p, std=0.05)
    return peft_model


def _loss_and_grads(model, batch: dict, seed: int):
    torch.manual_seed(seed)
    loss = model(**batch).logits.float().logsumexp(-1).mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return loss.detach(), grads


@pytest.fixture(scope="module")
def lora_model(smollm):
    from safemix.models import load_causal_lm

    ref, tok = smollm
    model = _peft(load_causal_lm(ref), 0.1, ["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"])
    batch = tok(["Tell me how to bake bread at home.", "What is the capital of France? Answer briefly please."],
                return_tensors="pt", padding=True)
    return model, dict(batch)


def test_fused_layers_give_peft_values_and_gradients_with_the_same_masks(lora_model):
    model, batch = lora_model
    model.train()
    n_layers = 5 * model.config.num_hidden_layers
    loss_peft, grads_peft = _loss_and_grads(model, batch, seed=3)
    with fused_lora(model) as switched:
        assert switched == n_layers
        loss_fused, grads_fused = _loss_and_grads(model, batch, seed=3)
        loss_other_seed, _ = _loss_and_grads(model, batch, seed=4)
    assert grads_fused.keys() == grads_peft.keys() and len(grads_fused) == 2 * n_layers  # A and B of every layer
    assert torch.allclose(loss_fused, loss_peft, rtol=1e-5)
    for name, g in grads_peft.items():
        assert torch.allclose(grads_fused[name], g, rtol=1e-3, atol=1e-5 * g.abs().max()), name
    assert not torch.allclose(loss_other_seed, loss_fused, rtol=1e-6)  # the masks are drawn, not fixed
    # afterwards the layers are PEFT's again
    assert not any("forward" in vars(m) for m in model.modules())
    assert torch.equal(_loss_and_grads(model, batch, seed=3)[0], loss_peft)


def test_eval_mode_and_no_grad_use_no_dropout(lora_model):
    model, batch = lora_model
    model.eval()
    with torch.no_grad():
        expected = model(**batch).logits
        with fused_lora(model):
            got = model(**batch).logits
    model.train()
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_layers_it_cannot_fuse_run_peft_forward_unchanged(smollm):
    from safemix.models import load_causal_lm

    ref, tok = smollm
    # PEFT's own nn.Dropout masks (dropout_masks: torch) are not fused: the values are PEFT's, bit for bit
    model = _peft(load_causal_lm(ref), 0.1, ["q_proj"], words=False)
    model.train()
    batch = dict(tok(["Hello there, how are you?"], return_tensors="pt"))
    loss, grads = _loss_and_grads(model, batch, seed=5)
    with fused_lora(model) as switched:
        assert switched == model.config.num_hidden_layers  # switched, but each call falls back
        loss2, grads2 = _loss_and_grads(model, batch, seed=5)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast: PEFT's forward too
            model(**batch)
    assert torch.equal(loss, loss2) and all(torch.equal(grads[n], grads2[n]) for n in grads)
    with fused_lora(model, enabled=False) as switched:
        assert switched == 0


@pytest.mark.parametrize("onednn", [False, pytest.param(True, marks=pytest.mark.skipif(
    not onednn_linear_available(), reason="this PyTorch has no oneDNN linear op"))])
def test_the_function_is_lora_arithmetic(onednn):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 8, generator=gen, requires_grad=True)
    w, b = torch.randn(5, 8, generator=gen), torch.randn(5, generator=gen)
    a = torch.randn(2, 8, generator=gen, requires_grad=True)
    bb = torch.randn(5, 2, generator=gen, requires_grad=True)
    y = FusedLoRA.apply(x, w, b, a, bb, 0.5, 0.0, onednn)
    expected = x @ w.t() + b + 0.5 * (x @ a.t()) @ bb.t()
    assert torch.allclose(y, expected, atol=1e-5)
    g = torch.randn(6, 5, generator=gen)
    got = torch.autograd.grad(y, (x, a, bb), g)
    want = torch.autograd.grad(expected, (x, a, bb), g)
    for u, v in zip(got, want):
        assert torch.allclose(u, v, atol=1e-5)


def test_fused_layers_read_the_base_weights_packed_by_onednn_linears(lora_model):
    from safemix.models.cpu_matmul import onednn_linears, onednn_packing_available

    if not onednn_packing_available():
        pytest.skip("this PyTorch cannot pack weights for oneDNN")
    model, batch = lora_model
    model.train()
    with onednn_linears(model), fused_lora(model):
        loss, grads = _loss_and_grads(model, batch, seed=6)
    with onednn_linears(model, packed_frozen=True), fused_lora(model):
        assert any("_onednn_packed_t" in vars(m.base_layer) for m in model.modules() if hasattr(m, "base_layer"))
        loss_packed, grads_packed = _loss_and_grads(model, batch, seed=6)
    assert torch.equal(loss, loss_packed) and all(torch.equal(grads[n], grads_packed[n]) for n in grads)


def _onednn_calls(fn) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sum(e.count for e in prof.key_averages() if "linear_pointwise" in e.key)


def test_onednn_off_keeps_the_fused_layers_on_pytorchs_products(lora_model):
    if not onednn_linear_available():
        pytest.skip("this PyTorch has no oneDNN linear op: the fused layers use PyTorch's products anyway")
    model, batch = lora_model
    model.train()
    loss_peft, grads_peft = _loss_and_grads(model, batch, seed=8)
    with fused_lora(model, onednn=False):
        assert _onednn_calls(lambda: _loss_and_grads(model, batch, seed=8)) == 0
        loss, grads = _loss_and_grads(model, batch, seed=8)
    with fused_lora(model):
        assert _onednn_calls(lambda: _loss_and_grads(model, batch, seed=8)) > 0
    assert torch.allclose(loss, loss_peft, rtol=1e-5)
    for name, g in grads_peft.items():
        assert torch.allclose(grads[name], g, rtol=1e-3, atol=1e-5 * g.abs().max()), name
