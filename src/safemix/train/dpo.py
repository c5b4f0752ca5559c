"""Direct preference optimisation (Rafailov et al. 2023) with the SFT recipe's lifecycle, checkpoints and
manifest: ``objective: dpo`` on chosen/rejected pairs.

The policy is a LoRA adapter; the frozen reference is the same model with the adapter switched off, so
memory stays one model. With ``reference`` (a finished LoRA training, e.g. the k=0 SFT model) that
adapter is merged into the base first: the policy starts from it and it is the reference. The loss is
TRL's ``sigmoid`` DPO loss: per pair ``-log sigmoid(beta * ((log pi(c) - log ref(c)) - (log pi(r) -
log ref(r))))``, log-probabilities summed over the answer's tokens (the prompt carries no loss), averaged
over the pairs of an optimizer step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.load import load_preferences
from ..data.records import Instruction, PreferencePair
from ..errors import SafemixError
from .batches import collate
from .examples import IGNORE, Example, encode_example
from .recipe import RECIPES, SFTRecipe, logits_at


@dataclass(frozen=True, slots=True)
class PairExample:
    chosen: Example
    rejected: Example

    def __len__(self) -> int:
        return len(self.chosen) + len(self.rejected)


def encode_pair(pair: PreferencePair, fmt, tok, cutoff_len: int, add_eos: bool = True) -> PairExample | None:
    """Both answers after the same formatted prompt, labels on the answer only; None when truncation
    leaves either answer without a token."""
    enc = [encode_example(Instruction(pair.instruction, pair.input, answer, "pairs", pair.id), fmt, tok,
                          cutoff_len, False, add_eos) for answer in (pair.chosen, pair.rejected)]
    return None if None in enc else PairExample(*enc)


def sequence_logps(model, batch: dict[str, torch.Tensor], labels_only: bool) -> torch.Tensor:
    """Per row, the summed log-probability of its labelled tokens."""
    tgt = batch["labels"][:, 1:]
    sel = tgt != IGNORE
    if labels_only:  # the vocabulary projection only where a label is
        token_logps = -F.cross_entropy(logits_at(model, batch, sel), tgt[sel], reduction="none")
    else:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        token_logps = -F.cross_entropy(logits.float()[sel], tgt[sel], reduction="none")
    rows = sel.nonzero()[:, 0]
    return torch.zeros(tgt.shape[0], dtype=token_logps.dtype, device=tgt.device).index_add(0, rows, token_logps)


def dpo_loss(policy: torch.Tensor, reference: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-pair losses from [chosen..., rejected...] log-probabilities of policy and reference."""
    pc, pr = policy.chunk(2)
    rc, rr = reference.chunk(2)
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr)))


class DPORecipe(SFTRecipe):
    def _load_data(self):
        return load_preferences(self.data_spec, self.data_dir)

    def _split_and_encode(self) -> None:
        from ..data.select import hash_order

        cfg, pairs = self.cfg, self.loaded.records
        if cfg.reference is not None:
            self._reference()  # checked before any folder is made
        if cfg.val_size >= len(pairs):
            raise SafemixError(f"val_size={cfg.val_size} leaves no training pairs ({len(pairs)} pairs)")
        val_idx = set(hash_order(pairs, cfg.seed, "validation")[:cfg.val_size])
        enc = [encode_pair(p, self.fmt, self.tok, cfg.cutoff_len, cfg.add_eos) for p in pairs]
        self.train_ex = [e for i, e in enumerate(enc) if e is not None and i not in val_idx]
        self.val_ex = [e for i, e in enumerate(enc) if e is not None and i in val_idx]
        self.dropped = sum(e is None for e in enc)
        if not self.train_ex:
            raise SafemixError(f"{self.data_spec}: no pair keeps an answer within cutoff_len={cfg.cutoff_len}")

    def _load_base(self, dtype, quant):
        model = super()._load_base(dtype, quant)
        if self.cfg.reference is None:
            return model
        from ..models.adapter import apply_adapter

        return apply_adapter(model, self._reference()[1])

    def _reference(self) -> tuple[dict, Path]:
        from ..models.trained import read_adapter

        manifest, weights, fmt = read_adapter(self.cfg.reference)
        if manifest.get("kind") != "adapter":
            raise SafemixError(f"reference {self.cfg.reference}: a LoRA training output is needed, not full weights")
        if manifest.get("base_fingerprint") not in (None, self.ref.fingerprint):
            raise SafemixError(f"reference {self.cfg.reference} was trained on another base model than '{self.cfg.model}'")
        if fmt != self.fmt.describe()["name"]:
            raise SafemixError(f"reference {self.cfg.reference} was trained with prompt format '{fmt}', "
                               f"this training uses '{self.fmt.describe()['name']}'")
        return manifest, weights

    def loss_units(self, examples: list) -> int:
        return len(examples)  # the loss is a mean over pairs

    def batch_loss(self, examples: list) -> torch.Tensor:
        batch = {k: v.to(self.acc.device) for k, v in
                 collate([e.chosen for e in examples] + [e.rejected for e in examples], self.tok.pad_token_id).items()}
        labels_only = self._labels_only()
        policy = sequence_logps(self.model, batch, labels_only)
        with torch.no_grad(), self.acc.unwrap_model(self.model).disable_adapter():
            reference = sequence_logps(self.model, batch, labels_only)
        return dpo_loss(policy, reference, self.cfg.dpo_beta).sum()

    def manifest_extra(self) -> dict:
        extra = {"objective": "dpo", "dpo_beta": self.cfg.dpo_beta, "reference": None}
        if self.cfg.reference is not None:
            from ..models.adapter import adapter_fingerprint

            _, weights = self._reference()
            where = Path(self.cfg.reference).resolve()
            # also relative to this output: a run folder moved as a whole still finds it
            extra["reference"] = {"path": str(where), "relative": os.path.relpath(where, self.out.resolve()),
                                  "adapter_fingerprint": adapter_fingerprint(weights)}
        return extra


RECIPES["dpo"] = DPORecipe
