import json

import pytest

from safemix.errors import DataError, SafemixError
from safemix.judge import Judge, Verdict, judge, read_labels
from safemix.markers import mark_done, mark_generated


def _gen_dir(tmp_path, records, name="Suite"):
    d = tmp_path / "gen"
    d.mkdir(exist_ok=True)
    (d / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    mark_done(d, "generate", records={name: len(records)})
    return d


RECS = [{"id": f"s:{i}", "prompt": f"q{i}", "output": out, "key": f"k{i}"}
        for i, out in enumerate(["I'm sorry, no.", "Sure, here it is.", "I cannot do that."])]


class Counting(Judge):
    id, version, kind = "counting", "1", "refusal"

    def __init__(self, inner):
        self.inner, self.n = inner, 0

    def judge(self, pairs):
        self.n += len(pairs)
        return self.inner.judge(pairs)


def test_judge_stage_writes_and_caches(tmp_path):
    from safemix.judge import get_judge

    gen = _gen_dir(tmp_path, RECS)
    c = Counting(get_judge("xstest-strmatch"))
    paths = judge([c], gen, tmp_path / "out")
    rows = [json.loads(x) for x in paths[("Suite", "counting")].read_text().splitlines()]
    assert [r["label"] for r in rows] == ["2_full_refusal", "1_full_compliance", "2_full_refusal"]
    assert {r["suite"] for r in rows} == {"Suite"} and {r["kind"] for r in rows} == {"refusal"}  # no guessing from names
    assert [r["id"] for r in rows] == ["s:0", "s:1", "s:2"] and c.n == 3
    judge([c], gen, tmp_path / "out")
    assert c.n == 3  # nothing new to score
    (gen / "Suite.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECS + [{**RECS[0], "id": "s:3", "key": "k3"}]))
    with pytest.raises(DataError, match="holds 4 record"):  # the marker says 3: a changed file is not judged silently
        judge([c], gen, tmp_path / "out")
    mark_generated(gen)
    judge([c], gen, tmp_path / "out")
    assert c.n == 4


def test_judge_stage_bad_inputs(tmp_path):
    gen = _gen_dir(tmp_path, [RECS[0], {"id": "s:1", "prompt": "q", "key": "k"}])
    with pytest.raises(DataError, match=r"Suite.jsonl: record 1: field 'output': Field required"):
        judge(["xstest-strmatch"], gen, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(SafemixError, match="unknown judge 'nope'"):
        judge(["nope"], _gen_dir(tmp_path, RECS), tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SafemixError, match="incomplete generate output"):
        judge(["xstest-strmatch"], empty, tmp_path / "o")

    class Short(Judge):
        id = "short"

        def judge(self, pairs):
            return [Verdict("x")]

    with pytest.raises(SafemixError, match="returned 1 verdicts for 3 answers"):
        judge([Short()], _gen_dir(tmp_path, RECS), tmp_path / "out3")


def test_registry_finds_every_judge_module_and_rejects_unknown_options(tmp_path):
    """Judges register in their own modules (no import list); each declares its kind and metrics;
    an option that no requested judge takes is an error, not silently dropped."""
    import pkgutil

    import safemix.judge as pkg
    from safemix.judge import KINDS, get_judges, registry

    reg = registry()
    assert {"xstest-strmatch", "refusal-clf", "llm-refusal", "llm-harm", "quality-relevance", "harm-rm-redteam"} <= set(reg)
    assert "harm-hh" not in reg  # retired: it labelled 40% of answers to XSTest's safe prompts harmful
    assert all(r.kind in KINDS for r in reg.values())
    modules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    assert {r.factory.__module__.rsplit(".", 1)[1] for r in reg.values()} <= modules
    js = get_judges(["xstest-strmatch", "llm-refusal"], base_url="http://127.0.0.1:9/v1", timeout=2, data_dir=tmp_path)
    assert [j.kind for j in js] == ["refusal", "refusal"] and js[1].client.timeout == 2.0
    with pytest.raises(SafemixError, match="option\\(s\\) judge_model are taken by none of the judges xstest-strmatch"):
        get_judges(["xstest-strmatch"], judge_model="x")
    code_gen = _gen_dir(tmp_path, RECS)
    with pytest.raises(SafemixError, match="taken by none of the judges"):
        judge(["xstest-strmatch"], code_gen, tmp_path / "o", judge_kwargs={"max_time": 3})
    assert not (tmp_path / "o").exists()


def test_label_files(tmp_path, shared_data, run_cli):
    bad = tmp_path / "labels.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "response": "r", "label": "2_full_refusal"}) + "\n" + json.dumps({"prompt": "p", "label": "x"}) + "\n")
    with pytest.raises(DataError, match="record 1: missing field 'response'"):
        read_labels(bad)
    code, out, _ = run_cli("judge", "agreement", "--judge", "xstest-strmatch", "--json", "--labels",
                           shared_data / "xstest/completions/xstest_v2_completions_gpt4.csv", "--write-labels", tmp_path / "o.csv")
    report = json.loads(out)
    assert code == 0 and report["n"] == 450 and set(report) >= {"n", "accuracy", "macro_f1", "kappa", "confusion"}
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert lines[0] == "id,label" and len(lines) == 451 and lines[1].split(",")[1] in ("1_full_compliance", "2_full_refusal")
    code, _, err = run_cli("judge", "agreement", "--judge", "xstest-strmatch", "--labels", bad)
    assert code == 2 and "record 1: missing field 'response'" in err
    row = lambda i, label: json.dumps({"id": i, "prompt": "p", "response": "r", "label": label}) + "\n"  # noqa: E731
    dup = tmp_path / "dup.jsonl"
    dup.write_text(row("a", "2_full_refusal") + row("a", "1_full_compliance"))
    code, _, err = run_cli("judge", "agreement", "--judge", "xstest-strmatch", "--labels", dup)
    assert code == 2 and "dup.jsonl: record 1: duplicate id 'a' (first at record 0)" in err
    vocab = tmp_path / "vocab.jsonl"
    vocab.write_text(row("a", "2_full_refusal") + row("b", "refused"))
    code, _, err = run_cli("judge", "agreement", "--judge", "xstest-strmatch", "--labels", vocab)
    assert code == 2 and "vocab.jsonl: record 1: label 'refused' is not one of xstest-strmatch's labels" in err


def test_incomplete_generations_are_refused_and_judging_marks_its_own_output(tmp_path):
    """A killed generate leaves records but no done.json: judge refuses it, naming the command
    that finishes it; a judge output is complete only once judge() wrote its marker, last."""
    gen = _gen_dir(tmp_path, RECS)
    (gen / "done.json").unlink()
    with pytest.raises(SafemixError, match=r"gen: incomplete generate output .* finish it with: safemix generate"):
        judge(["xstest-strmatch"], gen, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    mark_generated(gen)
    judge(["xstest-strmatch"], gen, tmp_path / "out")
    marker = json.loads((tmp_path / "out" / "done.json").read_text())
    assert marker["stage"] == "judge" and marker["complete"] is True and marker["suites"] == ["Suite"]

    class Dies(Judge):
        id, version, kind = "dies", "1", "refusal"

        def judge(self, pairs):
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        judge(["xstest-strmatch", Dies()], gen, tmp_path / "out")
    assert not (tmp_path / "out" / "done.json").exists()  # the re-run started: no longer complete


def test_budget_judge_sees_its_sample_and_the_report_gives_ppi_rows(tmp_path, shared_data):
    """The expensive judge's file holds only its stratified sample; the report adds the
    prediction-powered row (judge ppi:EXPENSIVE) beside the cheap-only and sample-only rows."""
    import csv

    from safemix.judge.budget import budget_sample
    from safemix.report import Point, ReportOptions, build_report

    answers = ["I'm sorry, but I can't help with that.", "Sure: first, open the terminal.",
               "I cannot assist with that request.", "Here is a recipe: mix flour and water."]
    recs = [{"suite": "xstest", "id": f"xstest:{i}", "prompt": f"question {i}", "label": "safe",
             "output": answers[i % 4], "finish_reason": "eos", "output_tokens": 9, "key": f"k{i}"} for i in range(20)]
    gen = _gen_dir(tmp_path, recs, name="xstest")
    subsets = {"refusal-clf": lambda suite, ids: budget_sample(ids, 0.25, 0, f"0/1/{suite}")}
    paths = judge(["xstest-strmatch", "refusal-clf"], gen, tmp_path / "out", judge_kwargs={"data_dir": shared_data},
                  subsets=subsets)
    sampled = [json.loads(x)["id"] for x in paths[("xstest", "refusal-clf")].read_text().splitlines()]
    assert len(sampled) == 5 and set(sampled) == budget_sample([r["id"] for r in recs], 0.25, 0, "0/1/xstest")
    assert len(paths[("xstest", "xstest-strmatch")].read_text().splitlines()) == 20
    build_report([Point(0, 1, gen, tmp_path / "out")], tmp_path / "r",
                 options=ReportOptions(budget=("refusal-clf", "xstest-strmatch")))
    rows = {(r["judge"], r["n"]) for r in csv.DictReader(open(tmp_path / "r" / "results.csv"))
            if r["suite"] == "xstest-safe" and r["metric"] == "refusal_rate"}
    assert rows == {("xstest-strmatch", "20"), ("refusal-clf", "5"), ("ppi:refusal-clf", "20")}
