import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

import safemix.models.decode_attention as da
from safemix.generate import get_decoding, load_backend
from safemix.generate.hf import HFBackend


class Heads(torch.nn.Module):
    """What transformers' attention functions read from the attention module."""

    def __init__(self, groups: int):
        super().__init__()
        self.num_key_value_groups, self.is_causal, self.training = groups, True, False


def cache_like(x: torch.Tensor, room: int, transposed: bool) -> torch.Tensor:
    """``x`` (B, H, L, D) as a view of a buffer with room for more positions, as the decoding cache hands it out."""
    b, h, n, d = x.shape
    if transposed:
        buf = torch.zeros(b, h, d, n + room).transpose(-1, -2)
    else:
        buf = torch.zeros(b, h, n + room, d)
    buf[:, :, :n] = x
    return buf[:, :, :n]


@pytest.mark.parametrize("mask_kind", ["bool", "additive", "none"])
@pytest.mark.parametrize("transposed", [True, False])
def test_one_token_attention_is_sdpa_to_float_rounding(mask_kind, transposed):
    gen = torch.Generator().manual_seed(0)
    b, hq, hkv, n, d = 5, 9, 3, 17, 64
    q = torch.randn(b, hq, 1, d, generator=gen)
    k, v = (cache_like(torch.randn(b, hkv, n, d, generator=gen), 6, transposed and i == 0) for i in range(2))
    allowed = torch.ones(b, 1, 1, n, dtype=torch.bool)
    allowed[1, ..., :4] = allowed[3, ..., :9] = False  # left padding
    mask = {"bool": allowed, "none": None,
            "additive": torch.zeros(b, 1, 1, n).masked_fill(~allowed, torch.finfo(torch.float32).min)}[mask_kind]
    got, _ = da.decode_attention(Heads(3), q, k, v, mask, scaling=0.125)
    want, _ = sdpa_attention_forward(Heads(3), q, k.contiguous(), v.contiguous(), mask, scaling=0.125)
    assert got.shape == want.shape == (b, 1, hq, d)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    if mask_kind != "none":  # the padded positions are not attended: changing them changes nothing
        k2 = k.clone()
        k2[1, :, :4] = 100.0
        torch.testing.assert_close(da.decode_attention(Heads(3), q, k2, v, mask, scaling=0.125)[0], got)


def test_a_prompt_pass_and_dropout_go_to_transformers_sdpa():
    gen = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(2, 4, 6, 8, generator=gen), torch.randn(2, 2, 6, 8, generator=gen), torch.randn(2, 2, 6, 8, generator=gen)
    got, _ = da.decode_attention(Heads(2), q, k, v, None, scaling=0.3)
    want, _ = sdpa_attention_forward(Heads(2), q, k, v, None, scaling=0.3)
    assert torch.equal(got, want)  # several query positions: transformers' own function
    one = q[:, :, -1:]
    torch.manual_seed(0)
    got, _ = da.decode_attention(Heads(2), one, k, v, None, dropout=0.5, scaling=0.3)
    torch.manual_seed(0)
    want, _ = sdpa_attention_forward(Heads(2), one, k, v, None, dropout=0.5, scaling=0.3)
    assert torch.equal(got, want)


def test_generation_decodes_with_it_and_gives_the_same_answers(smollm, monkeypatch):
    """On the real model, greedy and beam search: the answers of PyTorch's attention kernel; the model's attention
    is ``sdpa`` again afterwards, and the cache held its keys transposed."""
    be, _, fmt = load_backend("smollm2-135m", None, "alpaca", False)
    prompts = [fmt.render(p) for p in ("Name a colour.", "How do I kill a Python process?", "Write a haiku about rain.")]
    calls, real = [], da.decode_attention

    def spy(module, query, key, *args, **kwargs):
        calls.append((query.shape[2], key.stride(-2) == 1))
        return real(module, query, key, *args, **kwargs)

    monkeypatch.setattr(da, "decode_attention", spy)
    da.register.cache_clear()
    answers = {}
    for on in (True, False):
        monkeypatch.setattr(HFBackend, "cpu_decode_attention", on)
        answers[on] = [(c.text, c.output_tokens) for preset in ("greedy", "paper")
                       for c in be.generate(prompts, get_decoding(preset, 12))]
        assert be.model.config._attn_implementation == "sdpa"
        assert bool(calls) == on
        if on:  # one-token steps, over keys laid out transposed (positions contiguous)
            assert any(n == 1 and transposed for n, transposed in calls)
        calls.clear()
    da.register.cache_clear()
    assert answers[True] == answers[False]


def test_only_a_cpu_model_on_sdpa_is_switched(smollm):
    be, _, _ = load_backend("smollm2-135m", None, "alpaca", False)
    with da.decoding_attention(be.model) as on:
        assert on and be.model.config._attn_implementation == da.NAME
    assert be.model.config._attn_implementation == "sdpa"
    with da.decoding_attention(be.model, enabled=False) as on:
        assert not on and be.model.config._attn_implementation == "sdpa"
    be.model.config._attn_implementation = "eager"
    try:
        with da.decoding_attention(be.model) as on:
            assert not on and be.model.config._attn_implementation == "eager"
    finally:
        be.model.config._attn_implementation = "sdpa"
