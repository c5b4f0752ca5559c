"""The supervised fine-tuning recipe (LoRA, full, QLoRA) with a visible lifecycle:
``setup()`` -> ``train()`` -> ``cleanup()``.

Work happens in ``<out>.partial/``; ``cleanup()`` writes the adapter (or weights), tokenizer, config,
log and manifest there and renames it to ``<out>``: a killed run never leaves a folder that looks
finished, and ``resume=True`` continues from the last checkpoint in ``<out>.partial/``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from .. import __version__
from ..artifacts import TRAIN_MANIFEST, TrainManifest, weights_dir
from ..data.load import load_instructions
from ..data.select import hash_order
from ..errors import SafemixError
from ..fileio import atomic_write_json, atomic_write_text
from ..formats import get_format
from ..models import load_causal_lm, load_tokenizer, resolve_model
from ..models.attention import attention_kernels
from ..models.cpu_matmul import onednn_linears
from ..models.families import lora_targets
from .batches import collate, label_tokens, plan_epoch
from .checkpoint import CorruptCheckpoint, find_checkpoint, load_checkpoint, save_checkpoint, save_tensors, trainable_state
from .config import TrainConfig
from .dropout import use_word_dropout
from .examples import IGNORE, encode_all
from .fused_lora import fused_lora
from .progress import Progress

MANIFEST = TRAIN_MANIFEST


def is_finished(out: Path) -> bool:
    return (out / MANIFEST).is_file()


class SFTRecipe:
    cudnn_attention = False  # a GPU's attention stays off cuDNN's kernels (models/attention.py)
    # frozen fp32 linear layers on the CPU, and the fused LoRA layers' products, run through oneDNN, not MKL
    # (models/cpu_matmul.py, train/fused_lora.py)
    cpu_onednn = True
    # ... frozen ones reading copies of W and W^T packed once per training into oneDNN's layout (1 GB more for a 135M
    # model; the same products bit for bit): 1.03-1.15x with the fused layers, three runs (docs: benchmarks)
    cpu_packed_weights = True
    # PEFT's LoRA layers on the CPU as one autograd function each, with fewer passes over activations (train/fused_lora.py)
    cpu_fused_lora = True

    def __init__(self, cfg: TrainConfig, data: str | os.PathLike, out: str | os.PathLike,
                 data_dir: str | os.PathLike | None = None, resume: bool = False):
        self.cfg, self.data_spec, self.data_dir, self.resume = cfg, str(data), data_dir, resume
        self.out = Path(out)
        self.work = self.out.with_name(self.out.name + ".partial")
        self.on_log = None  # called with each log row (main process): live experiment tracking

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        from accelerate import Accelerator

        cfg = self.cfg
        cuda = torch.cuda.is_available()
        if cfg.method == "qlora" and not cuda:
            raise SafemixError("method 'qlora' needs a CUDA GPU and bitsandbytes; use 'lora' on CPU")
        bf16 = cfg.bf16 == "true" or (cfg.bf16 == "auto" and cuda and torch.cuda.is_bf16_supported())
        # accelerate keeps one precision per process: a second training in the same process (the Python
        # API, tests) may ask for another. The process group (PartialState) is kept.
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state()
        self.acc = Accelerator(mixed_precision="bf16" if bf16 else "no", cpu=not cuda)
        self.loaded = self._load_data()
        self.ref = resolve_model(cfg.model)
        if cfg.lora_target_modules is None:  # the model family's default (models/families.py)
            self.cfg = cfg = cfg.model_copy(update={"lora_target_modules": lora_targets(cfg.model, None,
                                                                                        cfg.method != "full")})
        self.tok = load_tokenizer(self.ref, cfg.trust_remote_code)
        self.fmt = get_format(cfg.prompt_format, self.tok)
        torch.manual_seed(cfg.seed)
        self._split_and_encode()  # validates the data before any folder is made
        if self.acc.is_main_process:  # one process owns OUT.partial: another must not wipe it under it
            self._prepare_work_dir()
        self.acc.wait_for_everyone()
        self.model = self._build_model()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        per_epoch = math.ceil(math.ceil(len(self.train_ex) / cfg.micro_batch_size) / cfg.accumulation)
        self.steps_per_epoch = per_epoch
        self.total_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * per_epoch))
        warm = cfg.warmup_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: min(
            (s + 1) / warm if warm else 1.0, max(0.0, (self.total_steps - s) / max(1, self.total_steps - warm))))
        self.model, self.optimizer = self.acc.prepare(self.model, self.optimizer)
        self.state = {"step": 0, "tokens": 0, "elapsed": 0.0, "best_val": None, "best_step": None}
        ckpt = find_checkpoint(self.work) if self.resume else None
        if ckpt is not None:
            self.state = load_checkpoint(ckpt, self.acc.unwrap_model(self.model), self.optimizer, self.scheduler)
            if self.acc.is_main_process:
                print(f"resuming {self.out} from its checkpoint at step {self.state['step']}/{self.total_steps}",
                      file=sys.stderr, flush=True)
        self._truncate_log(self.state["step"])

    def _load_data(self):
        return load_instructions(self.data_spec, self.data_dir)

    def _prepare_work_dir(self) -> None:
        # what decides the result (the progress display and checkpoint spacing do not)
        cfg_text = yaml.safe_dump({"data": self.data_spec, **self.cfg.result_fields()},
                                  sort_keys=False)
        saved = self.work / "config.yaml"
        if self.work.exists() and not self.resume:
            shutil.rmtree(self.work)
        elif self.work.exists() and saved.is_file() and saved.read_text() != cfg_text:
            raise SafemixError(f"{self.work} holds an interrupted run with a different config; "
                               f"delete it or run without --resume")
        self.work.mkdir(parents=True, exist_ok=True)
        atomic_write_text(saved, cfg_text)

    def _split_and_encode(self) -> None:
        cfg, records = self.cfg, self.loaded.records
        if cfg.val_size >= len(records):
            raise SafemixError(f"val_size={cfg.val_size} leaves no training data ({len(records)} examples)")
        order = hash_order(records, cfg.seed, "validation")
        val_idx = set(order[:cfg.val_size])
        enc = lambda recs: encode_all(recs, self.fmt, self.tok, cfg.cutoff_len, cfg.train_on_inputs, cfg.add_eos)  # noqa: E731
        self.train_ex, dropped = enc([r for i, r in enumerate(records) if i not in val_idx])
        self.val_ex, _ = enc([records[i] for i in sorted(val_idx)])
        self.dropped = dropped
        if not self.train_ex:
            raise SafemixError(f"{self.data_spec}: no example keeps a response within cutoff_len={cfg.cutoff_len}")

    def _build_model(self):
        cfg, quant = self.cfg, None
        if cfg.method == "qlora":
            from transformers import BitsAndBytesConfig

            quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                       bnb_4bit_compute_dtype=torch.bfloat16)
        # LoRA under bf16 autocast: the frozen base is held in bf16, the precision autocast multiplies it in
        # anyway, which halves its memory (a 7B base: ~13.5 GB instead of ~27); the adapter stays fp32 (PEFT)
        base_dtype = torch.bfloat16 if cfg.method == "lora" and self.acc.mixed_precision == "bf16" else None
        model = self._load_base(base_dtype, quant)
        model.config.use_cache = False
        if cfg.gradient_checkpointing:  # same weights, about half the activation memory (config.py)
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if cfg.method == "full":
            return model
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        if quant is not None:
            model = prepare_model_for_kbit_training(model)
        names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        missing = [t for t in cfg.lora_target_modules if t not in names]
        if missing:
            raise SafemixError(f"model '{cfg.model}' has no modules named {missing} for LoRA")
        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=cfg.lora_target_modules, bias="none", task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
        if cfg.dropout_masks == "words":
            use_word_dropout(model)
        return model

    def _load_base(self, dtype, quant):
        cfg = self.cfg
        return load_causal_lm(self.ref, dtype=dtype, trust_remote_code=cfg.trust_remote_code,
                              quantization_config=quant, device_map={"": self.acc.device} if quant else None)

    # ------------------------------------------------------------------ train
    def loss_units(self, examples: list) -> int:
        """What a step's loss is averaged over: its labelled tokens."""
        return label_tokens(examples)

    def batch_loss(self, examples: list) -> torch.Tensor:
        """The summed loss of one micro-batch of examples."""
        batch = {k: v.to(self.acc.device) for k, v in collate(examples, self.tok.pad_token_id).items()}
        return self.loss_sum(batch)

    def _labels_only(self) -> bool:
        """Logits only at labelled positions: one process, and a head that is a plain projection (a
        model with logit soft-capping (Gemma 2) runs its own head)."""
        config = self.acc.unwrap_model(self.model).config
        return (self.cfg.logits_on_labels_only and self.acc.num_processes == 1
                and not getattr(config, "final_logit_softcapping", None))

    def loss_sum(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Summed next-token loss over labelled positions. With ``logits_on_labels_only`` the vocabulary
        projection runs only where a label is (not on prompt or padding tokens)."""
        model, tgt = self.model, batch["labels"][:, 1:]
        if self._labels_only():
            sel = tgt != IGNORE
            return F.cross_entropy(logits_at(model, batch, sel), tgt[sel], reduction="sum")
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                               ignore_index=IGNORE, reduction="sum")

    def _step_batches(self, step: int) -> list[list[int]]:
        cfg = self.cfg
        epoch, j = divmod(step, self.steps_per_epoch)
        plan = plan_epoch([len(e) for e in self.train_ex], cfg.micro_batch_size, cfg.seed, epoch, cfg.group_by_length)
        return plan[j * cfg.accumulation:(j + 1) * cfg.accumulation]

    def train(self) -> None:
        with attention_kernels(self.acc.device.type, self.cudnn_attention), \
                onednn_linears(self.acc.unwrap_model(self.model), self.cpu_onednn, packed_frozen=self.cpu_packed_weights), \
                fused_lora(self.acc.unwrap_model(self.model), self.cpu_fused_lora, onednn=self.cpu_onednn):
            self._train()

    def _train(self) -> None:
        cfg, acc = self.cfg, self.acc
        progress = Progress(self.total_steps, enabled=cfg.progress and acc.is_main_process, start=self.state["step"])
        while self.state["step"] < self.total_steps:
            step, t0 = self.state["step"], time.perf_counter()
            self.model.train()
            micro = self._step_batches(step)
            n_units = max(1, sum(self.loss_units([self.train_ex[i] for i in mb]) for mb in micro))
            mine = micro[acc.process_index::acc.num_processes]
            total, tokens = 0.0, 0
            for k, mb in enumerate(mine):
                ex = [self.train_ex[i] for i in mb]
                sync = k == len(mine) - 1
                with acc.autocast(), (acc.no_sync(self.model) if not sync and acc.num_processes > 1 else _null()):
                    loss = self.batch_loss(ex) / n_units * acc.num_processes
                    acc.backward(loss)
                total += loss.item() / acc.num_processes
                tokens += sum(len(e) for e in ex)
            if cfg.max_grad_norm:
                acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            self.state.update(step=step + 1, tokens=self.state["tokens"] + tokens, elapsed=self.state["elapsed"] + dt)
            self._log({"step": step + 1, "epoch": round((step + 1) / self.steps_per_epoch, 4), "loss": round(total, 6),
                       "lr": self.scheduler.get_last_lr()[0], "tokens": tokens, "tokens_per_s": round(tokens / dt, 1)})
            progress.update(step + 1, tokens, dt, total)
            done = step + 1
            if self.val_ex and (done == self.total_steps or (cfg.eval_every and done % cfg.eval_every == 0)
                                or (not cfg.eval_every and done % self.steps_per_epoch == 0)):
                self._validate(done)
            if acc.is_main_process and (done % cfg.save_every == 0 or done == self.total_steps):
                save_checkpoint(self.work, acc.unwrap_model(self.model), self.optimizer, self.scheduler, self.state)
        progress.close()

    @torch.no_grad()
    def _validate(self, step: int) -> None:
        self.model.eval()
        total, n = 0.0, 0
        for start in range(0, len(self.val_ex), self.cfg.micro_batch_size):
            ex = self.val_ex[start:start + self.cfg.micro_batch_size]
            with self.acc.autocast():
                total += self.batch_loss(ex).item()
            n += self.loss_units(ex)
        val = total / max(1, n)
        self._log({"step": step, "val_loss": round(val, 6)})
        if self.state["best_val"] is None or val < self.state["best_val"]:
            self.state.update(best_val=val, best_step=step)
            if self.acc.is_main_process:
                save_tensors(self.work / "best.safetensors", trainable_state(self.acc.unwrap_model(self.model)))

    # ------------------------------------------------------------------ log
    def _log(self, row: dict) -> None:
        if self.acc.is_main_process:
            with open(self.work / "train_log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
                f.flush()
                os.fsync(f.fileno())
            if self.on_log:
                self.on_log(row)

    def _truncate_log(self, step: int) -> None:
        """Keep log rows up to the checkpoint being resumed (and drop a torn last line)."""
        path = self.work / "train_log.jsonl"
        if not path.exists():
            return
        rows = []
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row["step"] <= step:
                rows.append(line + "\n")
        atomic_write_text(path, "".join(rows))

    # ------------------------------------------------------------------ cleanup
    def cleanup(self) -> Path:
        acc, cfg = self.acc, self.cfg
        acc.wait_for_everyone()
        if not acc.is_main_process:
            return self.out
        model = acc.unwrap_model(self.model)
        if self.state["best_step"] is not None:
            from safetensors.torch import load_file

            model.load_state_dict(load_file(str(self.work / "best.safetensors")), strict=False)
        model.save_pretrained(weights_dir(self.work, "full" if cfg.method == "full" else "adapter"), safe_serialization=True)
        self.tok.save_pretrained(self.work / "tokenizer")
        log = [json.loads(x) for x in (self.work / "train_log.jsonl").read_text().splitlines()]
        losses = [r["loss"] for r in log if "loss" in r]
        manifest = TrainManifest(
            safemix_version=__version__,
            kind="full" if cfg.method == "full" else "adapter",
            base_model=cfg.model,
            base_fingerprint=self.ref.fingerprint,
            method=cfg.method,
            prompt_format=self.fmt.describe(),
            data={**self.loaded.provenance(), "train_examples": len(self.train_ex),
                  "val_examples": len(self.val_ex), "dropped_by_cutoff": self.dropped},
            seed=cfg.seed,
            steps=self.state["step"],
            first_loss=losses[0] if losses else None,
            final_loss=losses[-1] if losses else None,
            best_val_loss=self.state["best_val"],
            best_step=self.state["best_step"],
            train_tokens_per_s=round(self.state["tokens"] / max(self.state["elapsed"], 1e-9), 1),
            versions=_versions(),
            **self.manifest_extra(),
        )
        atomic_write_json(self.work / MANIFEST, manifest.dump())
        for name in ("checkpoint", "checkpoint.old", "best.safetensors"):
            path = self.work / name
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.work, self.out)
        return self.out

    def manifest_extra(self) -> dict:
        """Fields a recipe adds to the manifest."""
        return {}


RECIPES: dict[str, type[SFTRecipe]] = {"sft": SFTRecipe}  # by objective; train/dpo.py adds "dpo"


def logits_at(model, batch: dict[str, torch.Tensor], sel: torch.Tensor) -> torch.Tensor:
    """fp32 logits of the next token at the positions ``sel`` marks (shape of ``labels[:, 1:]``), the vocabulary
    projection run only there."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                use_cache=False).last_hidden_state
    return base.get_output_embeddings()(hidden[:, :-1][sel]).float()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _versions() -> dict:
    import peft
    import transformers

    return {"safemix": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__}


def train(cfg: TrainConfig, data: str | os.PathLike, out: str | os.PathLike, *, data_dir=None,
          resume: bool = False, overwrite: bool = False, tracking=None) -> Path:
    """Train and return the output folder. A finished folder is reused unless ``overwrite``.
    ``tracking``: a :class:`safemix.track.live.LiveTracking` that gets the curve as it is logged."""
    out = Path(out)
    if is_finished(out) and not overwrite:
        return out
    recipe_class = RECIPES[cfg.objective]
    recipe = recipe_class(cfg, data, out, data_dir, resume)
    try:
        recipe.setup()
    except CorruptCheckpoint as exc:
        # a half-restored model cannot be trusted: drop the checkpoint and start this training afresh
        print(f"warning: cannot resume from the checkpoint ({exc}); restarting this training from step 0",
              file=sys.stderr)
        recipe = recipe_class(cfg, data, out, data_dir, resume=False)
        recipe.setup()
    if tracking is not None and recipe.acc.is_main_process:
        tracking.start(recipe.work)
        recipe.on_log = tracking.log
    recipe.train()
    if tracking is not None and recipe.acc.is_main_process:
        s = recipe.state
        tracking.finish({"train/steps": s["step"], "train/tokens": s["tokens"], "train/seconds": round(s["elapsed"], 2)}
                        | ({"train/best_val_loss": s["best_val"]} if s["best_val"] is not None else {}))
    return recipe.cleanup()
