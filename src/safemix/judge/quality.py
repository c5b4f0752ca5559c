"""Answer quality: an offline relevance judge and the paper's pairwise win rate against k=0.

The paper scored each safety-tuned model's I-Alpaca answers against the k=0 model's with a general
reward model (``quality-rm``; ~50% wins means no loss of quality). Without that model (offline, no
GPU), ``quality-relevance`` stands in: the cosine similarity of the prompt and the answer in the
MiniLM sentence encoder. It is a weak proxy -- it rewards answers on the prompt's topic, and
punishes refusals, empty and off-topic answers -- not a judge of correctness or style.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..artifacts import VerdictRecord, read_records
from ..errors import SafemixError
from ..stats import win_rate
from .base import Judge, Verdict, register
from .options import EncoderOptions


class RelevanceJudge(Judge):
    id, version, kind = "quality-relevance", "1", "quality"

    def __init__(self, encoder: str | None = None):
        self.encoder_name = encoder
        self._encode = None

    def judge(self, pairs):
        if self._encode is None:
            from ..models.encoder import get_encoder

            self._encode = get_encoder(self.encoder_name).encode_cached
        p = self._encode([q for q, _ in pairs])
        r = self._encode([a if a.strip() else "." for _, a in pairs])
        cos = (p * r).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(r, axis=1) + 1e-9)
        return [Verdict("scored", round(0.0 if not a.strip() else float(c), 4)) for c, (_, a) in zip(cos, pairs)]


@register("quality-relevance", "quality", EncoderOptions, "offline answer-quality proxy: MiniLM cosine of prompt and answer",
          validated="offline proxy, not validated against human preferences: it rewards on-topic answers, not "
                    "correct or helpful ones")
def _relevance(**kw):
    return RelevanceJudge(**kw)


def compare_quality(baseline: str | Path, candidate: str | Path, out: str | Path, judge: str = "quality-rm",
                    suite: str = "I-Alpaca", judge_model: str | None = None) -> dict:
    """Score two generation folders' answers to ``suite`` with a quality judge (into
    ``out/baseline`` and ``out/candidate``, cached) and write ``out/win_rate.json``."""

    from ..fileio import atomic_write_json
    from .stage import judge as run_judge

    out = Path(out)
    scores = {}
    for name, folder in (("baseline", baseline), ("candidate", candidate)):
        paths = run_judge([judge], folder, out / name, judge_kwargs={"judge_model": judge_model}, suites=[suite])
        path = next(iter(paths.values()))
        scores[name] = {v.id: v.score for v in read_records(VerdictRecord, path)}
    result = win_rate(scores["baseline"], scores["candidate"])
    if not result["n"]:
        raise SafemixError(f"{baseline} and {candidate}: no prompt of '{suite}' was answered by both")
    doc = {"suite": suite, "judge": judge, "baseline": str(baseline), "candidate": str(candidate),
           **{k: v for k, v in result.items() if k != "outcomes"}}
    atomic_write_json(out / "win_rate.json", doc)
    return doc
