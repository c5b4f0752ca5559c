"""Capability through lm-evaluation-harness on a real small model and a multiple-choice file the test writes."""

import json
import sys

import pytest
import torch

from safemix.capability import BUILTIN_MC, evaluate_capability, parse_tasks, read_mc
from safemix.errors import SafemixError

ITEMS = [
    {"question": "What color is a ripe banana?", "choices": ["yellow", "blue", "black"], "answer": 0},
    {"question": "How many wheels does a bicycle have?", "choices": ["one", "two", "nine"], "answer": 1},
    {"question": "Which animal barks?", "choices": ["a cat", "a fish", "a dog"], "answer": "a dog"},
    {"question": "What do you drink when you are thirsty?", "choices": ["water", "sand"], "answer": 0},
    {"question": "Where do fish live?", "choices": ["in trees", "in water", "in the sky"], "answer": 1},
    {"question": "What is the capital of France?", "choices": ["Rome", "Madrid", "Paris", "Berlin"], "answer": 2},
]


@pytest.fixture(scope="module")
def mc_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mc") / "items.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in ITEMS))
    return path


def test_task_specs():
    specs = parse_tasks("piqa, mine=/tmp/x.jsonl,safemix-mini-mc")
    assert [(s.name, s.local) for s in specs] == [("piqa", False), ("mine", True), ("safemix-mini-mc", True)]
    assert specs[2].path == BUILTIN_MC["safemix-mini-mc"] and len(read_mc(specs[2].path)) == 60
    for bad, msg in (("", "no capability tasks"), ("a=x,a=y", "given twice"), ("bad name=x", "a name is")):
        with pytest.raises(SafemixError, match=msg):
            parse_tasks(bad)


@pytest.mark.parametrize("line,msg", [
    ("{not json", "line 2: not JSON"),
    ('{"question": "q", "choices": ["a"], "answer": 0}', "line 2: 'choices'"),
    ('{"question": "q", "choices": ["a", "b"], "answer": 2}', "line 2: 'answer'"),
    ('{"question": "q", "choices": ["a", "b"], "answer": "c"}', "line 2: 'answer'"),
    ('{"choices": ["a", "b"], "answer": 0}', "line 2: missing or empty 'question'"),
])
def test_malformed_items_name_file_and_line(tmp_path, line, msg):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ITEMS[0]) + "\n" + line + "\n")
    with pytest.raises(SafemixError, match=msg) as err:
        read_mc(path)
    assert str(path) in str(err.value)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(SafemixError, match="no multiple-choice items"):
        read_mc(tmp_path / "empty.jsonl")


def _own_accuracy(items) -> float:
    """Zero-shot log-likelihood scoring done by hand, to check what the harness computed."""
    from safemix.models import load_causal_lm, load_tokenizer, resolve_model

    ref = resolve_model("smollm2-135m")
    lm, tok = load_causal_lm(ref).eval(), load_tokenizer(ref)
    right = 0
    for it in items:
        ctx = f"Question: {it['question']}\nAnswer:"
        n_ctx = len(tok(ctx)["input_ids"])
        lls = []
        for choice in it["choices"]:
            ids = tok(ctx + " " + choice, return_tensors="pt")["input_ids"]
            with torch.no_grad():
                logp = lm(ids).logits[0, :-1].log_softmax(-1)
            target = ids[0, n_ctx:]
            lls.append(logp[n_ctx - 1:].gather(1, target[:, None]).sum().item())
        answer = it["answer"] if isinstance(it["answer"], int) else it["choices"].index(it["answer"])
        right += max(range(len(lls)), key=lls.__getitem__) == answer
    return right / len(items)


@pytest.mark.slow
def test_harness_scores_a_local_task_like_hand_scoring(mc_file, tmp_path):
    out = tmp_path / "cap.json"
    doc = evaluate_capability(f"toy={mc_file}", out, model="smollm2-135m", batch_size=4)
    sc = doc["tasks"]["toy"]
    assert json.loads(out.read_text()) == doc and sc["n"] == len(ITEMS) and sc["sha256"]
    assert sc["acc"] == pytest.approx(_own_accuracy(ITEMS))
    assert sc["acc"] >= 4 / 6  # easy items: a real model gets most of them
    assert 0 < sc["acc_stderr"] < 0.5 and 0 <= sc["acc_norm"] <= 1
    assert doc["adapter"] is None and doc["model"] == "smollm2-135m" and doc["lm_eval_version"]


@pytest.mark.slow
def test_clear_errors_before_any_model_loads(mc_file, tmp_path, monkeypatch):
    out = tmp_path / "cap.json"
    with pytest.raises(SafemixError, match="unknown lm-eval task 'no-such-task'"):
        evaluate_capability("no-such-task", out, model="smollm2-135m")
    with pytest.raises(SafemixError, match=r"lm-eval task 'boolq': cannot get its data .*boolq=items.jsonl"):
        evaluate_capability("boolq", out, model="smollm2-135m")  # offline: the harness cannot download it
    with pytest.raises(SafemixError, match="no-file.jsonl: cannot read"):
        evaluate_capability(f"x={tmp_path / 'no-file.jsonl'}", out, model="smollm2-135m")
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # the extra is not installed
    with pytest.raises(SafemixError, match=r"pip install 'safemix\[lmeval\]'"):
        evaluate_capability(f"toy={mc_file}", out, model="smollm2-135m")
    assert not out.exists()
