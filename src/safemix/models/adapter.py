"""LoRA adapters, loaded from safetensors only.

An adapter folder holds exactly ``adapter_config.json`` and ``adapter_model.safetensors``; any other
weight file (a pickled ``adapter_model.bin``, ``.pt``, ...) is refused rather than left for PEFT to
``torch.load``. The fingerprint covers exactly the files loaded, the config in a canonical form
(PEFT writes ``target_modules`` in a random order), so identical runs get identical keys.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import SafemixError
from ..fileio import sha256_file

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def refuse_pickles(folder: Path, loads_from: str) -> None:
    """A one-line error if a weights folder holds pickle files (PEFT or transformers might load them)."""
    stray = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
    if stray:
        raise SafemixError(f"{folder}: refusing pickle weight files {', '.join(stray)} (safemix loads {loads_from} "
                           "only); remove them")


def check_adapter(folder: Path) -> tuple[Path, Path]:
    """(config, weights) of an adapter folder, or a one-line error."""
    config, weights = folder / ADAPTER_CONFIG, folder / ADAPTER_WEIGHTS
    refuse_pickles(folder, f"adapters from {ADAPTER_WEIGHTS}")
    for p in (config, weights):
        if not p.is_file():
            raise SafemixError(f"{folder}: no {p.name} (an adapter folder holds {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS})")
    return config, weights


def canonical_config(config: Path) -> dict:
    try:
        doc = json.loads(config.read_text())
    except (OSError, ValueError) as exc:
        raise SafemixError(f"{config}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SafemixError(f"{config}: expected a JSON object")
    return {k: sorted(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) else v for k, v in doc.items()}


def adapter_fingerprint(folder: Path) -> str:
    config, weights = check_adapter(folder)
    canon = json.dumps(canonical_config(config), sort_keys=True)
    return hashlib.sha256(f"{ADAPTER_CONFIG}:{hashlib.sha256(canon.encode()).hexdigest()}\n"
                          f"{ADAPTER_WEIGHTS}:{sha256_file(weights)}\n".encode()).hexdigest()


def apply_adapter(lm, folder: Path):
    """The base model with the LoRA adapter of ``folder`` merged in (weights read with safetensors)."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config, weights = check_adapter(folder)
    doc = json.loads(config.read_text())
    if doc.get("peft_type", "LORA") != "LORA":
        raise SafemixError(f"{config}: peft_type {doc.get('peft_type')!r} is not supported (LoRA only)")
    try:
        cfg = LoraConfig(**{k: v for k, v in doc.items() if k in LoraConfig.__dataclass_fields__})
        state = load_file(str(weights))
    except (TypeError, ValueError, SafetensorError, OSError) as exc:
        raise SafemixError(f"{folder}: cannot load the adapter ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    cfg.inference_mode = True
    model = get_peft_model(lm, cfg)
    result = set_peft_model_state_dict(model, state)
    unexpected = list(getattr(result, "unexpected_keys", []))
    if unexpected:
        raise SafemixError(f"{weights}: {len(unexpected)} tensors do not match the model (e.g. {unexpected[0]})")
    _own_weights(model)
    return model.merge_and_unload()


def _own_weights(model) -> None:
    """Give each LoRA layer's base weight on the CPU memory of its own before the merge adds into it in place.

    transformers leaves the loaded weights in a private map of the safetensors file, so the merge's in-place add
    copied every page of them on first write, one fault per 4 KB: merging the quickstart's adapter (210 layers)
    took 1.8-2.6 s, and 0.53-0.58 s after a copy (one process alternating the two, memory kept as the command
    line keeps it). The values are the same, so the merged weights are too."""
    from peft.tuners.lora import LoraLayer

    for base in (m.get_base_layer() for m in model.modules() if isinstance(m, LoraLayer)):
        if base.weight.device.type == "cpu":
            base.weight.data = base.weight.data.clone()
