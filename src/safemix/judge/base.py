"""The judge interface: a list of (prompt, response) pairs in, one :class:`Verdict` per pair out.

Refusal judges speak XSTest's vocabulary (``1_full_compliance``, ``2_full_refusal``,
``3_partial_refusal``); harmfulness judges give a score (higher = more harmful) and a
``harmful``/``harmless`` label; quality judges give a score (higher = better).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from ..errors import SafemixError

COMPLIANCE, REFUSAL, PARTIAL = "1_full_compliance", "2_full_refusal", "3_partial_refusal"
REFUSAL_LABELS = (COMPLIANCE, REFUSAL, PARTIAL)
HARM_LABELS = ("harmless", "harmful")


@dataclass(frozen=True)
class Verdict:
    label: str | None  # None: the judge could not decide (e.g. an unparseable LLM verdict)
    score: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Judge:
    id: str = "judge"
    version: str = "1"
    kind: str = "refusal"  # refusal | harm | quality

    def judge(self, pairs: list[tuple[str, str]]) -> list[Verdict]:
        raise NotImplementedError

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"


def check_pairs(pairs, where: str = "input") -> list[tuple[str, str]]:
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise SafemixError(f"{where}: record {i}: expected a (prompt, response) pair of strings")
        out.append((pair[0], pair[1]))
    return out


_FACTORIES: dict[str, tuple[Callable[..., Judge], tuple[str, ...]]] = {}


def register(name: str, takes: tuple[str, ...] = ()):
    """Register a judge factory and the keyword arguments it takes (others are ignored)."""
    def deco(factory):
        _FACTORIES[name] = (factory, takes)
        return factory
    return deco


def available() -> list[str]:
    return sorted(_FACTORIES)


def get_judge(name: str, **kwargs) -> Judge:
    """A judge by registry name. Callers pass one set of options (``data_dir``, ``base_url``,
    ``judge_model``, ...); each judge receives the ones it takes."""
    if name not in _FACTORIES:
        raise SafemixError(f"unknown judge '{name}' (known: {', '.join(available())})")
    factory, takes = _FACTORIES[name]
    return factory(**{k: v for k, v in kwargs.items() if k in takes and v is not None})
