"""Typed training configuration (the ``train`` section of a run config, or ``safemix train`` flags)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str = "smollm2-135m"
    method: Literal["lora", "full", "qlora"] = "lora"
    prompt_format: Literal["alpaca", "chat"] = "alpaca"
    # LoRA (paper: r=8, alpha=16, dropout 0.05 on q_proj/v_proj)
    # upper bounds refuse, before any work, values that would ask for terabytes (r above the widest layer
    # of any model safemix trains makes no sense; cutoff_len beyond any context length)
    lora_r: int = Field(8, gt=0, le=4096)
    lora_alpha: int = Field(16, gt=0)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_target_modules: list[str] = ["q_proj", "v_proj"]
    # optimisation (paper: lr 3e-4, batch 128, cutoff 256)
    learning_rate: float = Field(3e-4, gt=0)
    batch_size: int = Field(128, gt=0)
    micro_batch_size: int = Field(8, gt=0)
    epochs: float = Field(3, gt=0)
    max_steps: int | None = Field(None, gt=0)
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float | None = 1.0
    cutoff_len: int = Field(256, gt=8, le=1_048_576)
    val_size: int = Field(0, ge=0)  # held-out examples; > 0 keeps the best checkpoint by val loss
    eval_every: int = Field(0, ge=0)  # steps between validations (0: once per epoch)
    # what the loss sees
    train_on_inputs: bool = False  # the paper's code trained on prompt tokens too
    add_eos: bool = True
    # speed
    group_by_length: bool = True
    logits_on_labels_only: bool = True
    bf16: Literal["auto", "true", "false"] = "auto"
    # memory: recompute each layer's activations in the backward pass instead of keeping them. A small
    # deep model keeps ~3.6 MB of activations per token (smollm2-135m: 30 layers); on for the quickstart
    # it halves training's peak memory (5.5 -> 2.8 GB) for ~40% more training time, same weights
    gradient_checkpointing: bool = False
    # bookkeeping
    seed: int = 42
    save_every: int = Field(20, gt=0)  # optimizer steps between resumable checkpoints
    trust_remote_code: bool = False
    progress: bool = True

    @model_validator(mode="after")
    def _batch_divides(self):
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size "
                             f"({self.micro_batch_size})")
        return self

    # fields that never change the trained weights: left out of the step key and the resume check
    NOT_IN_KEY: ClassVar[frozenset[str]] = frozenset({"progress", "save_every", "gradient_checkpointing"})

    def result_fields(self) -> dict:
        """The fields that decide the trained weights (the training step's key)."""
        return self.model_dump(exclude=set(self.NOT_IN_KEY))

    @property
    def accumulation(self) -> int:
        return self.batch_size // self.micro_batch_size
