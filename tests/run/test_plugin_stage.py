"""A stage is a unit of extension: a toy stage from one temporary module (``$SAFEMIX_PLUGINS``), placed between
generate and judge, reaches the config schema, ``--help``, the plan and its keys, ``--check``, the run, the report's
tables and the results document, with no other file edited. Run in a fresh interpreter: plug-ins load once."""

import json
import os
import subprocess
import sys

import pytest

TOY = '''
import json

from pydantic import Field

from safemix.metrics import MetricSpec
from safemix.plugins import Section
from safemix.stage import CheckRow, Stage, register_stage


class ToySection(Section):
    """toy: the share of answers of at least min_words words."""
    min_words: int = Field(3, ge=1, description="toy: an answer of at least this many words is long")


class ToyStage(Stage):
    name, parent, after = "toy", "generate", "generate"
    section = ToySection
    reads = ("toy",)
    metrics = (MetricSpec("long_rate", "long answers (toy stage)", "neither", by="toy"),)

    def run(self, ctx):
        from safemix.fileio import atomic_write_json
        from safemix.markers import finished_generations, mark_done

        gens = finished_generations(ctx.parent)
        n = ctx.config.toy.min_words
        atomic_write_json(ctx.path / "toy.json", {s: {r.id: float(len(r.output.split()) >= n) for r in recs}
                                                  for s, recs in gens.items()})
        mark_done(ctx.path, "toy")

    def checks(self, cfg):
        n = cfg.toy.min_words
        return [CheckRow("toy threshold", "toy.min_words", n < 100, f"min_words {n}", "set toy.min_words below 100")]

    def result_rows(self, point, path):
        from safemix.report.results import result_row

        data = json.loads((path / "toy.json").read_text())
        return [result_row(s, point.k, point.seed, "toy", "long_rate", v) for s, v in sorted(data.items()) if v]

    @staticmethod
    def command(run_dir: str):
        """toy: the toy stage's verb."""
        print("toy verb", run_dir)


register_stage(ToyStage())
'''

CONFIG = """name: toy
model: smollm2-135m
data: {general: gpteacher-roleplay, n_general: 8, k: [0], leakage: "off"}
train: {max_steps: 1, batch_size: 4, micro_batch_size: 4, cutoff_len: 64, progress: false}
generate: {suites: [Q-Harm], limit_per_suite: 3, max_new_tokens: 8, batch_size: 4}
judges: [xstest-strmatch]
"""

SCRIPT = r'''
import json, sys
from pathlib import Path
tmp, data = Path(sys.argv[1]), sys.argv[2]
got = {}
from safemix.cli import main
from safemix.config import RunConfig, load_run_config
from safemix.run.plan import plan
import contextlib, io

def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()

got["schema"] = RunConfig.model_json_schema()["properties"].get("toy") is not None
got["help"] = cli("--help")[1]
got["verb"] = cli("toy", "somewhere")[1]
(tmp / "bad.yaml").write_text(CONFIG + "toy: {min_words: 0}\n")
got["bad"] = cli("run", tmp / "bad.yaml", "--check", "--data-dir", data)
(tmp / "with.yaml").write_text(CONFIG + "toy: {min_words: 2}\n")
(tmp / "without.yaml").write_text(CONFIG)
(tmp / "other.yaml").write_text(CONFIG + "toy: {min_words: 5}\n")
keys = {}
for name in ("with", "without", "other"):
    keys[name] = [[s.stage, s.key] for s in plan(load_run_config(tmp / f"{name}.yaml"), tmp / "r")]
got["keys"] = keys
got["check"] = cli("run", tmp / "with.yaml", "--check", "--data-dir", data)
got["run"] = cli("run", tmp / "with.yaml", "--out", tmp / "run", "--data-dir", data)
print(json.dumps(got))
'''


@pytest.mark.slow
def test_a_toy_stage_from_one_module_reaches_config_help_plan_check_report_and_results(shared_data, tmp_path):
    (tmp_path / "toy_stage.py").write_text(TOY)
    env = {**os.environ, "SAFEMIX_PLUGINS": "toy_stage",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", f"CONFIG = {CONFIG!r}\n" + SCRIPT, str(tmp_path), str(shared_data)],
                          env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["schema"]  # the config schema has the stage's section
    assert " toy " in got["help"] and "toy verb somewhere" in got["verb"]  # its verb
    code, _, err = got["bad"]
    assert code == 2 and "toy.min_words" in err and len(err.strip().splitlines()) == 1
    # the plan: the toy step right after generate; its key follows its section; no other stage's key moves
    with_, without, other = (got["keys"][n] for n in ("with", "without", "other"))
    stages = [s for s, _ in with_]
    assert stages == ["mixture", "train", "generate", "toy", "judge"] and "toy" not in [s for s, _ in without]
    assert [kv for kv in with_ if kv[0] != "toy"] == without
    assert {s for (s, a), (_, b) in zip(with_, other) if a != b} == {"toy"}
    code, table, _ = got["check"]
    assert code == 0 and "toy threshold" in table and "toy.min_words" in table
    code, _, err = got["run"]
    assert code == 0, err[-2000:]
    report = tmp_path / "run" / "report"
    doc = json.loads((report / "results.json").read_text())
    rows = [r for r in doc["rows"] if r["metric"] == "long_rate"]
    assert [(r["suite"], r["judge"], r["n"]) for r in rows] == [("Q-Harm", "toy", 3)]
    assert doc["metrics"]["long_rate"]["by"] == "toy"
    assert "long_rate" in (report / "results.csv").read_text()
    assert "## long answers (toy stage)" in (report / "report.md").read_text()
