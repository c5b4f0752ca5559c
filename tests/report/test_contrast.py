"""Refusal discrimination and the attack success rate lift, on hand-made verdicts: exact values, intervals that
cover them, and the report's rows, lines and figures."""

import csv
import json

from safemix.artifacts import Point
from safemix.markers import mark_done
from safemix.report import build_report
from safemix.report.contrast import attack_rows, discrimination_rows, peak_lines


def _values(ones: int, n: int, prefix: str = "p") -> dict[str, float]:
    return {f"{prefix}{i}": float(i < ones) for i in range(n)}


def test_discrimination_is_harmful_refusals_minus_benign_refusals():
    outcomes = {
        ("xstest-unsafe", "j", "refusal_rate"): {0: {1: _values(2, 10)}, 50: {1: _values(9, 10)}, 200: {1: _values(10, 10)}},
        ("xstest-safe", "j", "refusal_rate"): {0: {1: _values(1, 10)}, 50: {1: _values(2, 10)}, 200: {1: _values(8, 10)}},
    }
    rows = {r["k"]: r for r in discrimination_rows(outcomes)}
    assert [rows[k]["value"] for k in (0, 50, 200)] == [0.1, 0.7, 0.2]
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] and r["suite"] == "xstest" and r["n"] == 20 for r in rows.values())
    assert rows[50]["ci_low"] > 0.3  # 0.9 vs 0.2 on ten prompts each is clearly above zero
    assert peak_lines(list(rows.values()), "j") == [
        "Refusal discrimination on xstest (refusals of its harmful prompts minus refusals of its benign ones; j) "
        f"peaks at k=50: 0.70 [{rows[50]['ci_low']:.2f}, {rows[50]['ci_high']:.2f}]."]
    # two seeds: a pooled row over both seeds' prompts
    two = {key: {k: {1: v[1], 2: v[1]} for k, v in by_k.items()} for key, by_k in outcomes.items()}
    pooled = [r for r in discrimination_rows(two) if r["seed"] == "pooled"]
    assert len(pooled) == 3 and {r["n"] for r in pooled} == {40}


def test_attack_lift_pairs_each_prompt_with_its_unattacked_answer():
    clean = {"Q-Harm:0": 0.0, "Q-Harm:1": 0.0, "Q-Harm:2": 1.0, "Q-Harm:3": 0.0}
    attacked = {"Q-Harm:0": 1.0, "Q-Harm:1": 1.0, "Q-Harm:2": 1.0, "Q-Harm:3": 0.0}
    outcomes = {("all-harmful", "j", "harmful_compliance"): {0: {1: clean}},
                ("all-harmful@role-play", "j", "harmful_compliance"): {0: {1: attacked}}}
    (row,) = attack_rows(outcomes)
    assert row["suite"] == "all-harmful@role-play" and row["metric"] == "asr_lift" and row["value"] == 0.5
    assert row["n"] == 4 and row["ci_low"] <= 0.5 <= row["ci_high"]


def test_the_report_reads_attacked_answers_and_pairs(tmp_path):
    gen, jud = tmp_path / "g", tmp_path / "j"
    gen.mkdir()
    jud.mkdir()
    recs, verdicts = {}, {}
    for suite, n, comply in (("Q-Harm", 4, 1), ("Q-Harm@role-play", 4, 3)):
        recs[suite] = [{"suite": suite, "id": f"Q-Harm:{i}", "prompt": f"p{i}", "label": None, "output": "o",
                        "finish_reason": "eos", "output_tokens": 3, "key": f"{suite}{i}"} for i in range(n)]
        verdicts[suite] = [{"id": f"Q-Harm:{i}", "gen_key": f"{suite}{i}", "judge": "xstest-strmatch", "judge_version": "1",
                            "kind": "refusal", "label": "1_full_compliance" if i < comply else "2_full_refusal",
                            "key": f"v{suite}{i}"} for i in range(n)]
    for suite in recs:
        (gen / f"{suite}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[suite]))
        (jud / f"{suite}.xstest-strmatch.jsonl").write_text("".join(json.dumps(v) + "\n" for v in verdicts[suite]))
    mark_done(gen, "generate", records={s: len(r) for s, r in recs.items()})
    mark_done(jud, "judge", files={s: {"xstest-strmatch": len(v)} for s, v in verdicts.items()})
    out = build_report([Point(0, 1, gen, jud), Point(10, 1, gen, jud)], tmp_path / "report")
    rows = list(csv.DictReader(open(out["results"])))
    got = {(r["suite"], r["metric"], r["k"]): float(r["value"]) for r in rows if r["judge"] == "xstest-strmatch"}
    assert got[("all-harmful", "harmful_compliance", "0")] == 0.25
    assert got[("all-harmful@role-play", "harmful_compliance", "0")] == 0.75
    assert got[("Q-Harm@role-play", "harmful_compliance", "0")] == 0.75
    assert got[("all-harmful@role-play", "asr_lift", "10")] == 0.5
    md = out["markdown"].read_text()
    assert "Attack role-play: harmful compliance +0.50" in md and "figures/attacks.png" in md
