"""A ``safemix train`` output as a model: its manifest, its weights (safetensors only), and the
causal LM of base + adapter (merged) or of a full fine-tune. Used by generation and by capability
evaluation alike."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..artifacts import TRAIN_MANIFEST, TrainManifest, read_record, weights_dir
from ..errors import SafemixError
from .adapter import adapter_fingerprint, apply_adapter, check_adapter, refuse_pickles
from .load import fingerprint, load_causal_lm, load_tokenizer, resolve_model


def read_adapter(adapter: str | os.PathLike) -> tuple[dict, Path, str]:
    """(manifest, weights folder, prompt format name) of a ``safemix train`` output folder."""
    folder = Path(adapter)
    manifest_path = folder / TRAIN_MANIFEST
    if not manifest_path.is_file():
        raise SafemixError(f"{manifest_path}: not a finished safemix train output (no {TRAIN_MANIFEST})")
    typed = read_record(TrainManifest, manifest_path)
    manifest, kind, fmt = typed.dump(), typed.kind, typed.prompt_format.name
    weights = weights_dir(folder, kind)
    if kind == "full":
        refuse_pickles(weights, "weights from .safetensors")
        if not any(weights.glob("*.safetensors")):
            raise SafemixError(f"{weights}: no .safetensors weights")
    else:
        check_adapter(weights)
    return manifest, weights, fmt


def resolve_trained(model: str | None, adapter) -> tuple[str, object, dict, Path | None, str | None]:
    """(model spec, model ref, adapter manifest, adapter weights folder, trained prompt format)."""
    manifest, weights, trained_fmt = read_adapter(adapter) if adapter else ({}, None, None)
    spec = model or manifest.get("base_model")
    if not spec:
        raise SafemixError("give --model (or an --adapter whose manifest names its base model)")
    ref = resolve_model(spec)
    if manifest and manifest.get("base_fingerprint") not in (None, ref.fingerprint):
        raise SafemixError(f"adapter {adapter} was trained on a different base model than '{spec}'")
    return spec, ref, manifest, weights, trained_fmt


def reference_weights(manifest: dict, folder: Path | None = None) -> Path | None:
    """The adapter a DPO training (output ``folder``) started from, merged in before its own: found beside it
    (its path relative to the output) or where it was, and checked to be the one it was trained on; None for
    other trainings."""
    reference = manifest.get("reference")
    if not reference:
        return None
    near = Path(folder) / reference["relative"] if folder is not None and reference.get("relative") else None
    _, weights, _ = read_adapter(near if near is not None and (near / TRAIN_MANIFEST).is_file() else reference["path"])
    if adapter_fingerprint(weights) != reference["adapter_fingerprint"]:
        raise SafemixError(f"{reference['path']}: this adapter changed since a DPO training started from it; "
                           f"retrain that DPO step")
    return weights


def model_info(spec: str, ref, adapter, weights: Path | None, kind: str | None = None,
               manifest: dict | None = None) -> dict:
    """What a result records about the model it came from (a DPO adapter's fingerprint covers the
    adapter it started from)."""
    fp = None if not weights else fingerprint(weights) if kind == "full" else adapter_fingerprint(weights)
    if fp and (manifest or {}).get("reference"):
        fp = hashlib.sha256(f"{manifest['reference']['adapter_fingerprint']}+{fp}".encode()).hexdigest()
    return {"model": spec, "model_fingerprint": ref.fingerprint, "adapter": str(adapter) if adapter else None,
            "adapter_fingerprint": fp}


def load_merged(ref, manifest: dict, weights: Path | None, trust_remote_code: bool = False, dtype=None):
    """The causal LM of a base model, a full fine-tune, or a base model with its LoRA merged in (for a
    DPO training: the adapter it started from, then its own)."""
    if manifest.get("kind") == "full":
        return load_causal_lm(type(ref)(ref.spec, str(weights), fingerprint(weights)), dtype=dtype,
                              trust_remote_code=trust_remote_code)
    lm = load_causal_lm(ref, dtype=dtype, trust_remote_code=trust_remote_code)
    start = reference_weights(manifest, weights.parent if weights is not None else None)
    if start is not None:
        lm = apply_adapter(lm, start)
    return apply_adapter(lm, weights) if weights is not None else lm


def load_model(model: str | None = None, adapter=None, trust_remote_code: bool = False, dtype=None):
    """(model, tokenizer, info) for a base model and/or a ``safemix train`` output folder."""
    spec, ref, manifest, weights, _ = resolve_trained(model, adapter)
    info = model_info(spec, ref, adapter, weights, manifest.get("kind"), manifest)
    lm = load_merged(ref, manifest, weights, trust_remote_code, dtype)
    return lm, load_tokenizer(ref, trust_remote_code), info
