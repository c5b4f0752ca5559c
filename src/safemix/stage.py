"""The stage: the unit a sweep is made of, and the registry stages join (a built-in in ``run/stages.py``, a plug-in
from its own module).

A stage owns everything about itself:

- ``name``, ``parent`` (the earlier stage whose output it reads; its key hashes the parent's key) and ``after``
  (where it goes in the sweep's order, for a plug-in: ``register_stage(Toy(), after="generate")``);
- ``section``: its config section's model (a plug-in's section is the run config's key ``name``, optional: the
  stage is enabled when the section is present);
- ``reads`` / ``unkeyed``: the config fields that decide its output (all in its key) and those it reads only to find
  its inputs; ``key_parts``: what its key hashes besides its parent's key;
- ``marker``: the file it writes last; ``run``: one step, given a :class:`StageContext` that holds only the
  declared fields;
- ``checks``: what ``safemix run --check`` verifies for it before any work;
- ``metrics`` and ``result_rows``: the metrics it declares and its rows of the results document, read from its
  finished step of each point;
- ``command``: an optional command-line verb (``safemix NAME``).

The planner, runner, audit, report and ``--check`` loop over :data:`STAGES` and know no stage by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator

from .markers import DONE
from .plugins import Registry

if TYPE_CHECKING:
    from .artifacts import Point
    from .metrics import MetricSpec

def data_dir(cfg) -> str | None:
    """Where a run config's data sets are: data.data_dir, else $SAFEMIX_DATA_DIR (data/resolve.py reads it)."""
    from .data.resolve import data_dir as resolve

    found = resolve(cfg.data.data_dir)
    return str(found) if found else None


SFT, SFT_DPO = "sft", "sft+dpo"  # the methods (arms) a sweep can compare: the paper's SFT on mixtures, and DPO


class UndeclaredRead(RuntimeError):
    """A stage read a config field it does not declare (a bug in the stage: its key may miss it)."""


class ConfigView:
    """The run config as a stage may read it: the fields under its declared paths, nothing else."""

    def __init__(self, obj, allowed: frozenset[str], prefix: str = ""):
        self._obj, self._allowed, self._prefix = obj, allowed, prefix

    def __getattr__(self, name: str):
        path = self._prefix + name
        value = getattr(self._obj, name)
        if any(path == a or path.startswith(a + ".") for a in self._allowed):
            return value
        if value is not None and any(a.startswith(path + ".") for a in self._allowed):
            return ConfigView(value, self._allowed, path + ".")
        raise UndeclaredRead(f"a stage read config field '{path}' without declaring it (reads / unkeyed)")


@dataclass(frozen=True)
class StageContext:
    """What a stage is handed to run one step."""
    config: ConfigView  # the run config's fields the stage declares (reads + unkeyed), nothing else
    path: Path  # the step's output folder (the stage writes its marker there, last)
    parent: Path | None  # the parent step's output folder (its artifact), None for a first stage
    k: int
    seed: int
    data_dir: str | None  # where the data sets are (data.data_dir, else $SAFEMIX_DATA_DIR)
    progress: bool = False  # show progress bars
    # a model as it is, where there is no train step (safemix audit): its spec and prompt format, and a label
    model: str | None = None
    prompt_format: str | None = None
    label: str | None = None
    grandparent: Path | None = None  # the parent step's own parent's output (the DPO training's reference model)

    @property
    def point(self) -> str:
        return self.label or f"k={self.k} seed={self.seed}"


@dataclass(frozen=True)
class CheckRow:
    """One row of ``--check``: OK or FAIL, the config key, what was found, the fix."""
    what: str
    key: str
    ok: bool
    detail: str
    fix: str = ""


class Stage:
    name: ClassVar[str]
    parent: ClassVar[str | None] = None
    after: ClassVar[str | None] = None  # a plug-in: the stage it follows in the sweep's order
    marker: ClassVar[str] = DONE
    section: ClassVar[type | None] = None  # a plug-in's config section (the run config's key ``name``)
    # the arms whose points have this stage; a stage that ``stands_for`` another is its parent for the later
    # stages of its arm (the DPO training stands for the training: generation reads the DPO model)
    arms: ClassVar[tuple[str, ...]] = (SFT, SFT_DPO)
    stands_for: ClassVar[str | None] = None
    # config fields (dotted paths; a section stands for every field in it) that decide the output:
    # every one of them is covered by ``key_parts``
    reads: ClassVar[tuple[str, ...]] = ()
    # fields read but left out of the key, each because it cannot change the output (where to find
    # the inputs, how to show progress, limits that only bound waiting)
    unkeyed: ClassVar[tuple[str, ...]] = ()
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()  # the metrics its result rows hold
    command: ClassVar[Callable[..., Any] | None] = None  # a command-line verb, ``safemix NAME`` (Typer function)

    def view(self, cfg) -> ConfigView:
        return ConfigView(cfg, frozenset(self.reads + self.unkeyed))

    def enabled(self, cfg) -> bool:
        """Whether the sweep has this stage: a plug-in's when its section is in the config."""
        return self.section is None or getattr(cfg, self.name, None) is not None

    def key_parts(self, cfg, k: int, seed: int) -> tuple:
        """What the step's output depends on besides its parent's key (a plug-in: its section)."""
        if self.section is not None:
            return (getattr(cfg, self.name).model_dump(),)
        raise NotImplementedError

    def context(self, cfg, path: Path, parent: Path | None, k: int, seed: int, progress: bool = False,
                grandparent: Path | None = None) -> StageContext:
        return StageContext(self.view(cfg), Path(path), Path(parent) if parent else None, k, seed, data_dir(cfg),
                            progress, grandparent=Path(grandparent) if grandparent else None)

    def run(self, ctx: StageContext) -> None:
        raise NotImplementedError

    def checks(self, cfg) -> list[CheckRow]:
        """What ``--check`` verifies for this stage before any work (the built-ins' are in run/check.py)."""
        return []

    def result_rows(self, point: Point, path: Path) -> list[dict]:
        """Its rows of the results document from its finished step of ``point`` (``path``: the step's folder)."""
        return []


class StageRegistry(Registry[Stage]):
    """The registered stages by name, in the sweep's order: the built-ins (``run/stages.py``) as they registered, each
    plug-in right after the stage it names (``after``); the order is computed when read, since a plug-in may load
    before the built-ins."""

    def register(self, stage: Stage) -> Stage:
        from .errors import SafemixError

        if dict.__contains__(self, stage.name):
            raise SafemixError(f"stage '{stage.name}' is registered twice")
        return self.add(stage.name, stage)

    def unregister(self, name: str) -> None:
        dict.pop(self, name, None)

    def _ordered(self) -> list[str]:
        self.discover()
        entries = list(dict.values(self))
        out = [s for s in entries if s.after is None]
        waiting = [s for s in entries if s.after is not None]
        while waiting:
            placed = False
            for s in list(waiting):
                names = [o.name for o in out]
                if s.after in names:
                    at = names.index(s.after) + 1
                    # after the stage it names, and after any plug-in placed there before it
                    while at < len(out) and out[at].after == s.after:
                        at += 1
                    out.insert(at, s)
                    waiting.remove(s)
                    placed = True
            if not placed:
                break  # a stage after one that is not registered: left out of the order
        return [s.name for s in out]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ordered())

    def keys(self):
        return self._ordered()

    def values(self):
        return [dict.__getitem__(self, n) for n in self._ordered()]

    def items(self):
        return [(n, dict.__getitem__(self, n)) for n in self._ordered()]

    def plugins(self) -> list[Stage]:
        """The stages registered with a config section of their own (plug-ins)."""
        return [s for s in self.values() if s.section is not None]

    def sections(self) -> dict[str, type]:
        """Each plug-in stage's config section by its name; loads the plug-ins but not the built-in stages (the run
        config is built from this while ``run/stages.py``, which imports it, may not be importable yet)."""
        from .plugins import load_external

        load_external()
        return {s.name: s.section for s in dict.values(self) if s.section is not None}


STAGES = StageRegistry("stage", modules=("safemix.run.stages",))  # the built-ins; plug-ins join


def register_stage(stage: Stage) -> Stage:
    """Add a stage to the sweep (a plug-in module calls this when imported: ``$SAFEMIX_PLUGINS`` / entry points)."""
    return STAGES.register(stage)
