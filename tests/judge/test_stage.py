import json

import pytest

from safemix.errors import DataError, SafemixError
from safemix.judge import Judge, Verdict, judge, read_labels


def _gen_dir(tmp_path, records, name="Suite"):
    d = tmp_path / "gen"
    d.mkdir(exist_ok=True)
    (d / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
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
    assert [r["id"] for r in rows] == ["s:0", "s:1", "s:2"] and c.n == 3
    judge([c], gen, tmp_path / "out")
    assert c.n == 3  # nothing new to score
    (gen / "Suite.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECS + [{**RECS[0], "id": "s:3", "key": "k3"}]))
    judge([c], gen, tmp_path / "out")
    assert c.n == 4


def test_judge_stage_bad_inputs(tmp_path):
    gen = _gen_dir(tmp_path, [RECS[0], {"id": "s:1", "prompt": "q", "key": "k"}])
    with pytest.raises(DataError, match=r"Suite.jsonl: record 1: missing or non-string field\(s\) output"):
        judge(["xstest-strmatch"], gen, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(SafemixError, match="unknown judge 'nope'"):
        judge(["nope"], _gen_dir(tmp_path, RECS), tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SafemixError, match="no SUITE.jsonl generation files"):
        judge(["xstest-strmatch"], empty, tmp_path / "o")

    class Short(Judge):
        id = "short"

        def judge(self, pairs):
            return [Verdict("x")]

    with pytest.raises(SafemixError, match="returned 1 verdicts for 3 answers"):
        judge([Short()], _gen_dir(tmp_path, RECS), tmp_path / "out3")


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
