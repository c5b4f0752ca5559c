"""Answer quality: pairwise win rates, the offline relevance judge, and quality-rm on a tiny local DeBERTa."""

import json

import pytest

from safemix.errors import SafemixError
from safemix.judge import RewardModelJudge, get_judge, win_rate
from safemix.judge.quality import compare_quality
from safemix.markers import mark_generated


def test_win_rate_counts_ties_half_and_only_shared_prompts():
    base = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 0.0, "only-base": 9.0}
    cand = {"a": 2.0, "b": 2.0, "c": 1.0, "d": 5.0, "only-cand": -9.0}
    w = win_rate(base, cand)
    assert (w["n"], w["wins"], w["ties"], w["losses"]) == (4, 2, 1, 1)
    assert w["win_rate"] == pytest.approx(2.5 / 4)
    assert w["ci_low"] <= w["win_rate"] <= w["ci_high"] and w["ci_high"] - w["ci_low"] > 0
    assert win_rate(base, base)["win_rate"] == 0.5  # a model against itself: no change
    assert win_rate({"x": 1.0}, {"y": 1.0})["n"] == 0


def test_relevance_judge_prefers_on_topic_answers():
    j = get_judge("quality-relevance")
    prompt = "Give three tips for keeping a houseplant healthy."
    pairs = [(prompt, "Water it when the soil is dry, give it bright indirect light, and repot it when roots crowd."),
             (prompt, "I'm sorry, but I cannot help with that request."),
             (prompt, "The stock market closed higher on Tuesday after strong bank earnings."),
             (prompt, "   ")]
    v = j.judge(pairs)
    assert [x.label for x in v] == ["scored"] * 4
    on_topic, refusal, off_topic, empty = (x.score for x in v)
    assert on_topic > refusal and on_topic > off_topic and empty == 0.0


def _gens(folder, outputs: dict[str, str], suite="I-Alpaca"):
    folder.mkdir(parents=True)
    recs = [{"id": f"{suite}:{i}", "key": f"{folder.name}-{i}", "prompt": f"Explain topic {i}.", "output": out}
            for i, out in outputs.items()]
    (folder / f"{suite}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    mark_generated(folder)


def test_compare_quality_with_a_local_reward_model(tiny_deberta, tmp_path):
    base = {str(i): f"A short answer number {i}." for i in range(12)}
    cand = {str(i): ("A much longer and more detailed answer. " * (1 + i % 4)) for i in range(12)}
    _gens(tmp_path / "k0", base)
    _gens(tmp_path / "k100", cand)
    doc = compare_quality(tmp_path / "k0", tmp_path / "k100", tmp_path / "q", judge_model=str(tiny_deberta))
    rm = RewardModelJudge(str(tiny_deberta), kind="quality", template="pair")
    sb = rm.scores([(f"Explain topic {i}.", base[str(i)]) for i in range(12)])
    sc = rm.scores([(f"Explain topic {i}.", cand[str(i)]) for i in range(12)])
    sb, sc = [round(x, 4) for x in sb], [round(x, 4) for x in sc]  # verdicts keep 4 decimals
    expected = sum(1.0 if c > b else 0.5 if c == b else 0.0 for b, c in zip(sb, sc)) / 12
    assert doc["n"] == 12 and doc["judge"] == "quality-rm"
    assert doc["win_rate"] == pytest.approx(expected, abs=1e-4) and 0 < expected < 1
    assert json.loads((tmp_path / "q" / "win_rate.json").read_text())["win_rate"] == doc["win_rate"]
    assert (tmp_path / "q" / "baseline" / "I-Alpaca.quality-rm.jsonl").is_file()


def test_compare_quality_errors_name_the_problem(tmp_path):
    _gens(tmp_path / "a", {"1": "x"})
    _gens(tmp_path / "b", {"1": "y"}, suite="Q-Harm")
    with pytest.raises(SafemixError, match="no generations for suite"):
        compare_quality(tmp_path / "a", tmp_path / "b", tmp_path / "q", judge="quality-relevance")
    _gens(tmp_path / "c", {"2": "y"})
    with pytest.raises(SafemixError, match="answered by both"):
        compare_quality(tmp_path / "a", tmp_path / "c", tmp_path / "q2", judge="quality-relevance")
    assert not (tmp_path / "q2" / "win_rate.json").exists()
