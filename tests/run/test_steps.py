"""``steps.json``: the run's step list that the report, model cards, tracking and labels read instead of planning."""

import json

import pytest

from safemix.artifacts import STEPS, read_steps
from safemix.config import load_run_config
from safemix.errors import SafemixError
from safemix.run.plan import plan
from safemix.run.runner import ensure_steps, write_steps
from safemix.run.stages import STAGES

CFG = """
name: listed
model: smollm2-135m
data: {general: gpteacher-roleplay, n_general: 8, k: [0, 8]}
generate: {suites: [q-harm]}
capability: {tasks: [toy=x.jsonl]}
"""


def test_the_step_list_is_the_plan_and_points_come_from_markers(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(CFG)
    cfg = load_run_config(run_dir / "config.yaml")
    with pytest.raises(SafemixError, match="no step list in this run folder; 'safemix report"):
        read_steps(run_dir)
    ensure_steps(run_dir)  # an older run folder gets one from its config
    listed = read_steps(run_dir)
    steps = plan(cfg, run_dir)
    assert [(e.stage, e.k, e.seed, e.key) for e in listed.steps] == [(s.stage, s.k, s.seed, s.key) for s in steps]
    assert all(run_dir / e.path == s.path for e, s in zip(listed.steps, steps))
    assert all(not e.path.startswith("/") for e in listed.steps)  # relative: the run folder can move
    assert listed.judged_points(run_dir) == []
    for s in steps:  # finish k=8's generation, judging and capability
        if s.k == 8 and s.stage in ("generate", "judge", "capability"):
            s.path.mkdir(parents=True)
            (s.path / STAGES[s.stage].marker.format(k=s.k)).write_text("{}")
    [point] = listed.judged_points(run_dir)
    by = {s.stage: s for s in steps if s.k == 8}
    assert (point.k, point.generations, point.judgements, point.capability, point.quality) == \
        (8, by["generate"].path, by["judge"].path, by["capability"].path, None)
    doc = json.loads((run_dir / STEPS).read_text())
    assert doc["name"] == "listed" and doc["steps"][0]["marker"] == STAGES["mixture"].marker.format(k=0)
    write_steps(cfg.model_copy(update={"seeds": [1, 2]}), run_dir)  # rewritten on every plan
    assert len(read_steps(run_dir).steps) == 2 * len(steps)
