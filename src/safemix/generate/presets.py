"""Decoding presets.

``paper`` reproduces the seed repo's ``generation/generate_answers.py``: its ``evaluate()`` is called
without the script's generation arguments, so the function defaults apply: ``GenerationConfig(
temperature=0.1, top_p=0.75, top_k=40, num_beams=4)`` with ``max_new_tokens=128`` (the script's
``--max_new_tokens 256`` option is never passed through, and neither is the eval set's ``input``).
``do_sample`` stays False in that config, so transformers runs deterministic 4-beam search and the
temperature/top-p/top-k values have no effect; safemix records them but they change nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..errors import SafemixError


@dataclass(frozen=True)
class Decoding:
    preset: str
    max_new_tokens: int = 128
    num_beams: int = 1
    do_sample: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "paper": Decoding("paper", 128, num_beams=4, temperature=0.1, top_p=0.75, top_k=40),
    "greedy": Decoding("greedy", 128),
    "sample": Decoding("sample", 128, do_sample=True, temperature=0.7, top_p=0.9, seed=0),
}


# upper bounds refused before any work: beyond them a run asks for more memory than any machine has
MAX_NEW_TOKENS = 131_072
MAX_BATCH = 65_536


def get_decoding(preset: str, max_new_tokens: int | None = None, seed: int | None = None) -> Decoding:
    if preset not in PRESETS:
        raise SafemixError(f"unknown decoding preset '{preset}' (known: {', '.join(PRESETS)})")
    d = PRESETS[preset]
    if max_new_tokens is not None:
        if not 0 < max_new_tokens <= MAX_NEW_TOKENS:
            raise SafemixError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS:,} (longer than any model's context), "
                               f"got {max_new_tokens:,}")
        d = replace(d, max_new_tokens=max_new_tokens)
    if seed is not None and d.do_sample:
        d = replace(d, seed=seed)
    return d
