"""The options judges take, each declared once (type, bounds, help): a judge's options model is made of these,
and ``judge_options:`` in a run config and ``safemix judge``'s flags are generated from the registered models
(plugins.merged). A judge's factory gets only the options that were given; its own defaults apply otherwise."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..plugins import Options

BaseUrl = Annotated[str | None, Field(description="OpenAI-compatible API base URL (key from $OPENAI_API_KEY)")]
JudgeModel = Annotated[str | None, Field(description="the model behind the judge: an API model name (llm-*, "
                                                     "moderation) or a local folder / Hub id (guards, quality-rm)")]
Timeout = Annotated[float | None, Field(gt=0, description="API judges: seconds per attempt (default 60)")]
MaxRetries = Annotated[int | None, Field(ge=0, description="API judges: retries on 429/5xx/timeouts (default 4; "
                                                           "Retry-After is honoured)")]
MaxTime = Annotated[float | None, Field(gt=0, description="API judges: seconds for all calls of one judge in one "
                                                          "step (default: no limit)")]
BatchSize = Annotated[int | None, Field(gt=0, description="answers per batch (moderation: inputs per request)")]
Backend = Annotated[Literal["hf", "vllm"] | None, Field(description="guard models: the generation engine")]
MaxNewTokens = Annotated[int | None, Field(gt=0, description="guard models: tokens of the guard's verdict")]
Device = Annotated[str | None, Field(description="reward models: torch device (default: cuda when present)")]
AllowUnsafeWeights = Annotated[bool | None, Field(description="reward models: accept pickle (.bin) weights; "
                                                              "off: safetensors only")]
Threshold = Annotated[float | None, Field(description="harm reward models: score above which an answer is harmful "
                                                      "(none: scores only)")]
Encoder = Annotated[str | None, Field(description="quality-relevance: the sentence encoder (built-in name or "
                                                  "folder; default all-MiniLM-L6-v2)")]
DataDir = Annotated[str | None, Field(description="where the data sets are (given by the pipeline, not the config)")]


class NoOptions(Options):
    """A judge that takes no options."""


class ApiOptions(Options):
    """A judge behind an OpenAI-compatible API."""
    unkeyed = {"timeout": "bounds waiting", "max_retries": "bounds waiting", "max_time": "bounds waiting"}
    base_url: BaseUrl = None
    judge_model: JudgeModel = None
    timeout: Timeout = None
    max_retries: MaxRetries = None
    max_time: MaxTime = None


class BatchedApiOptions(ApiOptions):
    unkeyed = ApiOptions.unkeyed | {"batch_size": "how many answers go in one request"}
    batch_size: BatchSize = None


class GuardOptions(Options):
    """A guard model run locally (transformers or vLLM)."""
    unkeyed = {"batch_size": "how many answers the model reads at once (greedy: the same verdicts)"}
    judge_model: JudgeModel = None
    backend: Backend = None
    batch_size: BatchSize = None
    max_new_tokens: MaxNewTokens = None


class RewardModelOptions(Options):
    unkeyed = {"batch_size": "how many answers the model scores at once"}
    batch_size: BatchSize = None
    device: Device = None
    allow_unsafe_weights: AllowUnsafeWeights = None
    threshold: Threshold = None


class QualityRewardModelOptions(RewardModelOptions):
    judge_model: JudgeModel = None


class EncoderOptions(Options):
    encoder: Encoder = None


class DataOptions(Options):
    """A judge trained from the data sets (found in the data folder the pipeline gives it)."""
    data_dir: DataDir = None
