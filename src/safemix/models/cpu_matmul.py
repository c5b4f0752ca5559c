"""fp32 linear layers on the CPU through oneDNN instead of MKL.

PyTorch multiplies fp32 matrices on the CPU with MKL's sgemm. On AMD CPUs MKL runs its AVX2 code even
where the CPU has AVX-512: on the development machine (AMD EPYC, Zen 5, 2 cores) a 2048 x 2048 product ran
at 213 GFLOP/s with MKL and 434-462 GFLOP/s with oneDNN, which PyTorch also ships and which uses the widest
vector units the CPU reports. At the shapes of decoding (48 rows through SmolLM2-135M's layers) oneDNN was
2.2x faster, and 2.3x on the input-gradient products of LoRA training.

While :func:`onednn_linears` is active, every fp32 ``nn.Linear`` of a model on the CPU that needs no weight
gradient runs through oneDNN's linear kernel, ``torch.ops.mkldnn._linear_pointwise`` (the op PyTorch's own
compiler emits for CPU linears): all of them when generating (``HFBackend``, guard judges too), scoring
lm-eval tasks or encoding sentences; the frozen base and the vocabulary projection when training LoRA, whose
backward gives the input's gradient with the same kernel.
It is the same fp32 arithmetic in another summation order: results differ from MKL's in the last bits
(relative 1e-6); the benchmark's 48 greedy and 48 beam-search answers were token for token the same.
Trainable layers (full fine-tuning, LoRA's own matrices), bf16 (already oneDNN in PyTorch), autocast and
GPUs are left as they are. Without oneDNN in the PyTorch build, or when the op does not answer like
``F.linear`` on a probe, nothing changes.
"""

from __future__ import annotations

import contextlib
import functools
import types

import torch
import torch.nn.functional as F


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` through oneDNN (check :func:`onednn_linear_available` first)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


@functools.cache
def onednn_linear_available() -> bool:
    """True when this PyTorch has oneDNN's linear op and it agrees with ``F.linear`` on a probe (forward, and the
    transposed weight of the backward)."""
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        op = torch.ops.mkldnn._linear_pointwise
        gen = torch.Generator().manual_seed(0)
        x, w, b, g = (torch.randn(*s, generator=gen) for s in ((3, 5, 16), (8, 16), (8,), (5, 8)))
        return bool(torch.allclose(op(x, w, b, "none", [], ""), F.linear(x, w, b), rtol=1e-4, atol=1e-4)
                    and torch.allclose(op(g, w.t(), None, "none", [], ""), g @ w, rtol=1e-4, atol=1e-4))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


class _FrozenLinear(torch.autograd.Function):
    """y = x W^T + b through oneDNN; backward gives x's gradient only (W and b are frozen). ``packed`` and
    ``packed_t``: W and W^T reordered into oneDNN's layout (or None: W as it is)."""

    @staticmethod
    def forward(ctx, x, weight, bias, packed=None, packed_t=None):
        ctx.save_for_backward(weight)
        ctx.packed_t = packed_t
        return onednn_linear(x, weight if packed is None else packed, bias)

    @staticmethod
    def backward(ctx, grad):
        (weight,) = ctx.saved_tensors
        wt = weight.t() if ctx.packed_t is None else ctx.packed_t
        return onednn_linear(grad.contiguous(), wt, None), None, None, None, None


def _forward(self, x: torch.Tensor) -> torch.Tensor:
    w, b = self.weight, self.bias
    if (x.dtype != torch.float32 or x.device.type != "cpu" or w.dtype != torch.float32 or w.device.type != "cpu"
            or torch.is_autocast_enabled("cpu")):
        return F.linear(x, w, b)
    packed = vars(self).get("_onednn_packed")
    if torch.is_grad_enabled():
        if w.requires_grad or (b is not None and b.requires_grad):
            return F.linear(x, w, b)  # a trainable layer: autograd's own products, weight gradients included
        if x.requires_grad:
            return _FrozenLinear.apply(x, w, b, packed, vars(self).get("_onednn_packed_t"))
    return onednn_linear(x, w if packed is None else packed, b)


PACK_MAX_BYTES = 4 * 2 ** 30  # packed copies only for models whose fp32 linear weights take at most 4 GiB


def _eligible(m: torch.nn.Module) -> bool:
    return (type(m) is torch.nn.Linear and "forward" not in vars(m)
            and m.weight.device.type == "cpu" and m.weight.dtype == torch.float32)


@contextlib.contextmanager
def onednn_linears(model: torch.nn.Module, enabled: bool = True, packed: bool = False, packed_frozen: bool = False):
    """Within the context the model's fp32 CPU ``nn.Linear`` layers run through oneDNN when they are frozen or
    no gradient is being recorded (see the module docstring); a call that must give a weight gradient uses
    ``F.linear``. Packed weights (the same results; a copy of the weights in memory):

    - ``packed``: every layer reads a copy of its weight reordered once, at entry, into oneDNN's blocked
      layout (generation: no weight may change inside the context);
    - ``packed_frozen``: the layers whose weight needs no gradient (training LoRA: the base) read packed copies of
      W, and of W^T for the input gradient (a second copy).

    Nothing is packed when the layers' weights take more than :data:`PACK_MAX_BYTES` (the copy would double
    a large model's memory). Yields how many layers were switched; afterwards they are as before."""
    layers = [m for m in model.modules() if _eligible(m)] if enabled and onednn_linear_available() else []
    weights = {id(m.weight): m.weight for m in layers}.values()
    packing = (bool(layers) and (packed or packed_frozen) and onednn_packing_available()
               and sum(w.numel() * w.element_size() for w in weights) <= PACK_MAX_BYTES)
    copies: dict[tuple[int, bool], torch.Tensor] = {}  # one copy per weight tensor (a tied weight is packed once)

    def pack(w: torch.Tensor, transposed: bool) -> torch.Tensor:
        key = (id(w), transposed)
        if key not in copies:
            with torch.no_grad():
                copies[key] = torch.ops.mkldnn._reorder_linear_weight(w.detach().t().contiguous() if transposed
                                                                      else w.detach(), 64)
        return copies[key]

    for m in layers:
        m.forward = types.MethodType(_forward, m)
        frozen = packed_frozen and not m.weight.requires_grad
        if packing and (packed or frozen):
            m._onednn_packed = pack(m.weight, False)
        if packing and frozen:
            m._onednn_packed_t = pack(m.weight, True)
    try:
        yield len(layers)
    finally:
        for m in layers:
            vars(m).pop("forward", None)
            vars(m).pop("_onednn_packed", None)
            vars(m).pop("_onednn_packed_t", None)


@functools.cache
def onednn_packing_available() -> bool:
    """True when oneDNN's weight reorder exists and a packed weight answers exactly like the plain one on a probe."""
    if not onednn_linear_available():
        return False
    try:
        gen = torch.Generator().manual_seed(0)
        x, w = torch.randn(5, 16, generator=gen), torch.randn(8, 16, generator=gen)
        op = torch.ops.mkldnn._linear_pointwise
        return bool(torch.equal(op(x, torch.ops.mkldnn._reorder_linear_weight(w, 64), None, "none", [], ""),
                                op(x, w, None, "none", [], "")))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
