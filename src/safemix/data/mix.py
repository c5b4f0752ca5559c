"""Build and write safety mixtures: N general + k safety examples for each k of a sweep."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..artifacts import MixtureManifest, mixture_file, mixture_manifest
from ..errors import SafemixError
from ..fileio import atomic_write_json, atomic_write_text, dumps_json, sha256_text
from .load import Loaded
from .records import Instruction
from .select import get_strategy, hash_key, hash_order


@dataclass
class Mixture:
    k: int
    records: list[Instruction]
    safety_ids: list[str]
    general_ids: list[str]
    manifest: dict = field(default_factory=dict)

    def alpaca_json(self) -> str:
        return dumps_json([r.alpaca() for r in self.records])


def parse_ks(text: str | list[int]) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()] if isinstance(text, str) else [int(x) for x in text]
    except ValueError:
        raise SafemixError(f"k values must be comma-separated integers, got '{text}'") from None
    if not ks or any(k < 0 for k in ks):
        raise SafemixError(f"k values must be one or more integers >= 0, got '{text}'")
    return sorted(set(ks))


def build_mixtures(general: list[Instruction], safety: list[Instruction], n_general: int,
                   ks: list[int], seed: int, strategy: str = "random", embed=None) -> list[Mixture]:
    """Nested, seeded mixtures. All share the same N general examples; the safety examples of a
    smaller k are a prefix of a larger k's; each mixture's order is a seeded shuffle whose
    restriction to a smaller mixture is that mixture's order."""
    ks = parse_ks(ks)
    if n_general < 0 or n_general > len(general):
        raise SafemixError(f"n_general={n_general} but the general set has {len(general)} examples")
    if ks[-1] > len(safety):
        raise SafemixError(f"k={ks[-1]} but the safety set has {len(safety)} examples")
    picker = get_strategy(strategy)
    general_pick = [general[i] for i in hash_order(general, seed, "general")[:n_general]]
    safety_order = [safety[i] for i in picker(safety, seed, ks[-1], embed=embed)]
    out = []
    for k in ks:
        chosen = general_pick + safety_order[:k]
        chosen.sort(key=lambda r: hash_key(seed, "order", r.id))
        if len({r.id for r in chosen}) != len(chosen):
            raise SafemixError("general and safety sets share record ids; give them different names")
        out.append(Mixture(k, chosen, [r.id for r in safety_order[:k]], [r.id for r in general_pick]))
    return out


def mix(general: Loaded, safety: Loaded, n_general: int, ks: str | list[int], seed: int,
        strategy: str = "random", embed=None) -> list[Mixture]:
    """:func:`build_mixtures` over loaded data sets, with a manifest per mixture."""
    mixtures = build_mixtures(general.records, safety.records, n_general, ks, seed, strategy, embed)
    for m in mixtures:
        m.manifest = MixtureManifest(
            safemix_version=__version__,
            k=m.k,
            n_general=n_general,
            seed=seed,
            strategy=strategy,
            counts={"general": len(m.general_ids), "safety": m.k, "total": len(m.records)},
            general=general.provenance(),
            safety=safety.provenance(),
            output_sha256=sha256_text(m.alpaca_json()),
            general_ids_sha256=hashlib.sha256("\n".join(m.general_ids).encode()).hexdigest(),
            safety_ids=m.safety_ids,
        ).dump()
    return mixtures


def leakage_summary(train: list[Instruction], suites, method: str, data_dir=None) -> dict:
    """Check training instructions against the eval suites before a mixture is written; warns on
    stderr when eval prompts appear in the training data, and returns the manifest's summary."""
    import sys

    from . import leakage
    from .load import load_suites

    try:
        loaded = load_suites(suites, data_dir)
    except SafemixError as exc:
        print(f"warning: leakage check skipped ({exc})", file=sys.stderr)
        return {"checked": False, "reason": str(exc)}
    leaks = leakage.check_leakage(train, [p for one in loaded.values() for p in one.records], method)
    summary = leakage.summarise(leaks)
    if leaks:
        print(f"warning: {len(leaks)} eval prompts also appear in the training data: {summary['by_suite']} "
              "(run 'safemix data check-leakage' for the list)", file=sys.stderr)
    return {"checked": True, "method": method, "suites": list(loaded), **summary}


def mixture_path(out_dir: str | Path, k: int) -> Path:
    return mixture_file(out_dir, k)


def write_mixtures(mixtures: list[Mixture], out_dir: str | Path, extra: dict | None = None) -> list[Path]:
    """Write ``k{k}.json`` (Alpaca JSON) and ``k{k}.manifest.json`` for each mixture, atomically.
    Everything is computed before the first write, so a bad input writes nothing; the manifest is
    written last and marks a mixture as complete."""
    paths = []
    for m in mixtures:
        path = mixture_path(out_dir, m.k)
        atomic_write_text(path, m.alpaca_json())
        atomic_write_json(mixture_manifest(out_dir, m.k), MixtureManifest(**{**m.manifest, **(extra or {})}).dump())
        paths.append(path)
    return paths
