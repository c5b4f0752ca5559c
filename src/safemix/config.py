"""The typed run configuration (``safemix run CONFIG.yaml``): one model per pipeline stage."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import SafemixError
from .train.config import TrainConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(_Strict):
    general: str
    n_general: int = Field(gt=0)
    safety: str = "safety-tuned-llamas"
    k: list[int]
    strategy: Literal["random", "maxmin", "cluster"] = "random"
    data_dir: str | None = None

    @field_validator("k")
    @classmethod
    def _ks(cls, v: list[int]) -> list[int]:
        if not v or any(k < 0 for k in v):
            raise ValueError("k must be a non-empty list of integers >= 0")
        return sorted(set(v))


class GenerateSection(_Strict):
    suites: list[str] = ["paper", "xstest"]
    limit_per_suite: int | None = Field(None, gt=0)
    preset: Literal["paper", "greedy", "sample"] = "paper"
    max_new_tokens: int | None = Field(None, gt=0)
    batch_size: int = Field(16, gt=0)
    backend: Literal["hf", "vllm"] = "hf"


class RunConfig(_Strict):
    name: str
    model: str
    seeds: list[int] = [1]
    data: DataSection
    train: TrainConfig = TrainConfig()
    generate: GenerateSection = GenerateSection()
    judges: list[str] = ["xstest-strmatch", "refusal-clf", "harm-hh"]


def load_run_config(path: str | Path) -> RunConfig:
    """Load and validate a run config; an error names the file, the key and what was expected."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SafemixError(f"{path}: cannot read YAML ({exc})") from None
    if not isinstance(doc, dict):
        raise SafemixError(f"{path}: expected a mapping of sections (name, model, data, train, ...)")
    if isinstance(doc.get("train"), dict):
        doc["train"].setdefault("model", doc.get("model"))
    try:
        return RunConfig(**doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"])
        raise SafemixError(f"{path}: {where}: {e['msg']}") from None
