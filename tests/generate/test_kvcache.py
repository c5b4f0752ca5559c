import pytest
import torch
from transformers import DynamicCache

from safemix.generate.kvcache import new_cache


def kv(gen, b, n):
    return torch.randn(b, 3, n, 8, generator=gen), torch.randn(b, 3, n, 8, generator=gen)


@pytest.mark.parametrize("transposed", [False, True])
def test_the_growing_cache_holds_what_transformers_cache_holds(transposed):
    """A prompt pass, steps past the room it was given, finished rows dropped, beams reordered and repeated:
    keys and values are those of transformers' DynamicCache, and transposed keys stay laid out transposed."""
    gen = torch.Generator().manual_seed(0)
    ours, theirs = new_cache(2, keys_transposed=transposed), DynamicCache()
    first = kv(gen, 4, 5)
    got = ours.update(*first, 0)
    assert all(torch.equal(a, b) for a, b in zip(got, theirs.update(*first, 0)))
    ops = [("step",), ("step",), ("step",), ("select", torch.tensor([0, 2, 3])), ("step",),
           ("reorder", torch.tensor([2, 2, 0])), ("step",), ("repeat", 2), ("step",)]
    for op in ops:
        if op[0] == "step":
            new = kv(gen, ours.layers[0].keys.shape[0], 1)
            got, want = ours.update(*new, 0), theirs.update(*new, 0)
            assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
        elif op[0] == "select":
            ours.batch_select_indices(op[1]), theirs.batch_select_indices(op[1])
        elif op[0] == "reorder":
            ours.reorder_cache(op[1]), theirs.reorder_cache(op[1])
        else:
            ours.batch_repeat_interleave(op[1]), theirs.batch_repeat_interleave(op[1])
        layer = ours.layers[0]
        assert torch.equal(layer.keys, theirs.layers[0].keys) and torch.equal(layer.values, theirs.layers[0].values)
        assert (layer.kbuf.stride(-2) == 1) == transposed  # positions contiguous in memory: keys kept transposed
        assert layer.vbuf.stride(-1) == 1
    assert ours.get_seq_length() == theirs.get_seq_length() == 10 + 1  # 5 prompt positions, 6 steps
    assert ours.layers[0].kbuf.shape[-2] >= 11 > 5 + 2  # it grew past its first room


@pytest.mark.parametrize("transposed", [False, True])
def test_a_reserved_layer_is_written_in_place_and_then_grows_like_transformers_cache(transposed):
    """``reserve`` hands out zeroed views of a new layer's buffers (keys transposed in memory when asked); what the
    prompt pass writes there is what the layer holds, and the steps after it append like transformers' cache."""
    from safemix.generate.kvcache import reserve

    gen = torch.Generator().manual_seed(1)
    ours, theirs = new_cache(3, keys_transposed=transposed), DynamicCache()
    prompt = kv(gen, 2, 4)
    keys, values = reserve(ours, prompt[0].shape, prompt[1].shape, prompt[0])
    assert not keys.any() and not values.any() and (keys.stride(-2) == 1) == transposed
    keys[:, :, 1:], values[:, :, 1:] = prompt[0][:, :, 1:], prompt[1][:, :, 1:]  # position 0: padding, left zero
    theirs.update(torch.cat([torch.zeros_like(prompt[0][:, :, :1]), prompt[0][:, :, 1:]], 2),
                  torch.cat([torch.zeros_like(prompt[1][:, :, :1]), prompt[1][:, :, 1:]], 2), 0)
    for _ in range(5):  # past the room of 3
        new = kv(gen, 2, 1)
        got, want = ours.update(*new, 0), theirs.update(*new, 0)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert ours.get_seq_length() == theirs.get_seq_length() == 9
    assert reserve(DynamicCache(), prompt[0].shape, prompt[1].shape, prompt[0]) is None
