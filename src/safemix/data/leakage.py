"""Leakage check: eval prompts that also appear (exactly or nearly) among training instructions."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import SafemixError
from .records import EvalPrompt, Instruction

METHODS = ("text", "embed")


@dataclass(frozen=True)
class Leak:
    suite: str
    prompt_id: str
    prompt: str
    train_id: str
    train_text: str
    kind: str  # exact | near
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


def normalise(text: str) -> str:
    """NFKC, case-folded, punctuation dropped, white space collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _prompt_text(p: EvalPrompt) -> str:
    return f"{p.prompt}\n{p.input}" if p.input else p.prompt


def check_leakage(train: list[Instruction], prompts: list[EvalPrompt], method: str = "embed",
                  threshold: float = 0.9, embed=None) -> list[Leak]:
    """Exact matches of normalised text, and (method ``embed``) prompts whose nearest training
    instruction has cosine similarity >= ``threshold`` under the MiniLM encoder."""
    if method not in METHODS:
        raise SafemixError(f"unknown leakage method '{method}' (known: {', '.join(METHODS)})")
    if not 0 < threshold <= 1:
        raise SafemixError(f"threshold must be in (0, 1], got {threshold}")
    index: dict[str, Instruction] = {}
    for r in train:
        index.setdefault(normalise(r.text), r)
    leaks: list[Leak] = []
    rest: list[EvalPrompt] = []
    for p in prompts:
        hit = index.get(normalise(_prompt_text(p)))
        if hit is not None:
            leaks.append(Leak(p.suite, p.id, p.prompt, hit.id, hit.text, "exact", 1.0))
        else:
            rest.append(p)
    if method == "embed" and rest and train:
        if embed is None:
            from ..models.encoder import get_encoder

            embed = get_encoder().encode_cached
        xt = embed([r.text for r in train])
        xp = embed([_prompt_text(p) for p in rest])
        for start in range(0, len(rest), 256):
            sims = xp[start:start + 256] @ xt.T
            best = np.argmax(sims, axis=1)
            for j, b in enumerate(best):
                score = float(sims[j, b])
                if score >= threshold:
                    p, r = rest[start + j], train[int(b)]
                    leaks.append(Leak(p.suite, p.id, p.prompt, r.id, r.text, "near", round(score, 4)))
    return leaks


def summarise(leaks: list[Leak]) -> dict:
    by_suite: dict[str, dict[str, int]] = {}
    for leak in leaks:
        counts = by_suite.setdefault(leak.suite, {"exact": 0, "near": 0})
        counts[leak.kind] += 1
    return {"total": len(leaks), "by_suite": dict(sorted(by_suite.items()))}
