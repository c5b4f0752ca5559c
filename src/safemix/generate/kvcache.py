"""A KV cache that grows in place: each layer keeps its keys and values in a buffer with room for
the answer, so a decoding step writes one position instead of copying the whole cache (``cat``);
the cache is transformers' ``DynamicCache`` with this layer class, everything else unchanged. With a
transformers that has no ``DynamicLayer`` (4.x), a plain ``DynamicCache``."""

from __future__ import annotations

import functools

import torch


def new_cache(room: int):
    from transformers import DynamicCache

    cache = DynamicCache()
    layer = _growing_layer()
    if layer is not None and hasattr(cache, "layer_class_to_replicate") and not cache.layers:
        cache.layer_class_to_replicate = type("GrowingLayer", (layer,), {"room": max(1, room)})
    return cache


@functools.cache
def _growing_layer():
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return None

    class GrowingLayer(DynamicLayer):
        room = 64

        def update(self, key_states, value_states, *args, **kwargs):
            n = key_states.shape[-2]
            if not self.is_initialized:
                self.device, self.is_initialized, self.used = key_states.device, True, 0
                self.kbuf, self.vbuf = (_buffer(x, x.shape[-2] + self.room) for x in (key_states, value_states))
            if self.used + n > self.kbuf.shape[-2]:  # out of room: grow (rare: the room is the answer's length)
                size = self.used + n + self.room
                self.kbuf, self.vbuf = (torch.cat([b, _buffer(b, size - b.shape[-2])], dim=-2)
                                        for b in (self.kbuf, self.vbuf))
            self.kbuf[:, :, self.used:self.used + n] = key_states
            self.vbuf[:, :, self.used:self.used + n] = value_states
            self.used += n
            self._views()
            return self.keys, self.values

        def _views(self):
            self.keys, self.values = self.kbuf[:, :, :self.used], self.vbuf[:, :, :self.used]

        def batch_repeat_interleave(self, repeats: int) -> None:
            if self.is_initialized:
                self.kbuf, self.vbuf = self.kbuf.repeat_interleave(repeats, 0), self.vbuf.repeat_interleave(repeats, 0)
                self._views()

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            if self.is_initialized:
                self.kbuf, self.vbuf = self.kbuf[indices], self.vbuf[indices]
                self._views()

        def reorder_cache(self, beam_idx: torch.Tensor) -> None:
            if self.is_initialized:
                self.kbuf, self.vbuf = self.kbuf.index_select(0, beam_idx), self.vbuf.index_select(0, beam_idx)
                self._views()

        def crop(self, max_length: int) -> None:
            raise NotImplementedError("safemix's decoding cache is not cropped")

    return GrowingLayer


def _buffer(like: torch.Tensor, length: int) -> torch.Tensor:
    return like.new_empty((*like.shape[:-2], length, like.shape[-1]))
