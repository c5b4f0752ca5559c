"""Attention of one new token against the KV cache, on the CPU, as two batched products.

At a decoding step each row's query is one token; PyTorch's CPU attention kernel (``scaled_dot_product_attention``,
its flash kernel) then runs one tiny product per row and key/value head. At 193 rows of SmolLM2-135M (3 key/value
heads, 80 cached positions) that took 2.2 ms per layer, 72 ms of a 289 ms step, where reading the cached keys
and values takes ~0.6 ms. Here the query heads that share a key/value head form one small matrix, and the
scores and the weighted values are two ``matmul`` calls over all rows (~0.9 ms per layer); the KV cache of
:mod:`safemix.generate.kvcache` keeps the keys transposed so that the first product reads them in place.

Same arithmetic in another order (scores = (q k^T) x scale, masked, softmax, times v): results differ from the
flash kernel's in the last bits. The attention is registered with transformers under :data:`NAME`
(``attn_implementation``) and used by :func:`decoding_attention` while generating; every other call (a prompt
pass, a GPU, dropout, soft-capping, attention sinks) goes to transformers' own ``sdpa`` function.
"""

from __future__ import annotations

import contextlib
import functools

import torch

NAME = "safemix_decode"


def decode_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """transformers' attention signature: query (B, Hq, T, D), key/value (B, Hkv, L, D) -> ((B, T, Hq, D), None)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if (query.shape[2] != 1 or query.device.type != "cpu" or dropout or kwargs.get("softcap") is not None
            or kwargs.get("s_aux") is not None or kwargs.get("sinks") is not None or kwargs.get("position_bias") is not None
            or query.shape[-1] != value.shape[-1] or query.shape[1] % key.shape[1]
            or (attention_mask is not None and attention_mask.shape[-1] != key.shape[-2])):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    b, hq, _, d = query.shape
    hkv = key.shape[1]
    q = query.reshape(b, hkv, hq // hkv, d)  # the query heads that share a key/value head
    scores = torch.matmul(q, key.transpose(-1, -2))  # (B, Hkv, G, L); reads a transposed cache in place
    scores.mul_(d ** -0.5 if scaling is None else scaling)
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:  # (B, 1, 1, L): True where a row may attend
            scores.masked_fill_(~attention_mask, float("-inf"))
        else:  # additive: 0 where a row may attend
            scores.add_(attention_mask)
    out = torch.matmul(scores.softmax(-1), value)  # (B, Hkv, G, D)
    return out.reshape(b, 1, hq, d), None


@functools.cache
def register() -> str:
    """Register :func:`decode_attention` (with transformers' sdpa masks) under :data:`NAME`; returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, decode_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME


def in_use(model: torch.nn.Module) -> bool:
    """True while :func:`decoding_attention` has the model decode with :func:`decode_attention`."""
    return any(getattr(c, "_attn_implementation", None) == NAME for c in _configs(model))


@contextlib.contextmanager
def decoding_attention(model: torch.nn.Module, enabled: bool = True):
    """Within the context a CPU model whose attention is transformers' ``sdpa`` decodes with
    :func:`decode_attention`; yields whether it does. Afterwards the model is as before."""
    configs = [c for c in _configs(model) if getattr(c, "_attn_implementation", None) == "sdpa"]
    on = bool(enabled and configs and next(model.parameters()).device.type == "cpu")
    if on:
        register()
        for c in configs:
            c._attn_implementation = NAME
    try:
        yield on
    finally:
        if on:
            for c in configs:
                c._attn_implementation = "sdpa"


def _configs(model: torch.nn.Module) -> list:
    """The model's config and its sub-configs (a multimodal model's text config), each once."""
    seen: dict[int, object] = {}
    for m in model.modules():
        top = getattr(m, "config", None)
        for c in (top, getattr(top, "text_config", None)):
            if c is not None:
                seen.setdefault(id(c), c)
    return list(seen.values())
