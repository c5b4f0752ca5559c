"""The built-in model's converted weights are checked byte for byte before use, and rebuilt when damaged."""

import json
import shutil

import pytest

from safemix.models import builtin


def _damaged_copy(smollm, tmp_path):
    ref, _ = smollm
    cache = tmp_path / "models"
    shutil.copytree(ref.path, cache / "smollm2-135m")
    weights = cache / "smollm2-135m" / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as f:  # a disk error that keeps the size: flip bytes in the middle
        f.seek(size // 2)
        chunk = f.read(64)
        f.seek(size // 2)
        f.write(bytes(b ^ 0xFF for b in chunk))
    assert weights.stat().st_size == size
    gguf_sha = json.loads((cache / "smollm2-135m" / builtin.MARKER).read_text())["gguf_sha256"]
    return cache, gguf_sha


def test_a_damaged_converted_model_is_not_valid(smollm, tmp_path):
    ref, _ = smollm
    cache, gguf_sha = _damaged_copy(smollm, tmp_path)
    from pathlib import Path

    assert builtin._valid(Path(ref.path), gguf_sha)
    assert not builtin._valid(cache / "smollm2-135m", gguf_sha)
    marker = json.loads((Path(ref.path) / builtin.MARKER).read_text())
    assert all(set(v) == {"size", "sha256"} for v in marker["files"].values())


@pytest.mark.slow
def test_a_damaged_converted_model_is_rebuilt_on_use(smollm, tmp_path, monkeypatch):
    cache, gguf_sha = _damaged_copy(smollm, tmp_path)
    monkeypatch.setenv("SAFEMIX_MODEL_CACHE", str(cache))
    folder = builtin.materialise("smollm2-135m")
    assert folder == cache / "smollm2-135m" and builtin._valid(folder, gguf_sha)
    ref, _ = smollm
    import filecmp

    assert filecmp.cmp(folder / "model.safetensors", f"{ref.path}/model.safetensors", shallow=False)


@pytest.mark.slow
def test_the_conversion_parsing_the_gguf_once_gives_transformers_own_weights(smollm):
    """materialise() keeps gguf's parsed file and name maps while transformers loads it (three parses and 397 maps
    otherwise) and skips the random initialisation of the copy it saves: the converted weights must equal those of
    transformers' own loading, bit for bit, with the tied head saved once."""
    import gguf
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    ref, _ = smollm
    src = builtin.gguf_path(builtin.BUILTINS["smollm2-135m"])
    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    plain = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name).state_dict()
    converted = load_file(f"{ref.path}/model.safetensors")
    with builtin.gguf_parsed_once():
        assert gguf.GGUFReader is not reader
        once = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name).state_dict()
    assert gguf.GGUFReader is reader and gguf.get_tensor_name_map is name_map  # restored
    assert "lm_head.weight" in plain and "lm_head.weight" not in converted  # the tied head is saved once
    for weights in (converted, once):
        assert set(weights) <= set(plain) and len(weights) >= len(plain) - 1  # a tied head is saved once
        for name, tensor in weights.items():
            assert torch.equal(tensor, plain[name]), name
