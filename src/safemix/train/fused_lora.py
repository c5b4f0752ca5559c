"""LoRA layers as one autograd function on the CPU (training).

PEFT computes a LoRA layer as ``base(x) + B(A(dropout(x))) * scaling``: with dropout, every layer makes a
dropped copy of its input, scales it, multiplies it by A and B, scales the (rows x out) result and adds it
to the base's output, and the backward runs a pass for each of those again; autograd keeps a tensor for
each. :class:`FusedLoRA` does the same arithmetic with fewer passes over the activations:

- forward: ``y = x W^T`` (oneDNN, the frozen base), ``h = (x times the 0/1 keep mask) A^T``, and
  ``y += s h B^T`` in one product that accumulates into ``y`` (``s = scaling / (1 - p)``: dropout's scale
  moves onto the r-wide ``h`` side);
- backward: ``gx = gy W`` (oneDNN), ``gh = s gy B``, ``gB = s gy^T h``, ``gA = gh^T x_dropped`` and
  ``gx += (gh A)`` times the keep mask.

The masks are :mod:`safemix.train.dropout`'s, drawn in the same order from the same generator, so an
adapter trained either way is the same up to rounding (the scale is applied at another point, products
sum in another order: relative differences of about 1e-6; tested). Only plain LoRA layers are fused: one
active adapter, no DoRA or other variant, fp32 on the CPU outside autocast, dropout ``WordDropout`` or
none. Any other layer or call runs PEFT's own forward. Where :func:`safemix.models.cpu_matmul.onednn_linears` has
packed the base's weights, the base's products read the packed copies. The products run through oneDNN where it
answers, unless ``fused_lora(..., onednn=False)`` (then PyTorch's own products, as with
``SFTRecipe.cpu_onednn = False``).
"""

from __future__ import annotations

import contextlib
import functools
import types

import torch
from torch import nn

from ..models.cpu_matmul import onednn_linear, onednn_linear_available
from .dropout import WordDropout, keep_mask


def _mm(a: torch.Tensor, b: torch.Tensor, onednn: bool) -> torch.Tensor:
    """``a @ b`` through oneDNN when ``onednn`` (1.4-3x faster than MKL's at LoRA's skinny shapes on the
    development machine, transposed operands included), else PyTorch's product."""
    return onednn_linear(a, b.t(), None) if onednn else a @ b


class FusedLoRA(torch.autograd.Function):
    """``x W^T + b + scaling * B A dropout_p(x)`` for 2-D ``x``; gradients for x, A and B (W and b frozen)."""

    @staticmethod
    def forward(ctx, x, weight, bias, lora_a, lora_b, scaling: float, p: float, onednn: bool, packed=None, packed_t=None):
        # onednn: products through oneDNN (only where it answers); packed: W (and packed_t: W^T, for the backward)
        # in oneDNN's layout, made only where oneDNN answers
        y = (onednn_linear(x, weight if packed is None else packed, bias) if onednn
             else torch.nn.functional.linear(x, weight, bias))
        keep = keep_mask(x.shape, p, x.device) if p > 0 else None
        xd = x if keep is None else x * keep
        s = scaling / (1 - p)
        h = _mm(xd, lora_a.t(), onednn)
        y.addmm_(h, lora_b.t(), alpha=s)
        ctx.save_for_backward(weight, lora_a, lora_b, xd, h, keep)
        ctx.s, ctx.onednn, ctx.packed_t = s, onednn, packed_t
        return y

    @staticmethod
    def backward(ctx, gy):
        weight, lora_a, lora_b, xd, h, keep = ctx.saved_tensors
        s, on, gy = ctx.s, ctx.onednn, gy.contiguous()
        gh = _mm(gy, lora_b, on).mul_(s)
        g_b = _mm(h.t(), gy, on).mul_(s).t() if ctx.needs_input_grad[4] else None
        g_a = _mm(gh.t(), xd, on) if ctx.needs_input_grad[3] else None
        gx = None
        if ctx.needs_input_grad[0]:
            gx = _mm(gy, weight, on) if ctx.packed_t is None else onednn_linear(gy, ctx.packed_t, None)
            lora = _mm(gh, lora_a, on)
            gx.add_(lora if keep is None else lora.mul_(keep))
        return gx, None, None, g_a, g_b, None, None, None, None, None


def _plain_parts(layer) -> tuple | None:
    """(W, b, A, B, scaling, p) of a PEFT LoRA layer this module can fuse, or None."""
    if layer.merged or layer.disable_adapters or len(layer.active_adapters) != 1:
        return None
    name = layer.active_adapters[0]
    if name not in layer.lora_A or name in getattr(layer, "lora_variant", {}):
        return None
    base, a, b = layer.base_layer, layer.lora_A[name], layer.lora_B[name]
    drop = layer.lora_dropout[name]
    if isinstance(drop, WordDropout):
        p = drop.p
    elif isinstance(drop, nn.Identity) or (isinstance(drop, nn.Dropout) and drop.p == 0):
        p = 0.0
    else:
        return None
    linears = (base, a, b)
    if (any(type(m) is not nn.Linear for m in linears) or a.bias is not None or b.bias is not None
            or base.weight.requires_grad or (base.bias is not None and base.bias.requires_grad)
            or any(m.weight.dtype != torch.float32 or m.weight.device.type != "cpu" for m in linears)):
        return None
    return base.weight, base.bias, a.weight, b.weight, float(layer.scaling[name]), p


def _forward(self, x: torch.Tensor, *args, onednn: bool = True, **kwargs) -> torch.Tensor:
    parts = None if args or kwargs or x.dtype != torch.float32 or torch.is_autocast_enabled("cpu") else _plain_parts(self)
    if parts is None:
        return type(self).forward(self, x, *args, **kwargs)
    weight, bias, a, b, scaling, p = parts
    if not self.training:
        p = 0.0
    flat = x.reshape(-1, x.shape[-1])
    packs = vars(self.base_layer) if onednn else {}
    y = FusedLoRA.apply(flat, weight, bias, a, b, scaling, p, onednn, packs.get("_onednn_packed"),
                        packs.get("_onednn_packed_t"))
    return y.view(*x.shape[:-1], y.shape[-1])


def _lora_linears(model: nn.Module) -> list:
    try:
        from peft.tuners.lora.layer import Linear
    except ImportError:
        return []
    return [m for m in model.modules() if type(m) is Linear and "forward" not in vars(m)]


@contextlib.contextmanager
def fused_lora(model: nn.Module, enabled: bool = True, onednn: bool = True):
    """Within the context the model's PEFT LoRA ``Linear`` layers on the CPU run as :class:`FusedLoRA` where
    they can (see the module docstring), their products through oneDNN when ``onednn`` and oneDNN answers; yields
    how many layers were switched. Afterwards they are as before."""
    layers = [m for m in _lora_linears(model) if m.base_layer.weight.device.type == "cpu"] if enabled else []
    on = onednn and onednn_linear_available()
    for m in layers:
        m.forward = types.MethodType(functools.partial(_forward, onednn=on), m)
    try:
        yield len(layers)
    finally:
        for m in layers:
            vars(m).pop("forward", None)
