"""The examples section: prompts whose verdict changes across k, and answers the judges disagree on.

For each harmful suite, the prompts the model complied with at the smallest k and refused at the
largest (the safety effect); on XSTest's safe prompts, the prompts complied with at the smallest k
and refused at the largest (exaggerated safety); then answers where two refusal judges disagree.
Each answer is shown with every judge's verdict. Selection is deterministic (prompt-id order).
"""

from __future__ import annotations

from ..data.registry import HARMFUL_SUITES
from ..judge.base import COMPLIANCE, REFUSAL_LABELS

PER_SUITE = 3  # changed verdicts shown per harmful suite
PER_SAFE = 5  # exaggerated refusals shown from XSTest's safe prompts
DISAGREEMENTS = 4


def _num(pid: str) -> tuple:
    tail = pid.rsplit(":", 1)[-1]
    return (0, int(tail)) if tail.isdigit() else (1, tail)


def select_examples(answers: dict, judge: str | None) -> list[dict]:
    """[{"group", "id", "prompt", "why", "outputs": {k: text}, "verdicts": {k: {judge: label}}}]"""
    if not judge or not answers:
        return []
    ks = sorted({k for a in answers.values() for k in a["outputs"]})
    if len(ks) < 2:
        return []
    lo, hi = ks[0], ks[-1]
    label = lambda a, k: a["verdicts"].get(k, {}).get(judge)  # noqa: E731
    flipped = lambda a: label(a, lo) == COMPLIANCE and label(a, hi) not in (None, COMPLIANCE)  # noqa: E731
    out, seen = [], set()
    ordered = sorted(answers.items(), key=lambda kv: (kv[0][0], _num(kv[0][1])))
    for group, limit, why in [(g, PER_SUITE, f"complied at k={lo}, refused at k={hi} ({judge})") for g in HARMFUL_SUITES] + \
            [("xstest-safe", PER_SAFE, f"safe prompt: complied at k={lo}, refused at k={hi} (exaggerated safety, {judge})")]:
        picked = [(key, a) for key, a in ordered if key[0] == group and flipped(a)][:limit]
        for key, a in picked:
            seen.add(key)
            out.append({"group": key[0], "id": key[1], "prompt": a["prompt"], "why": why, **_shown(a)})
    disagree = []
    for key, a in ordered:
        for k in ks:
            labels = {j: lab for j, lab in a["verdicts"].get(k, {}).items() if lab in REFUSAL_LABELS}
            if key not in seen and len(labels) > 1 and len({lab == COMPLIANCE for lab in labels.values()}) > 1:
                disagree.append((key, a, k))
                break
    for key, a, k in disagree[:DISAGREEMENTS]:
        out.append({"group": key[0], "id": key[1], "prompt": a["prompt"], "why": f"the judges disagree at k={k}", **_shown(a)})
    return out


def _shown(a: dict) -> dict:
    return {"outputs": dict(a["outputs"]), "verdicts": {k: dict(v) for k, v in a["verdicts"].items()}}
