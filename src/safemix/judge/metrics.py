"""Agreement metrics: accuracy, macro-F1, Cohen's kappa, confusion matrix, AUROC."""

from __future__ import annotations

from collections import Counter

import numpy as np


def agreement(gold: list[str], pred: list[str | None], labels: tuple[str, ...] | None = None) -> dict:
    """Metrics of ``pred`` against ``gold``. Undecided predictions (None) count as wrong."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    labels = tuple(labels or sorted(set(gold) | {p for p in pred if p is not None}))
    n = len(gold)
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, pred):
        if p is not None and g in confusion and p in confusion[g]:
            confusion[g][p] += 1
    correct = sum(g == p for g, p in zip(gold, pred))
    f1s = []
    for c in labels:
        tp = confusion[c][c]
        fp = sum(confusion[g][c] for g in labels) - tp
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    gold_c, pred_c = Counter(gold), Counter(p for p in pred)
    expected = sum(gold_c[c] * pred_c[c] for c in labels) / (n * n) if n else 0.0
    observed = correct / n if n else 0.0
    kappa = (observed - expected) / (1 - expected) if expected < 1 else 1.0
    return {"n": n, "accuracy": round(observed, 4), "macro_f1": round(float(np.mean(f1s)), 4),
            "kappa": round(kappa, 4), "undecided": sum(p is None for p in pred), "labels": list(labels),
            "per_class_f1": {c: round(f, 4) for c, f in zip(labels, f1s)}, "confusion": confusion}


def auroc(scores: list[float], positive: list[bool]) -> float:
    """Area under the ROC curve (ties count half)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(positive, dtype=bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))
