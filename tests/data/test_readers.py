import gzip
import json
import re

import pytest

from safemix.data import (
    PAPER_SUITES,
    load_instructions,
    load_suite,
    load_suites,
    read_eval_json,
    read_instructions,
    read_preferences,
    read_prompts,
    read_xstest,
    read_xstest_completions,
)
from safemix.errors import DataError

EVAL_COUNTS = {"I-MaliciousInstructions": 100, "I-CoNa": 178, "I-Controversial": 40, "I-PhysicalSafetySafe": 100,
               "I-PhysicalSafetyUnsafe": 100, "Q-Harm": 100, "I-Alpaca": 50}


def test_real_safety_demonstrations(shared_data):
    loaded = load_instructions("safety-tuned-llamas", shared_data)
    assert len(loaded.records) == 2483
    r = loaded.records[0]
    assert r.source == "safety-tuned-llamas" and r.id == "safety-tuned-llamas:0"
    assert r.instruction and r.output and r.input == ""


def test_real_eval_sets(shared_data):
    suites = load_suites("paper", shared_data)
    assert {k: len(v.records) for k, v in suites.items()} == EVAL_COUNTS
    assert list(suites) == list(PAPER_SUITES)
    mal = suites["I-MaliciousInstructions"].records
    assert all(p.type for p in mal)  # the tags travel as the prompt type
    assert mal[3].id == "I-MaliciousInstructions:3" and mal[3].suite == "I-MaliciousInstructions"


def test_real_xstest(shared_data):
    prompts = load_suite("xstest", shared_data).records
    labels = [p.label for p in prompts]
    assert labels.count("safe") == 250 and labels.count("unsafe") == 200
    assert len({p.type for p in prompts}) == 18


def test_real_gpteacher_hh_and_completions(shared_data):
    gp = load_instructions("gpteacher-roleplay", shared_data).records
    assert len(gp) == 1923 and all(r.output for r in gp)  # 'response' read as output
    assert len(load_instructions("gpteacher-codegen", shared_data).records) == 4535
    pairs = read_preferences(shared_data / "hh-rlhf/harmless-base-test.jsonl.gz")
    assert len(pairs) == 2312
    assert pairs[0].prompt.startswith("\n\nHuman:") and pairs[0].chosen != pairs[0].rejected
    for name in ("gpt4", "llama2orig"):
        rows = read_xstest_completions(shared_data / f"xstest/completions/xstest_v2_completions_{name}.csv")
        assert len(rows) == 450
        assert {r.label for r in rows} <= {"1_full_compliance", "2_full_refusal", "3_partial_refusal"}


def test_kind_mismatch_is_refused(shared_data):
    with pytest.raises(Exception, match="eval data, not instructions"):
        load_instructions("q-harm", shared_data)


# --- malformed inputs: each names the file and the record ------------------------------------------

def _write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


GOOD = {"instruction": "Say hi", "input": "", "output": "Hi"}
MALFORMED_INSTRUCTIONS = [
    ("bad.json", '[{"instruction": "a", "output": "b"},', "invalid JSON at line 1"),
    ("missing.json", json.dumps([GOOD, {"instruction": "x", "input": ""}]), "record 1: missing field 'output'"),
    ("typed.json", json.dumps([GOOD, GOOD, {"instruction": 3, "output": "b"}]), "record 2: field 'instruction' must be a string"),
    ("empty_str.json", json.dumps([{"instruction": "  ", "output": "b"}]), "record 0: field 'instruction' is empty"),
    ("empty_set.json", "[]", "no records"),
    ("not_list.json", json.dumps({"instruction": "a"}), "expected a JSON list"),
    ("bad_line.jsonl", json.dumps(GOOD) + "\n{oops\n", "record 1: invalid JSON on line 2"),
    ("bad_utf8.json", b'[{"instruction": "ok", "output": "b"}, {"instruction": "\xff\xfe", "output": "b"}]',
     "record 1: field 'instruction' is not valid UTF-8"),
    ("bad_utf8.jsonl", b'{"instruction": "ok", "output": "b"}\n{"instruction": "x", "output": "\xc3"}\n',
     "record 1: field 'output' is not valid UTF-8"),
    ("not_obj.jsonl", '"just a string"\n', "record 0: expected an object"),
]


@pytest.mark.parametrize("name,content,message", MALFORMED_INSTRUCTIONS)
def test_malformed_instruction_files(tmp_path, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(DataError) as exc:
        read_instructions(path)
    assert str(exc.value).startswith(str(path)) and message in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("content,message", [
    ({"instructions": ["a", "b"], "inputs": ["x"]}, "'inputs' has 1 items but 'instructions' has 2"),
    ({"instructions": ["a", ""]}, "record 1: field 'instruction' is empty"),
    ({"instructions": []}, "no records"),
    ({"instructions": ["a", 5]}, "record 1: field 'instruction' must be a string"),
    ({"prompts": ["a"]}, "expected an object with an 'instructions' list"),
    ({"instructions": ["a"], "tags": ["t", "u"]}, "'tags' has 2 items"),
])
def test_malformed_eval_files(tmp_path, content, message):
    path = _write(tmp_path, "suite.json", json.dumps(content))
    with pytest.raises(DataError, match=re.escape(message)):
        read_eval_json(path)


def test_eval_format_with_inputs(tmp_path):
    path = _write(tmp_path, "s.json", json.dumps({"instructions": ["a", "b"], "inputs": ["", "ctx"]}))
    prompts = read_eval_json(path)
    assert [p.input for p in prompts] == ["", "ctx"] and prompts[1].id == "s:1"


@pytest.mark.parametrize("content,message", [
    ("id,prompt,type\n1,hi,x\n", "missing column(s) label"),
    ("id,prompt,type,label\n1,hi,x,safe\n2,yo,x,maybe\n", "record 1: label must be one of"),
    ("id,prompt,type,label\n1,,x,safe\n", "record 0: field 'prompt' is empty"),
    ("id,prompt,type,label\n1,hi,x\n", "record 0: wrong number of columns"),
    (b"id,prompt,type,label\n1,hi,x,safe\n2,\xff,x,safe\n", "record 1: field 'prompt' is not valid UTF-8"),
    ("id,prompt,type,label\n", "no records"),
])
def test_malformed_xstest(tmp_path, content, message):
    path = _write(tmp_path, "x.csv", content)
    with pytest.raises(DataError, match=re.escape(message)):
        read_xstest(path)


def test_prompt_files(tmp_path):
    jsonl = _write(tmp_path, "mine.jsonl", '{"prompt": "a", "label": "unsafe"}\n{"prompt": "b", "id": "q7"}\n')
    ps = read_prompts(jsonl)
    assert [p.id for p in ps] == ["mine:0", "mine:q7"] and ps[0].label == "unsafe"
    assert [p.prompt for p in read_prompts(_write(tmp_path, "l.json", '["x", "y"]'))] == ["x", "y"]
    with pytest.raises(DataError, match="record 1: missing field 'prompt'"):
        read_prompts(_write(tmp_path, "bad.jsonl", '{"prompt": "a"}\n{"text": "b"}\n'))


def test_malformed_preferences(tmp_path):
    ok = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}
    bad = {"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHello: other\n\nAssistant: b"}
    path = tmp_path / "p.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps(ok) + "\n" + json.dumps(bad) + "\n").encode()))
    with pytest.raises(DataError, match="record 1: 'chosen' and 'rejected' share no"):
        read_preferences(path)
    (tmp_path / "broken.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="not a valid gzip"):
        read_preferences(tmp_path / "broken.jsonl.gz")
    path.write_bytes(gzip.compress((json.dumps(ok) + "\n").encode()))
    assert read_preferences(path)[0].rejected == "go away"


def test_completions_label_vocab(tmp_path):
    path = _write(tmp_path, "c.csv", "id,type,prompt,completion,final_label\n1,t,p,c,1_full_compliance\n2,t,p,c,yes\n")
    with pytest.raises(DataError, match="record 1: final_label must be one of"):
        read_xstest_completions(path)
