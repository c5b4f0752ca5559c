"""Prompt and data inputs that used to pass silently: each is now a one-line error before any work."""

import json

import pytest

from safemix.data.hf import to_instructions, to_prompts
from safemix.data.load import load_suites
from safemix.data.readers import read_prompts
from safemix.errors import DataError, SafemixError


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_two_prompt_files_of_one_name_are_refused(tmp_path):
    a = _write(tmp_path / "a" / "p.jsonl", [{"prompt": "x"}, {"prompt": "y"}, {"prompt": "z"}])
    b = _write(tmp_path / "b" / "p.jsonl", [{"prompt": "u"}, {"prompt": "v"}])
    with pytest.raises(SafemixError, match="are both named 'p'; rename one"):
        load_suites([str(a), str(b)])
    assert list(load_suites([str(a), str(a)])) == ["p"]  # the same file twice is one suite


def test_duplicate_prompt_ids_are_refused(tmp_path):
    p = _write(tmp_path / "p.jsonl", [{"id": "1", "prompt": "x"}, {"id": "2", "prompt": "y"}, {"id": "1", "prompt": "z"}])
    with pytest.raises(DataError, match=r"p.jsonl: record 2: id 'p:1' repeats record 0"):
        read_prompts(p)


def test_a_mapped_column_that_does_not_exist_is_an_error():
    rows = [{"question": "q", "answer": "a", "ctx": "c"}]
    with pytest.raises(DataError, match=r"\?input=context: no column 'context'"):
        to_instructions(rows, {"instruction": "question", "output": "answer", "input": "context"}, "s", "spec")
    with pytest.raises(DataError, match=r"\?input=context: no column 'context'"):
        to_prompts(rows, {"prompt": "question", "input": "context"}, "s", "spec")
    assert to_prompts(rows, {"prompt": "question", "input": "ctx"}, "s", "spec")[0].input == "c"


@pytest.mark.parametrize("line, message", [
    ('{"prompt": "bad \\ud800 surrogate"}', "is not valid UTF-8 \\(a stray byte or an unpaired surrogate\\)"),
    (json.dumps({"prompt": "x" * 300_000}), "has 300,000 characters \\(at most 200,000\\)"),
])
def test_unencodable_or_huge_prompts_are_refused_up_front(tmp_path, line, message):
    p = tmp_path / "p.jsonl"
    p.write_text(line + "\n")
    with pytest.raises(DataError, match=f"p.jsonl: record 0: field 'prompt' {message}"):
        read_prompts(p)
