"""A consumer reads a finished step only as its marker lists it: suites, files and counts."""

import json

import pytest

from safemix.errors import DataError, SafemixError
from safemix.judge import judge
from safemix.markers import finished_generations, finished_verdicts, mark_done, mark_generated
from safemix.report import Point, build_report


def _gen(folder, suites: dict[str, int]):
    folder.mkdir(parents=True, exist_ok=True)
    for suite, n in suites.items():
        (folder / f"{suite}.jsonl").write_text("".join(json.dumps(
            {"suite": suite, "id": f"{suite}:{i}", "prompt": f"q{i}", "output": "I'm sorry, I can't." if i % 2 else "Sure.",
             "finish_reason": "eos", "output_tokens": 3, "key": f"{suite}-{i}"}) + "\n" for i in range(n)))
    return folder


def test_a_suite_name_with_a_dot_is_judged_and_reported(tmp_path):
    gen = _gen(tmp_path / "g", {"p.v2": 3, "p": 2})
    mark_generated(gen)
    judge(["xstest-strmatch"], gen, tmp_path / "j")
    assert sorted(finished_verdicts(tmp_path / "j")) == [("p", "xstest-strmatch"), ("p.v2", "xstest-strmatch")]
    rows = build_report([Point(0, 1, gen, tmp_path / "j")], tmp_path / "r")["results"].read_text()
    assert "p.v2,0,1,xstest-strmatch,refusal_rate,3," in rows and "\np,0,1,xstest-strmatch,refusal_rate,2," in rows


def test_an_empty_marker_is_not_a_finished_generation(tmp_path):
    gen = _gen(tmp_path / "g", {"s": 1})
    (gen / "done.json").write_text("{}")  # what an old safemix or a hand-made folder may leave
    with pytest.raises(SafemixError, match="not a finished generate output"):
        judge(["xstest-strmatch"], gen, tmp_path / "j")
    mark_done(gen, "generate", records={"s": 3})  # a killed generation: 1 of 3 answers written
    with pytest.raises(DataError, match=r"s.jsonl: holds 1 record\(s\) where .*done.json lists 3"):
        judge(["xstest-strmatch"], gen, tmp_path / "j")
    assert not (tmp_path / "j").exists()


def test_a_missing_verdict_file_is_an_error_not_a_shorter_table(tmp_path):
    gen = _gen(tmp_path / "g", {"a": 2, "b": 2})
    mark_generated(gen)
    judge(["xstest-strmatch"], gen, tmp_path / "j")
    (tmp_path / "j" / "b.xstest-strmatch.jsonl").unlink()
    with pytest.raises(DataError, match=r"b.xstest-strmatch.jsonl: missing: .*done.json lists it with 2"):
        build_report([Point(0, 1, gen, tmp_path / "j")], tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_generations_are_read_as_the_marker_lists_them(tmp_path):
    gen = _gen(tmp_path / "g", {"a": 2})
    mark_generated(gen)
    (gen / "stray.jsonl").write_text("not json\n")  # not listed: not read
    assert list(finished_generations(gen)) == ["a"]
