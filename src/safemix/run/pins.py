"""Every Hub model and data set of a run pinned to a commit before any step is planned.

``model: org/name`` (or ``org/name@main``, a tag) and ``hf:org/ds`` data specs are resolved to their commit
sha and written back into the config as ``org/name@SHA`` / ``hf:org/ds@SHA``, so the sha is part of every
step key below them: a new upstream commit re-runs those steps instead of silently reusing the old
adapters, answers and verdicts. The run folder keeps what each resolved to (``revisions.json``, and
``run.json``); a later call that finds another commit says so, and the reports, ``safemix status`` and
the point jobs of a cluster run read the recorded commits instead of asking again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import RunConfig, load_run_config
from ..data.hf import parse_hub_spec
from ..errors import SafemixError
from ..fileio import atomic_write_json
from ..models.hub import HubId, at_commit, hub_model, parse_model_id, resolve_revision

REVISIONS = "revisions.json"


@dataclass(frozen=True)
class Pin:
    key: str  # the config key that names it (model, data.general, generate.suites[1], ...)
    spec: str  # as the config wrote it
    pinned: str  # the same spec with its commit
    commit: str


def _hub_data(spec: str) -> tuple[HubId, dict] | None:
    """An ``hf:`` data spec naming a Hub data set (not a local folder) as a Hub id, with its parts (data/hf.py)."""
    parts = parse_hub_spec(spec)
    repo = parse_model_id(parts["path"]) if parts else None  # the same org/name rules as a model's
    if repo is None or Path(parts["path"]).expanduser().exists():
        return None
    return HubId(repo.repo, parts["rev"], "dataset"), parts


def hub_specs(cfg: RunConfig) -> list[tuple[str, str]]:
    """(config key, spec) of every Hub model and data set the run reads."""
    out = [("model", cfg.model)] if hub_model(cfg.model) else []
    for key, spec in (("data.general", cfg.data.general), ("data.safety", cfg.data.safety)):
        if _hub_data(spec):
            out.append((key, spec))
    out += [(f"generate.suites[{i}]", s) for i, s in enumerate(cfg.generate.suites) if _hub_data(s)]
    return out


def _pinned(key: str, spec: str, sha: str) -> str:
    if key == "model":
        return at_commit(spec, sha)
    _, p = _hub_data(spec)
    return (f"hf:{p['path']}" + (f"#{p['config']}" if p["config"] else "") + f"@{sha}"
            + (f":{p['split']}" if p["split"] else "") + (f"?{p['query']}" if p["query"] else ""))


def resolve_pins(cfg: RunConfig) -> list[Pin]:
    """Each Hub spec of the run resolved to its commit (from the local cache when offline); every one that cannot
    be is named in one line."""
    pins, problems = [], []
    for key, spec in hub_specs(cfg):
        hid = hub_model(spec) if key == "model" else _hub_data(spec)[0]
        try:
            sha = resolve_revision(hid)
        except SafemixError as exc:
            problems.append(f"{key}: {exc}")
            continue
        pins.append(Pin(key, spec, _pinned(key, spec, sha), sha))
    if problems:
        raise SafemixError("; ".join(problems))
    return pins


def apply_pins(cfg: RunConfig, pins: list[Pin]) -> RunConfig:
    """The config with each pinned spec in place of the one it was written as (in place, and returned)."""
    for p in pins:
        if p.key == "model":
            cfg.model = p.pinned
            cfg.train = cfg.train.model_copy(update={"model": p.pinned})
        elif p.key.startswith("data."):
            setattr(cfg.data, p.key.split(".", 1)[1], p.pinned)
        elif p.key.startswith("generate.suites["):
            suites = list(cfg.generate.suites)
            suites[int(p.key[len("generate.suites["):-1])] = p.pinned
            cfg.generate.suites = suites
    return cfg


def recorded(run_dir: Path) -> list[Pin]:
    """The commits a run folder's last driver resolved (none recorded: none)."""
    path = Path(run_dir) / REVISIONS
    if not path.is_file():
        return []
    try:
        return [Pin(**p) for p in json.loads(path.read_text())["pins"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SafemixError(f"{path}: unreadable ({exc}); delete it to resolve the revisions again") from None


def changes(before: list[Pin], now: list[Pin]) -> list[str]:
    """One line per spec whose commit moved since the run folder's last call."""
    old = {(p.key, p.spec): p.commit for p in before}
    return [f"{p.key} '{p.spec}' is now at commit {p.commit[:12]}, was {old[(p.key, p.spec)][:12]} in this run folder's "
            "last call: the steps that depend on it run again" for p in now if old.get((p.key, p.spec), p.commit) != p.commit]


def record(run_dir: Path, pins: list[Pin]) -> None:
    atomic_write_json(Path(run_dir) / REVISIONS, {"pins": [asdict(p) for p in pins]})


def pin_config(cfg: RunConfig, run_dir: Path | None = None, *, use_recorded: bool = False) -> tuple[RunConfig, list[Pin]]:
    """Resolve (or, ``use_recorded``, read from the run folder where recorded) and apply the run's pins."""
    if use_recorded and run_dir is not None:
        have = {(p.key, p.spec): p for p in recorded(run_dir)}
        wanted = hub_specs(cfg)
        if all(w in have for w in wanted):
            pins = [have[w] for w in wanted]
            return apply_pins(cfg, pins), pins
    pins = resolve_pins(cfg)
    return apply_pins(cfg, pins), pins


def load_run_folder(run_dir: str | Path) -> RunConfig:
    """A run folder's config with the commits its run recorded (what its steps were keyed on)."""
    cfg = load_run_config(Path(run_dir) / "config.yaml")
    return pin_config(cfg, Path(run_dir), use_recorded=True)[0]
