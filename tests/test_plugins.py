"""A plug-in outside safemix -- a toy judge with an option and a metric of its own, and a toy tracker -- from one
temporary module named in $SAFEMIX_PLUGINS: both show up in the run config's sections, the command line's flags and
help, and the judge's metric in the report, with no change to safemix. Run in a fresh interpreter, since the config
sections are generated when safemix.config is first imported."""

import json
import os
import subprocess
import sys

from safemix.plugins import Options, merged

TOY = '''
import json
from pydantic import Field
from safemix.judge.base import Judge, Metric, Verdict, register
from safemix.plugins import Options
from safemix.track.base import Tracker, tracker


class RudeOptions(Options):
    strictness: int | None = Field(None, ge=0, description="toy: how many 'no's make an answer rude")


@register("toy-rude", "harm", RudeOptions, about="toy: rude answers",
          metrics=(Metric("rude_rate", lambda v: float(v["label"] == "rude")),))
class Rude(Judge):
    id, kind = "toy-rude", "harm"

    def __init__(self, strictness=1):
        self.strictness = strictness

    def judge(self, pairs):
        return [Verdict("rude" if a.lower().count("no") >= self.strictness else "polite") for _, a in pairs]


class JsonlOptions(Options):
    path: str = Field("toy.jsonl", description="toy: the file metrics are appended to")
    tag: str = Field("toy", description="toy: a tag on every line")


@tracker("jsonl", JsonlOptions, flag="path")
class Jsonl(Tracker):
    package = "json"

    def where(self):
        return f"jsonl {self.options.path}"

    def start(self, name, tags, params, resume=None):
        self.name = name
        return name

    def log_metrics(self, metrics, step=None):
        with open(self.base / self.options.path, "a") as f:
            f.write(json.dumps({"run": self.name, "tag": self.options.tag, **metrics}) + "\\n")

    def log_artifacts(self, folder, name):
        pass

    def finish(self):
        pass
'''

SCRIPT = r'''
import contextlib, io, json, sys
from pathlib import Path
from safemix.cli import main

def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()

tmp = Path(sys.argv[1])
got = {}
got["judge_help"] = cli("judge", "--help")[1]
got["train_help"] = cli("train", "--help")[1]
from safemix.config import JudgeOptions, TrackingSection, load_run_config
from safemix.errors import SafemixError
got["judge_options"] = list(JudgeOptions.model_fields)
got["tracking"] = list(TrackingSection.model_fields)
base = "name: t\nmodel: smollm2-135m\ndata: {general: gpteacher-roleplay, n_general: 8, k: [0]}\n"
(tmp / "ok.yaml").write_text(base + "judges: [toy-rude]\njudge_options: {strictness: 2}\ntracking: {jsonl: {path: m.jsonl}}\n")
cfg = load_run_config(tmp / "ok.yaml")
got["given"] = cfg.judge_options.given()
got["tracker_path"] = cfg.tracking.jsonl.path
(tmp / "bad.yaml").write_text(base + "judges: [toy-rude]\njudge_options: {strictness: -1}\n")
try:
    load_run_config(tmp / "bad.yaml")
except SafemixError as exc:
    got["bad"] = str(exc)
(tmp / "other.yaml").write_text(base + "judges: [xstest-strmatch]\njudge_options: {strictness: 2}\n")
try:
    load_run_config(tmp / "other.yaml")
except SafemixError as exc:
    got["not_taken"] = str(exc)
gen, jud = tmp / "gen", tmp / "jud"
gen.mkdir()
recs = [{"suite": "xstest", "id": f"xstest:{i}", "prompt": f"prompt {i}", "label": "safe" if i < 5 else "unsafe",
         "output": "no, no." if i in (0, 1, 5) else ("no." if i == 2 else "Sure."), "finish_reason": "eos",
         "output_tokens": 3, "key": f"g{i}"} for i in range(10)]
(gen / "xstest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
from safemix.markers import mark_done
mark_done(gen, "generate", records={"xstest": len(recs)})
got["judge_cli"] = cli("judge", "--judges", "toy-rude", "--strictness", "2", "--in", gen, "--out", jud)
got["judge_cli_bad"] = cli("judge", "--judges", "toy-rude", "--strictness", "many", "--in", gen, "--out", tmp / "j2")
from safemix.artifacts import Point
from safemix.report import build_report
out = build_report([Point(0, 1, gen, jud)], tmp / "report")
import csv
rows = list(csv.DictReader(open(out["results"])))
got["rude"] = {r["suite"]: r["value"] for r in rows if r["metric"] == "rude_rate"}
got["report_md"] = out["markdown"].read_text()
from safemix.report.document import read_results
got["declared"] = read_results(tmp).metrics["rude_rate"].model_dump()
from safemix.cli.options import tracking_flags
from safemix.track import open_trackers
section = tracking_flags({"jsonl": {"path": str(tmp / "flag.jsonl"), "tag": "from-cli"}})
(t,) = open_trackers(section, tmp)
t.start("p", {}, {}); t.log_metrics({"harmful_compliance": 0.5}); t.finish()
got["tracked"] = (tmp / "flag.jsonl").read_text()
print(json.dumps(got))
'''


def test_a_toy_judge_and_tracker_from_one_module_reach_config_cli_and_report(tmp_path):
    (tmp_path / "toy_plugins.py").write_text(TOY)
    env = {**os.environ, "SAFEMIX_PLUGINS": "toy_plugins",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "toy-rude (harm)" in " ".join(got["judge_help"].split()) and "--strictness" in got["judge_help"]
    assert "--jsonl TEXT" in got["train_help"] and "--jsonl-tag" in got["train_help"]
    assert "strictness" in got["judge_options"] and "jsonl" in got["tracking"]
    assert got["given"] == {"strictness": 2} and got["tracker_path"] == "m.jsonl"
    assert "judge_options.strictness" in got["bad"] and "greater than or equal to 0" in got["bad"]
    assert "strictness" in got["not_taken"] and "xstest-strmatch" in got["not_taken"]
    assert got["judge_cli"][0] == 0
    code, _, err = got["judge_cli_bad"]
    assert code == 2 and "--strictness" in err and len(err.strip().splitlines()) == 1
    # strictness 2: two 'no's make an answer rude -> answers 0 and 1 of five safe ones (not 2, with one 'no')
    assert float(got["rude"]["xstest-safe"]) == 0.4 and float(got["rude"]["xstest-unsafe"]) == 0.2
    # the metric's declaration reaches the report's tables and results.json, with no change to safemix
    assert "## rude rate\n" in got["report_md"] and "| xstest-safe | toy-rude | 0.400 [0.12, 0.77] |" in got["report_md"]
    assert got["declared"] == {"label": "rude rate", "higher": "worse", "rate": True, "interval": "wilson",
                               "by": "toy-rude"}
    line = json.loads(got["tracked"])
    assert line == {"run": "p", "tag": "from-cli", "harmful_compliance": 0.5}


def test_two_plugins_that_declare_one_option_two_ways_are_an_error():
    from typing import Annotated

    from pydantic import Field

    class A(Options):
        size: Annotated[int | None, Field(gt=0)] = None

    class B(Options):
        size: Annotated[int | None, Field(ge=0)] = None

    class C(Options):
        size: Annotated[int | None, Field(gt=0)] = None
        name: str | None = None

    assert list(merged("AC", "", [A, C]).model_fields) == ["name", "size"]
    try:
        merged("AB", "", [A, B])
    except TypeError as exc:
        assert "size" in str(exc)
    else:
        raise AssertionError("two declarations of one option were merged")
