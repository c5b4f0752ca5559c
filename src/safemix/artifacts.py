"""Where each stage's artifacts live on disk: one place for every file and folder name.

- a mixture folder holds ``k{K}.json`` (Alpaca JSON) and ``k{K}.manifest.json`` per k;
- a training output holds ``manifest.json`` (written last), ``adapter/`` (LoRA) or ``model/``
  (full fine-tune), ``tokenizer/``, ``config.yaml`` and ``train_log.jsonl``;
- a generation folder holds ``SUITE.jsonl`` per suite and ``done.json`` (markers.py);
- a judge folder holds ``SUITE.JUDGE.jsonl`` per suite and judge and ``done.json``;
- a capability step writes ``capability.json``;
- a run folder holds ``run.json`` (what the last call did, per-step seconds and memory).

Below the names, each record those files hold is a pydantic model (the contract between stages).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import DataError

MIXTURE = "k{k}.json"
MIXTURE_MANIFEST = "k{k}.manifest.json"
TRAIN_MANIFEST = "manifest.json"
CAPABILITY = "capability.json"
TRAIN_LOG = "train_log.jsonl"
STEP_TIMING = "timing.json"  # in each step's folder: what the step cost (a StepTime)


def run_record(run_dir: str | Path) -> Path:
    return Path(run_dir) / "run.json"


def mixture_file(folder: str | Path, k: int) -> Path:
    return Path(folder) / MIXTURE.format(k=k)


def mixture_manifest(folder: str | Path, k: int) -> Path:
    return Path(folder) / MIXTURE_MANIFEST.format(k=k)


def weights_dir(train_out: str | Path, kind: str) -> Path:
    """``adapter/`` for a LoRA/QLoRA output (manifest kind "adapter"), ``model/`` for a full fine-tune."""
    return Path(train_out) / ("model" if kind == "full" else "adapter")


def generation_file(folder: str | Path, suite: str) -> Path:
    return Path(folder) / f"{suite}.jsonl"


def verdict_file(folder: str | Path, suite: str, judge_id: str) -> Path:
    return Path(folder) / f"{suite}.{judge_id}.jsonl"


# --------------------------------------------------------------------------- typed records
# One pydantic model per on-disk record. Writers build them (so a record cannot be written without its
# required fields) and readers validate through them (so a bad file is a one-line error naming the file
# and record). Fields beyond the declared ones are kept as they are (``extra="allow"``): provenance
# grows without a schema change, and files of older versions still read.

class Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    def dump(self) -> dict:
        """The record as written: declared fields in declared order, then the extra ones."""
        return self.model_dump(mode="json")


class PromptFormatInfo(Record):
    name: str


class MixtureManifest(Record):
    kind: Literal["mixture"] = "mixture"
    k: int
    n_general: int
    seed: int
    strategy: str
    counts: dict[str, int]


class TrainManifest(Record):
    """``manifest.json`` of a training output, written last: its presence marks the output finished."""
    kind: Literal["adapter", "full"]
    base_model: str
    base_fingerprint: str | None = None
    prompt_format: PromptFormatInfo


class GenerationRecord(Record):
    """One answer in ``SUITE.jsonl``; ``key`` identifies (model, adapter, formatted input, decoding)."""
    suite: str | None = None
    id: str
    prompt: str
    input: str | None = None
    label: str | None = None
    type: str | None = None
    formatted_input: str | None = None
    output: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    decoding: dict | None = None
    key: str


class VerdictRecord(Record):
    """One judge's verdict on one answer in ``SUITE.JUDGE.jsonl``; ``kind`` fixes its metrics."""
    id: str
    suite: str | None = None  # None in files written before records carried it (read from the file name)
    gen_key: str | None = None
    judge: str
    judge_version: str | None = None
    kind: str | None = None  # always written; None only in files of safemix 0.1, which the report refuses
    label: str | None = None
    score: float | None = None
    error: str | None = None
    failed: bool = False
    details: dict | None = None  # judge-specific (moderation categories and scores, a guard's codes)
    confidence: float | None = None  # the judge's probability of its label (judges that give one)
    uncertain: bool = False  # below the judge's confidence threshold: counted per judge and suite in the report
    key: str


class StepMarker(Record):
    """``done.json``: written last by the stage that finished the folder."""
    stage: str
    complete: Literal[True] = True


class CapabilityResult(Record):
    """``capability.json``: lm-eval scores per task (each with its metrics and standard errors)."""
    tasks: dict[str, dict]


class StepTime(Record):
    stage: str
    point: str
    seconds: float
    peak_rss_mb: float


class JobRecord(Record):
    """A point's job on a cluster executor, and how it ended."""
    point: str
    executor: str
    job_id: str | None = None
    state: str
    reason: str | None = None
    log: str | None = None


@dataclass
class Point:
    """One judged point of a sweep, as the report and the labels read it: its (k, seed) and its step folders."""
    k: int
    seed: int
    generations: Path
    judgements: Path
    capability: Path | None = None  # folder with capability.json (lm-eval scores)
    quality: Path | None = None  # folder of quality-judge verdicts
    outputs: dict[str, Path] | None = None  # every finished step folder of this point, by stage (plug-ins' rows)


STEPS = "steps.json"


class StepEntry(Record):
    """One step of a run's plan: its stage, point, key and folder (relative to the run folder)."""
    stage: str
    k: int
    seed: int
    key: str
    path: str
    parent: str | None = None  # the parent step's folder
    marker: str  # the file that marks it finished, inside ``path``
    arm: str = "sft"  # the method whose point it belongs to: sft, or sft+dpo (steps both share are sft's)


class RunSteps(Record):
    """``steps.json``: every step of a run's plan, written by ``safemix run`` and ``safemix report`` each time they
    plan. What the report, the model card, tracking and the labels read to find a run's artifacts (they never
    plan again themselves)."""
    name: str
    model: str
    steps: list[StepEntry]

    def done(self, run_dir: Path, step: StepEntry) -> bool:
        return (Path(run_dir) / step.path / step.marker).is_file()

    def judged_points(self, run_dir: Path, arm: str = "sft") -> list[Point]:
        """The finished judge steps of one method (``arm``) as report points, with their capability and quality
        folders where finished."""
        run_dir = Path(run_dir)
        own = [s for s in self.steps if s.arm == arm]
        finished = {(s.stage, s.k, s.seed): run_dir / s.path for s in own if self.done(run_dir, s)}
        return [Point(s.k, s.seed, run_dir / s.parent, run_dir / s.path, capability=finished.get(("capability", s.k, s.seed)),
                      quality=finished.get(("quality", s.k, s.seed)),
                      outputs={st: p for (st, k, seed), p in finished.items() if (k, seed) == (s.k, s.seed)})
                for s in own if s.stage == "judge" and s.parent and (s.stage, s.k, s.seed) in finished]


def read_steps(run_dir: str | Path) -> RunSteps:
    """A run folder's ``steps.json``; a one-line error naming the command that writes it when it is missing."""
    from .errors import SafemixError

    path = Path(run_dir) / STEPS
    if not path.is_file():
        raise SafemixError(f"{path}: no step list in this run folder; 'safemix report {run_dir}' writes it")
    return read_record(RunSteps, path)


class RunRecord(Record):
    """``run.json``: what the last ``safemix run`` call did and cost (and, on a cluster, its jobs)."""
    config: str
    steps: int
    ran: int
    held_by_others: int = 0
    peak_rss_mb: float | None = None
    seconds_this_call: float | None = None
    step_times: list[StepTime] = []
    executor: str = "local"
    jobs: list[JobRecord] = []
    revisions: dict[str, str] = {}  # config key -> the Hub spec pinned to its commit (run/pins.py)
    isolated: bool = False  # each step ran in its own child process; its step_times peaks are the steps' own


R = TypeVar("R", bound=Record)


def _problem(exc: ValidationError) -> str:
    from .errors import validation_line

    return validation_line(exc, limit=1, default="record", template="field '{where}': {msg}")


def parse_record(model: type[R], doc, path: str | Path, index: int | None = None) -> R:
    """``doc`` validated as ``model``; a one-line :class:`DataError` naming the file and record otherwise."""
    if not isinstance(doc, dict):
        raise DataError(Path(path), f"expected a JSON object, got {type(doc).__name__}", index)
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise DataError(Path(path), _problem(exc), index) from None


def read_record(model: type[R], path: str | Path) -> R:
    """A JSON file (a manifest, a marker, ``capability.json``) read as ``model``."""
    from .parse import load_json

    return parse_record(model, load_json(Path(path)), path)


def read_records(model: type[R], path: str | Path) -> list[R]:
    """Every record of a JSONL file read as ``model``; a torn or invalid line names its record."""
    from .parse import iter_jsonl

    return [parse_record(model, doc, path, i) for i, doc in iter_jsonl(Path(path))]
