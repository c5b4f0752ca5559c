"""Selection strategies: the order in which safety examples enter a sweep.

Each strategy returns an ordering of the whole candidate set; the mixture for ``k`` takes its first
``k`` items, so mixtures are nested by construction (k=300 contains k=100's examples).
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

from ..errors import SafemixError
from .records import Instruction


def hash_key(seed: int, purpose: str, item_id: str) -> str:
    """A platform- and version-independent random key: order-by-key is a seeded shuffle."""
    return hashlib.sha256(f"{seed}\0{purpose}\0{item_id}".encode()).hexdigest()


def hash_order(records: list[Instruction], seed: int, purpose: str) -> list[int]:
    return sorted(range(len(records)), key=lambda i: hash_key(seed, purpose, records[i].id))


def order_random(records: list[Instruction], seed: int, limit: int, embed=None) -> list[int]:
    """The paper's strategy: a seeded uniform sample."""
    return hash_order(records, seed, "safety")[:limit]


def order_maxmin(records: list[Instruction], seed: int, limit: int, embed=None) -> list[int]:
    """Diversity: farthest-point sampling on MiniLM embeddings of the instructions, starting from a
    seeded random example; each next pick is the example least similar to all picked so far."""
    x = _embeddings(records, embed)
    first = hash_order(records, seed, "safety")[0]
    picked = [first]
    best = x @ x[first]  # highest similarity to any picked example
    best[first] = np.inf
    for _ in range(min(limit, len(records)) - 1):
        nxt = int(np.argmin(best))
        picked.append(nxt)
        best = np.maximum(best, x @ x[nxt])
        best[nxt] = np.inf
    return picked


def order_cluster(records: list[Instruction], seed: int, limit: int, embed=None, n_clusters: int = 20) -> list[int]:
    """Topic balance: k-means on MiniLM embeddings, then round-robin over clusters (each in seeded
    random order), so every prefix covers the topics about evenly."""
    x = _embeddings(records, embed)
    labels = kmeans(x, min(n_clusters, len(records)), seed)
    queues = [[i for i in hash_order(records, seed, "safety") if labels[i] == c] for c in range(labels.max() + 1)]
    queues = [q for q in queues if q]
    out: list[int] = []
    while len(out) < min(limit, len(records)):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out[:limit]


def kmeans(x: np.ndarray, k: int, seed: int, iters: int = 25) -> np.ndarray:
    """Deterministic spherical k-means (k-means++ init with a seeded generator)."""
    rng = np.random.default_rng(seed)
    centers = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = 1.0 - np.max(x @ np.stack(centers).T, axis=1)
        p = np.clip(d, 0, None)
        centers.append(x[rng.choice(len(x), p=p / p.sum()) if p.sum() > 0 else rng.integers(len(x))])
    c = np.stack(centers)
    labels = np.zeros(len(x), dtype=int)
    for _ in range(iters):
        labels = np.argmax(x @ c.T, axis=1)
        for j in range(k):
            members = x[labels == j]
            if len(members):
                v = members.sum(0)
                c[j] = v / max(np.linalg.norm(v), 1e-9)
    return labels


def _embeddings(records: list[Instruction], embed) -> np.ndarray:
    if embed is None:
        from ..models.encoder import get_encoder

        embed = get_encoder().encode_cached
    return embed([r.text for r in records])


STRATEGIES: dict[str, Callable] = {"random": order_random, "maxmin": order_maxmin, "cluster": order_cluster}


def get_strategy(name: str) -> Callable:
    if name not in STRATEGIES:
        raise SafemixError(f"unknown selection strategy '{name}' (known: {', '.join(STRATEGIES)})")
    return STRATEGIES[name]
