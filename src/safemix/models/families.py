"""Architecture families: which linear layers LoRA adapts by default, read from the model's ``config.json``.

PEFT keeps such a table for the families it knows (``q_proj``/``v_proj`` for Llama, Mistral, Qwen, Gemma);
safemix adds the families PEFT's lacks whose attention is fused (Phi-3's one ``qkv_proj``). The paper's
choice, query and value projections, is kept wherever the family has them.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import SafemixError

# families PEFT's table lacks (or names differently), checked against transformers' modules
EXTRA_TARGETS: dict[str, list[str]] = {
    "phi3": ["qkv_proj"],  # Phi-3 / Phi-3.5 / Phi-4-mini: q, k and v as one fused projection
}
# what a built-in model is (its converted config's model_type), known without converting it
BUILTIN_TYPES = {"smollm2-135m": "llama", "gemma3-270m": "gemma3_text"}


def default_targets(model_type: str) -> list[str] | None:
    """The default LoRA target modules of a family, None when neither table knows it."""
    if model_type in EXTRA_TARGETS:
        return list(EXTRA_TARGETS[model_type])
    try:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS
    except ImportError:  # pragma: no cover - peft is a dependency
        return None
    found = PEFT_TARGETS.get(model_type)
    return list(found) if isinstance(found, (list, tuple)) else None


def model_type_of(spec: str) -> str:
    """A model spec's family (``config.json``'s ``model_type``): a built-in's is known; a folder's or a Hub
    model's is read from its config (a Hub model's from its pinned snapshot, fetched if missing)."""
    if spec in BUILTIN_TYPES:
        return BUILTIN_TYPES[spec]
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        from .load import resolve_model

        folder = Path(resolve_model(spec, download=False).path)
    try:
        doc = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise SafemixError(f"model '{spec}': cannot read its config.json ({exc})") from None
    mt = doc.get("model_type") if isinstance(doc, dict) else None
    if not isinstance(mt, str):
        raise SafemixError(f"model '{spec}': its config.json has no model_type")
    return mt


def lora_targets(spec: str, given: list[str] | None, needed: bool = True) -> list[str] | None:
    """The LoRA target modules of a training: those given, else the model family's default. ``needed=False`` (full
    fine-tuning, which adapts no layer): a family with no default gives None rather than an error."""
    if given is not None:
        return list(given)
    mt = model_type_of(spec)
    found = default_targets(mt)
    if found is None and needed:
        raise SafemixError(f"model '{spec}' (model_type '{mt}'): no default LoRA target modules for this family; "
                           "set train.lora_target_modules (e.g. [q_proj, v_proj])")
    return found
