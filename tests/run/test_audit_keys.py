"""The audit's steps are keyed by the stages' own key parts: whatever re-runs a sweep's step re-runs the audit's."""

from types import SimpleNamespace

from safemix.run.audit import AuditConfig, plan_audit


def _keys(doc, tmp_path):
    cfg = AuditConfig(**doc)
    refs = {m.name: SimpleNamespace(fingerprint="model-fingerprint") for m in cfg.models}
    return {(s.stage, m.name): s for m, steps in plan_audit(cfg, tmp_path, refs) for s in steps}


def test_an_edited_local_suite_or_task_or_judge_option_re_runs_the_audits_steps(tmp_path):
    prompts, task = tmp_path / "p.jsonl", tmp_path / "t.jsonl"
    prompts.write_text('{"prompt": "hello"}\n')
    task.write_text('{"question": "q", "choices": ["a", "b"], "answer": 0}\n')
    doc = {"name": "a", "models": [{"name": "m", "model": "smollm2-135m"}],
           "generate": {"suites": ["Q-Harm", str(prompts)], "max_new_tokens": 8},
           "judges": ["xstest-strmatch"], "capability": {"tasks": [f"toy={task}"]}}
    a = _keys(doc, tmp_path)
    gen = a["generate", "m"]
    (gen.path / gen.marker).parent.mkdir(parents=True)
    (gen.path / gen.marker).write_text("{}")
    assert _keys(doc, tmp_path)["generate", "m"].done  # unchanged: resumes
    prompts.write_text('{"prompt": "hello there"}\n')
    b = _keys(doc, tmp_path)
    assert {s for s in a if a[s].key != b[s].key} == {("generate", "m"), ("judge", "m")}
    assert not b["generate", "m"].done  # the edited suite is asked again
    task.write_text('{"question": "q2", "choices": ["a", "b"], "answer": 1}\n')
    c = _keys(doc, tmp_path)
    assert {s for s in b if b[s].key != c[s].key} == {("capability", "m")}
    # the endpoint that gives the verdicts is in the judge step's key
    api = {**doc, "judges": ["llm-refusal"], "judge_options": {"base_url": "http://127.0.0.1:9/v1", "judge_model": "j"}}
    d, e = _keys(api, tmp_path), _keys({**api, "judge_options": {**api["judge_options"], "base_url": "http://127.0.0.1:8/v1"}}, tmp_path)
    assert {s for s in d if d[s].key != e[s].key} == {("judge", "m")}
