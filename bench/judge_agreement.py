"""Refusal judges against human labels, leave-one-model-out, and their speed on this CPU.

The report's refusal figures are rates, so the judges are validated as rates: for each labelled
XSTest model (gpt4, llama2orig, mistralinstruct) a refusal-clf trained on the OTHER two models' labels
(plus the auxiliary safety / general answers) is scored on it; per side (safe / unsafe prompts) the judge's refusal rate
(full + partial) is compared with the human rate. Printed: the mean and worst absolute rate error,
the worst over-call on safe prompts (which would fake exaggerated safety), 3-class Cohen's kappa and
macro-F1, with XSTest's string match on the same answers beside it; how often the held-out judge
flags its verdict uncertain and how accurate its confident and uncertain verdicts are; then answers/s of each offline
judge on all 900 answers (training not timed; a fresh cache folder).

Two reference rows read the held-out figures (skip them with --no-reference, they take ~70 s):
- ``xstest-gpt4-judge``: the labels XSTest's own GPT-4 judge gave the same answers (published with
  XSTest): the LLM judge a researcher would otherwise reach for;
- ``refusal-clf-in-domain``: refusal-clf's features and classifier trained on 4/5 of the TEST model's
  own labels (plus the auxiliary data), scored on the other 1/5, 5 folds. Not a validation: the
  ceiling of the features when they see the test model's style.

Usage: python bench/judge_agreement.py [--data-dir ../shared/data] [--no-reference]
The last printed line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

MODELS = ("gpt4", "llama2orig", "mistralinstruct")


def uncertainty(get_judge, labelled, data_dir) -> dict:
    """Per held-out model: the share of verdicts flagged uncertain, and the 3-class accuracy of the confident
    and of the uncertain ones (the flag is worth having when the second is clearly lower)."""
    from safemix.judge.refusal_clf import SHORT

    out = {}
    for m, rows in labelled.items():
        vs = get_judge(f"refusal-clf-without-{SHORT[m]}", data_dir=data_dir).judge([(r["prompt"], r["response"]) for r in rows])
        unc = [v.label == r["label"] for v, r in zip(vs, rows) if v.uncertain]
        sure = [v.label == r["label"] for v, r in zip(vs, rows) if not v.uncertain]
        out[m] = {"uncertain_share": round(len(unc) / len(rows), 4),
                  "accuracy_confident": round(sum(sure) / max(1, len(sure)), 4),
                  "accuracy_uncertain": round(sum(unc) / max(1, len(unc)), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("SAFEMIX_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--no-reference", action="store_true", help="skip the GPT-4-judge and in-domain reference rows")
    a = ap.parse_args()
    os.environ["SAFEMIX_CACHE_DIR"] = tempfile.mkdtemp(prefix="safemix-bench-")
    from safemix.judge import get_judge, leave_one_model_out, read_labels, validate, validate_labels, xstest_gpt4_judge_labels
    from safemix.judge.refusal_clf import SHORT, in_domain_labels

    labelled = {m: read_labels(Path(a.data_dir) / "xstest" / "completions" / f"xstest_v2_completions_{m}.csv")
                for m in MODELS}
    figures: dict = {"leave_one_model_out": {
        "refusal-clf": leave_one_model_out(lambda test: get_judge(f"refusal-clf-without-{SHORT[test]}", data_dir=a.data_dir),
                                           labelled),
        "xstest-strmatch": validate(get_judge("xstest-strmatch"), labelled)}}
    if not a.no_reference:
        figures["reference"] = {
            "xstest-gpt4-judge": validate_labels("xstest-gpt4-judge", labelled, xstest_gpt4_judge_labels(labelled, a.data_dir)),
            "refusal-clf-in-domain": validate_labels("refusal-clf-in-domain", labelled,
                                                     {m: in_domain_labels(m, a.data_dir) for m in labelled})}
    for name, res in {**figures["leave_one_model_out"], **figures.get("reference", {})}.items():
        print(f"{name:<21} rate error mean {res['rate_error_mean']:.3f} worst {res['rate_error_worst']:.3f} "
              f"safe over-call worst {res['safe_overcall_worst']:+.3f} kappa min {res['kappa_min']:.3f}")
        for m, r in res["per_model"].items():
            rates = "  ".join(f"{s}: human {v['human']:.3f} judge {v['judge']:.3f}" for s, v in r["rates"].items())
            print(f"    on {m:<11} {rates}  kappa {r['kappa']:.3f} macro-F1 {r['macro_f1']:.3f}")
    figures["uncertain"] = uncertainty(get_judge, labelled, a.data_dir)
    for m, u in figures["uncertain"].items():
        print(f"held-out {m:<16} uncertain {u['uncertain_share']:.3f}  accuracy confident {u['accuracy_confident']:.3f}"
              f"  uncertain {u['accuracy_uncertain']:.3f}")
    pairs = [(r["prompt"], r["response"]) for rows in labelled.values() for r in rows]
    figures["answers_per_s"] = {}
    for name in ("refusal-clf", "xstest-strmatch"):
        j = get_judge(name, data_dir=a.data_dir)
        j.judge(pairs[:1])  # train / load outside the timing
        t = time.perf_counter()
        j.judge(pairs)
        figures["answers_per_s"][name] = round(len(pairs) / (time.perf_counter() - t), 1)
        print(f"{name:<21} {figures['answers_per_s'][name]:>10.1f} answers/s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
