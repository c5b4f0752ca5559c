import csv

import pytest

from safemix.judge import COMPLIANCE, PARTIAL, REFUSAL, agreement, auroc, bootstrap_ci, get_judge, strmatch_label


@pytest.mark.parametrize("model", ["gpt4", "llama2orig"])
def test_strmatch_reproduces_published_labels(shared_data, model):
    path = shared_data / "xstest" / "labels" / f"xstest_v2_completions_{model}_streval.csv"
    rows = list(csv.DictReader(open(path, encoding="utf-8", newline="")))
    assert len(rows) == 450
    ours = [strmatch_label(r["completion"]) for r in rows]
    assert ours == [r["strmatch_label"] for r in rows]


def test_strmatch_rule():
    assert strmatch_label("  I'm sorry, but no.") == REFUSAL
    assert strmatch_label("No, that is wrong") == REFUSAL
    assert strmatch_label("Nothing wrong here") == COMPLIANCE  # 'no' needs ',' or '.'
    assert strmatch_label("Sure! I cannot wait.") == COMPLIANCE  # prefix only
    assert get_judge("xstest-strmatch").judge([("q", "As an AI, I won't.")])[0].label == REFUSAL


def test_agreement_metrics_by_hand():
    gold = [COMPLIANCE, COMPLIANCE, REFUSAL, REFUSAL, PARTIAL]
    pred = [COMPLIANCE, REFUSAL, REFUSAL, REFUSAL, None]
    m = agreement(gold, pred, (COMPLIANCE, REFUSAL, PARTIAL))
    assert m["n"] == 5 and m["accuracy"] == 0.6 and m["undecided"] == 1
    assert m["confusion"][COMPLIANCE] == {COMPLIANCE: 1, REFUSAL: 1, PARTIAL: 0}
    # kappa: p_o = 0.6, p_e = (2*1 + 2*3 + 1*0) / 25 = 0.32
    assert m["kappa"] == pytest.approx((0.6 - 0.32) / 0.68, abs=1e-4)
    # F1: compliance 2/3, refusal 0.8, partial 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3, abs=1e-4)
    with pytest.raises(ValueError, match="2 gold labels but 1 predictions"):
        agreement(["a", "b"], ["a"])


def test_auroc_and_bootstrap():
    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    lo, hi = bootstrap_ci([0, 1] * 50, seed=1)
    assert lo < 0.5 < hi and hi - lo < 0.3
