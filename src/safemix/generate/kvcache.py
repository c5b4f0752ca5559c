"""A KV cache that grows in place: each layer keeps its keys and values in a buffer with room for
the answer, so a decoding step writes one position instead of copying the whole cache (``cat``);
the cache is transformers' ``DynamicCache`` with this layer class, everything else unchanged. With a
transformers that has no ``DynamicLayer`` (4.x), a plain ``DynamicCache``.

``keys_transposed``: the keys' buffer is laid out (batch, heads, head_dim, positions), so that
:func:`safemix.models.decode_attention.decode_attention` multiplies by the transposed keys in place; the
layer still hands out keys of the usual shape (batch, heads, positions, head_dim), as a strided view."""

from __future__ import annotations

import functools

import torch


def new_cache(room: int, keys_transposed: bool = False):
    from transformers import DynamicCache

    cache = DynamicCache()
    layer = _growing_layer()
    if layer is not None and hasattr(cache, "layer_class_to_replicate") and not cache.layers:
        cache.layer_class_to_replicate = type("GrowingLayer", (layer,), {"room": max(1, room),
                                                                         "keys_transposed": keys_transposed})
    return cache


def reserve(cache, key_shape: tuple, value_shape: tuple, like: torch.Tensor):
    """Adds a layer to a growing ``cache`` whose buffers hold ``key_shape[-2]`` positions (plus the room) and returns
    views of those positions, zeroed, for a prompt pass to write its keys and values into: handing them over with
    ``update`` would copy them once more (and transpose the keys). ``None`` when the cache does not grow in place."""
    layer_class = getattr(cache, "layer_class_to_replicate", None)
    if layer_class is None or not hasattr(layer_class, "reserve"):
        return None
    layer = layer_class()
    cache.layers.append(layer)
    keys, values = layer.reserve(key_shape, value_shape, like)
    return keys.zero_(), values.zero_()


@functools.cache
def _growing_layer():
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return None

    class GrowingLayer(DynamicLayer):
        room = 64
        keys_transposed = False

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:  # a prompt pass attends over exactly what it brought: its own tensors
                keys, values = self.reserve(key_states.shape, value_states.shape, key_states)
                keys.copy_(key_states)
                values.copy_(value_states)
                return key_states, value_states
            n = key_states.shape[-2]
            if self.used + n > self.kbuf.shape[-2]:  # out of room: grow (rare: the room is the answer's length)
                size = self.used + n + self.room
                self.kbuf, self.vbuf = _grown(self.kbuf, size, self.keys_transposed), _grown(self.vbuf, size)
            self.kbuf[:, :, self.used:self.used + n] = key_states
            self.vbuf[:, :, self.used:self.used + n] = value_states
            self.used += n
            self._views()
            return self.keys, self.values

        def reserve(self, key_shape, value_shape, like):
            """Buffers for ``key_shape[-2]`` positions and the room; returns views of those positions (uninitialised)."""
            n = key_shape[-2]
            self.device, self.is_initialized, self.used = like.device, True, n
            self.kbuf = _buffer(like, key_shape, n + self.room, self.keys_transposed)
            self.vbuf = _buffer(like, value_shape, n + self.room)
            self._views()
            return self.keys, self.values

        def _views(self):
            self.keys, self.values = self.kbuf[:, :, :self.used], self.vbuf[:, :, :self.used]

        def batch_repeat_interleave(self, repeats: int) -> None:
            self._pick(lambda x: x.repeat_interleave(repeats, 0))

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            self._pick(lambda x: x[indices])

        def reorder_cache(self, beam_idx: torch.Tensor) -> None:
            self._pick(lambda x: x.index_select(0, beam_idx))

        def _pick(self, select) -> None:
            if self.is_initialized:
                self.kbuf, self.vbuf = _rows(self.kbuf, select, self.keys_transposed), select(self.vbuf)
                self._views()

        def crop(self, max_length: int) -> None:
            raise NotImplementedError("safemix's decoding cache is not cropped")

    return GrowingLayer


def _buffer(like: torch.Tensor, shape, length: int, transposed: bool = False) -> torch.Tensor:
    """An empty (batch, heads, length, head_dim) buffer for tensors of ``shape`` (``like``'s dtype and device);
    ``transposed``: laid out (batch, heads, head_dim, length)."""
    if transposed:
        return like.new_empty((*shape[:-2], shape[-1], length)).transpose(-1, -2)
    return like.new_empty((*shape[:-2], length, shape[-1]))


def _grown(buf: torch.Tensor, length: int, transposed: bool = False) -> torch.Tensor:
    """``buf`` with room for ``length`` positions, in the same layout."""
    out = _buffer(buf, buf.shape, length, transposed)
    out[:, :, :buf.shape[-2]] = buf
    return out


def _rows(buf: torch.Tensor, select, transposed: bool) -> torch.Tensor:
    """``select(buf)`` (rows picked along the batch), keeping a transposed buffer transposed."""
    if transposed:
        return select(buf.transpose(-1, -2)).contiguous().transpose(-1, -2)
    return select(buf)
