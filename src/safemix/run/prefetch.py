"""``safemix prefetch CONFIG``: everything a run needs, fetched ahead into the caches, on a machine with internet.

Compute nodes often have none. Run this on a login node with the same ``HF_HOME`` (the Hub cache: models, and
``hf:`` data sets through ``datasets``), ``SAFEMIX_CACHE_DIR`` (registry data sets, judges' fitted weights) and
``SAFEMIX_DATA_DIR`` as the jobs will see (a shared file system), then run the jobs with ``HF_HUB_OFFLINE=1``:
every Hub id resolves from the cache to the commit prefetch pinned, and ``safemix run --check`` passes there.
"""

from __future__ import annotations

from ..config import RunConfig
from ..errors import SafemixError
from .check import Check, attempt, run_judges
from .stages import data_dir

OFFLINE_ENV = ("HF_HUB_OFFLINE=1", "HF_DATASETS_OFFLINE=1", "SAFEMIX_OFFLINE=1")


def prefetch(cfg: RunConfig) -> list[Check]:
    """Fetch the model (pinned), the data sets and suites, the capability tasks' data and each judge's data or
    weights; one row each (``--check``'s rows), a failure never hiding the rest."""
    from ..data.load import load_instructions, load_suites
    from ..models import resolve_model
    from .pins import apply_pins, resolve_pins

    rows: list[Check] = []
    try:
        pins = resolve_pins(cfg)
        rows += [Check(f"{p.key} {p.spec}", p.key, True, f"commit {p.commit}") for p in pins]
        apply_pins(cfg, pins)
    except SafemixError as exc:
        rows.append(Check("Hub revisions", "model / data", False, str(exc)))
    dd, au = data_dir(cfg), cfg.data.allow_unpinned
    rows.append(attempt(f"model {cfg.model}", "model", lambda: resolve_model(cfg.model).path))
    for key, spec in (("data.general", cfg.data.general), ("data.safety", cfg.data.safety)):
        rows.append(attempt(f"{key} {spec}", key, lambda spec=spec: f"{len(load_instructions(spec, dd, au).records)} examples"))
    if cfg.dpo is not None and cfg.dpo.pairs != "derived":
        from ..data.load import load_preferences

        rows.append(attempt(f"dpo.pairs {cfg.dpo.pairs}", "dpo.pairs",
                            lambda: f"{len(load_preferences(cfg.dpo.pairs, dd).records)} pairs"))
    rows.append(attempt("generate.suites", "generate.suites", lambda: ", ".join(
        f"{n} ({len(s.records)})" for n, s in load_suites(cfg.generate.suites, dd).items())))
    if cfg.capability is not None:
        rows.append(attempt("capability.tasks", "capability.tasks", lambda: _capability(cfg.capability.tasks)))
    rows += [attempt(what, key, lambda build=build: build().fetch()) for what, key, build in run_judges(cfg)]
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


def table(rows: list[Check]) -> str:
    width = max(len(r.what) for r in rows)
    lines = [f"{'OK' if r.ok else 'FAIL':<4}  {r.what:<{width}}  {r.detail}" for r in rows]
    failed = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - failed} fetched, {failed} failed")
    if not failed:
        lines.append("on the compute nodes (same HF_HOME, SAFEMIX_CACHE_DIR and SAFEMIX_DATA_DIR): "
                     f"{' '.join(OFFLINE_ENV)} safemix run CONFIG --check")
    return "\n".join(lines)
