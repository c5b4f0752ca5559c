"""Typed training configuration (the ``train`` section of a run config, or ``safemix train`` flags)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    """The training: method, LoRA, optimisation, what the loss sees, speed and memory settings."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # each field's description is its help in the config reference and its flag's in 'safemix train --help'
    model: str = Field("smollm2-135m", description="model: built-in name (smollm2-135m), local folder or Hub id (a run "
                       "config sets it from the top-level model)")
    method: Literal["lora", "full", "qlora"] = Field("lora", description="lora, full fine-tuning, or qlora (CUDA + "
                                                     "bitsandbytes)")
    prompt_format: Literal["alpaca", "chat"] = Field("alpaca", description="alpaca (the paper's template) or chat (the "
                                                     "model's own template)")
    # dpo: Rafailov et al. 2023; the data is chosen/rejected pairs; the frozen reference is the model with the adapter off
    objective: Literal["sft", "dpo"] = Field("sft", description="sft (next-token loss on demonstrations) or dpo "
                                             "(preference pairs; LoRA)")
    dpo_beta: float = Field(0.1, gt=0, description="DPO's beta: how far the policy may move from the reference")
    reference: str | None = Field(None, description="dpo: a finished LoRA training (e.g. the k=0 SFT model) to start "
                                  "from and to use as the reference (default: the base model)")
    # LoRA (paper: r=8, alpha=16, dropout 0.05 on q_proj/v_proj). Upper bounds refuse, before any work, values that
    # would ask for terabytes (r above the widest layer of any model safemix trains; cutoff_len beyond any context)
    lora_r: int = Field(8, gt=0, le=4096, description="LoRA rank (paper: 8)")
    lora_alpha: int = Field(16, gt=0, description="LoRA scaling (paper: 16)")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout (paper: 0.05)")
    lora_target_modules: list[str] | None = Field(None, description="the linear layers LoRA adapts (comma-separated on "
                                                  "the command line); none: the model family's default "
                                                  "(models/families.py)")
    # words: 16-bit slices of 64-bit random words, ~8x fewer draws (PEFT's masks took 14-25% of CPU training time)
    dropout_masks: Literal["words", "torch"] = Field("words", description="how LoRA dropout draws its masks: words or "
                                                     "torch (PEFT's nn.Dropout); same p, other masks, other adapters")
    # optimisation (paper: lr 3e-4, batch 128, cutoff 256)
    learning_rate: float = Field(3e-4, gt=0, description="peak learning rate (paper: 3e-4)")
    batch_size: int = Field(128, gt=0, le=1_048_576, description="examples per optimizer step (paper: 128)")
    micro_batch_size: int = Field(8, gt=0, le=65_536, description="examples per forward pass (gradient accumulation)")
    epochs: float = Field(3, gt=0, description="passes over the mixture (fractions allowed)")
    max_steps: int | None = Field(None, gt=0, description="stop after this many optimizer steps (overrides epochs)")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up steps")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    max_grad_norm: float | None = Field(1.0, description="gradient clipping (none: off)")
    cutoff_len: int = Field(256, gt=8, le=1_048_576, description="maximum tokens per example (paper: 256)")
    val_size: int = Field(0, ge=0, description="held-out examples; > 0 keeps the checkpoint with the best val loss")
    eval_every: int = Field(0, ge=0, description="steps between validations (0: once per epoch)")
    # what the loss sees
    train_on_inputs: bool = Field(False, description="loss on prompt tokens too (the paper's code), not only on the "
                                  "response")
    add_eos: bool = Field(True, description="end each example with the EOS token")
    # speed
    group_by_length: bool = Field(True, description="batch examples of similar length together")
    logits_on_labels_only: bool = Field(True, description="compute logits only where the loss is")
    bf16: Literal["auto", "true", "false"] = Field("auto", description="auto (bf16 autocast on a GPU, fp32 on the CPU), "
                                                   "true (bf16 on the CPU too: faster where it has bf16 instructions, "
                                                   "losses not identical) or false")
    # memory: a small deep model keeps ~3.6 MB of activations per token (smollm2-135m: 30 layers); on for the
    # quickstart it halves training's peak memory (5.5 -> 2.8 GB) for ~40% more training time, same weights
    gradient_checkpointing: bool = Field(False, description="recompute activations in the backward pass: about half "
                                         "the memory, ~40% slower, same weights")
    # bookkeeping
    seed: int = Field(42, description="seed for batching, dropout and initialisation")
    save_every: int = Field(20, gt=0, description="optimizer steps between resumable checkpoints")
    trust_remote_code: bool = Field(False, description="allow model code from the Hub")
    progress: bool = Field(True, description="show a progress bar")

    @model_validator(mode="after")
    def _batch_divides(self):
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size "
                             f"({self.micro_batch_size})")
        if self.objective == "dpo" and self.method != "lora":
            raise ValueError(f"objective dpo trains a LoRA adapter (its reference is the model with the adapter "
                             f"off): method must be lora, not {self.method}")
        if self.reference is not None and self.objective != "dpo":
            raise ValueError("reference is the starting point of a dpo training: set objective: dpo")
        return self

    # fields that never change the trained weights: left out of the step key and the resume check
    unkeyed: ClassVar[dict[str, str]] = {"progress": "shows progress", "save_every": "how often a checkpoint is saved",
                                         "gradient_checkpointing": "recomputes activations: the same weights"}
    # PEFT's masks were the only ones before dropout_masks existed: with them, a training keeps its key
    unkeyed_at: ClassVar[dict[str, tuple]] = {"dropout_masks": ("torch", "PEFT's own masks, the only ones before")}

    DPO_FIELDS: ClassVar[tuple[str, ...]] = ("objective", "dpo_beta", "reference")

    def result_fields(self) -> dict:
        """The fields that decide the trained weights (the training step's key); an SFT training's has no
        DPO fields, so its key is what it was before DPO existed."""
        from ..plugins import keyed

        return keyed(self, set(self.DPO_FIELDS) if self.objective == "sft" else set())

    @property
    def accumulation(self) -> int:
        return self.batch_size // self.micro_batch_size


class DPOSection(BaseModel):
    """The run config's ``dpo:`` section: with it, each k > 0 is trained a second way beside SFT on the mixture
    (the paper's method): SFT on the N general examples alone (the k=0 model, shared with the SFT sweep), then
    DPO on k safety preference pairs from there. The report sets the two methods side by side."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # the k pairs: 'derived' (the k safety demonstrations the SFT mixture at k adds, each its refusal as chosen and
    # the k=0 model's own answer as rejected), or a preference set (registry name or JSON/JSONL file) from which k
    # pairs are drawn nested and seeded like demonstrations (hf: specs are not read for pairs yet)
    pairs: str = "derived"
    beta: float = Field(0.1, gt=0)  # DPO's beta
    learning_rate: float = Field(5e-4, gt=0)  # the DPO training's peak learning rate (the rest is train:)
    epochs: float = Field(2, gt=0)  # passes over the k pairs
    max_new_tokens: int = Field(64, gt=0)  # derived pairs: length of the k=0 model's (rejected) answers
