"""``safemix prefetch CONFIG``: everything a run needs, fetched ahead into the caches, on a machine with internet.

Compute nodes often have none. Run this on a login node with the same ``HF_HOME`` (the Hub cache: models, and
``hf:`` data sets through ``datasets``), ``SAFEMIX_CACHE_DIR`` (registry data sets, judges' fitted weights) and
``SAFEMIX_DATA_DIR`` as the jobs will see (a shared file system), then run the jobs with ``HF_HUB_OFFLINE=1``:
every Hub id resolves from the cache to the commit prefetch pinned, and ``safemix run --check`` passes there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..config import RunConfig
from ..errors import SafemixError
from .stages import data_dir

OFFLINE_ENV = ("HF_HUB_OFFLINE=1", "HF_DATASETS_OFFLINE=1", "SAFEMIX_OFFLINE=1")


@dataclass(frozen=True)
class Fetched:
    what: str
    ok: bool
    detail: str


def _one(what: str, fn: Callable[[], str]) -> Fetched:
    try:
        return Fetched(what, True, fn() or "")
    except SafemixError as exc:
        return Fetched(what, False, str(exc))
    except Exception as exc:  # a library's error: one line
        return Fetched(what, False, f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:240]}")


def prefetch(cfg: RunConfig) -> list[Fetched]:
    """Fetch the model (pinned), the data sets and suites, the capability tasks' data and each judge's data or
    weights; one row each, a failure never hiding the rest."""
    from ..data.load import load_instructions, load_suites
    from ..judge import get_judges
    from ..models import resolve_model
    from .pins import resolve_pins

    rows: list[Fetched] = []
    try:
        pins = resolve_pins(cfg)
        rows += [Fetched(f"{p.key} {p.spec}", True, f"commit {p.commit}") for p in pins]
        from .pins import apply_pins

        apply_pins(cfg, pins)
    except SafemixError as exc:
        rows.append(Fetched("Hub revisions", False, str(exc)))
    dd, au = data_dir(cfg), cfg.data.allow_unpinned
    rows.append(_one(f"model {cfg.model}", lambda: resolve_model(cfg.model).path))
    for key, spec in (("data.general", cfg.data.general), ("data.safety", cfg.data.safety)):
        rows.append(_one(f"{key} {spec}", lambda spec=spec: f"{len(load_instructions(spec, dd, au).records)} examples"))
    if cfg.dpo is not None and cfg.dpo.pairs != "derived":
        from ..data.load import load_preferences

        rows.append(_one(f"dpo.pairs {cfg.dpo.pairs}", lambda: f"{len(load_preferences(cfg.dpo.pairs, dd).records)} pairs"))
    rows.append(_one("generate.suites", lambda: ", ".join(f"{n} ({len(s.records)})"
                                                          for n, s in load_suites(cfg.generate.suites, dd).items())))
    if cfg.capability is not None:
        rows.append(_one("capability.tasks", lambda: _capability(cfg.capability.tasks)))
    names = list(cfg.judges) + ([cfg.budget.judge] if cfg.budget else [])
    from ..judge.base import registry

    for name in names:
        given = {o: v for o, v in cfg.judge_options.given().items() if name in registry() and o in registry()[name].options}
        rows.append(_one(f"judge {name}", lambda name=name, given=given: get_judges([name], data_dir=dd, **given)[0].fetch()))
    if cfg.quality is not None:
        q = cfg.quality
        kwargs = {"judge_model": q.judge_model} if q.judge_model else {}
        rows.append(_one(f"quality judge {q.judge}", lambda: get_judges([q.judge], data_dir=dd, **kwargs)[0].fetch()))
    return rows


def _capability(tasks) -> str:
    """The harness tasks' data sets downloaded into the datasets cache (local tasks need nothing)."""
    from ..capability.tasks import parse_tasks

    named = [s.name for s in parse_tasks(tasks) if not s.local]
    if not named:
        return "local tasks only"
    try:
        from lm_eval.tasks import TaskManager, get_task_dict
    except ImportError:
        raise SafemixError("'lm_eval' is not installed; install it with: pip install 'safemix[lmeval]'") from None
    get_task_dict(named, TaskManager())  # builds each task, which downloads its data set
    return ", ".join(named)


def table(rows: list[Fetched]) -> str:
    width = max(len(r.what) for r in rows)
    lines = [f"{'OK' if r.ok else 'FAIL':<4}  {r.what:<{width}}  {r.detail}" for r in rows]
    failed = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - failed} fetched, {failed} failed")
    if not failed:
        lines.append("on the compute nodes (same HF_HOME, SAFEMIX_CACHE_DIR and SAFEMIX_DATA_DIR): "
                     f"{' '.join(OFFLINE_ENV)} safemix run CONFIG --check")
    return "\n".join(lines)
