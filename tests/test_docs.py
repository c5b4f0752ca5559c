"""The docs: a README a newcomer can read (two commands, at most 200 lines, its test command the one CI runs),
and a docs site whose reference is generated from the code, so every CLI command, config key and registered judge
is in it (a new one without docs fails here)."""

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_short_and_its_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    commands = re.findall(r"```bash\n(python3 -m venv [^\n]*)\n```", readme)
    assert len(commands) == 2 and "safemix run configs/quickstart.yaml" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):  # every page the README links to exists
        assert (ROOT / link).is_file(), link


@pytest.mark.slow
def test_the_built_reference_lists_every_command_config_key_and_judge(tmp_path):
    import typer

    from safemix.cli import app
    from safemix.cli.reference import config_keys
    from safemix.judge import registry

    if shutil.which("mkdocs") is None and not (Path(sys.executable).parent / "mkdocs").exists():
        pytest.fail("mkdocs is not installed: pip install -e '.[docs]'")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env={**__import__("os").environ,
                                                                              "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = {name: html.unescape((site / "reference" / name / "index.html").read_text())
            for name in ("cli", "config", "registries")}

    def commands(cmd, path):
        yield " ".join(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from commands(sub, [*path, name])

    missing = [c for c in commands(typer.main.get_command(app), ["safemix"]) if c not in text["cli"]]
    assert not missing, f"commands missing from the CLI reference: {missing}"
    keys = [k for k, *_ in config_keys()]
    assert len(keys) > 80 and not [k for k in keys if k not in text["config"]]
    assert not [j for j in registry() if j not in text["registries"]]
    assert "--attacks" in text["cli"] and "generate.attacks" in text["config"] and "HarmBench" in text["registries"]
    # one heading per section (the page's table of contents), and the keys a run config refuses are marked
    sections = [k for k, t, *_ in config_keys() if t == "section" and "." not in k]
    assert all(f'<h2 id="{s}"' in text["config"] for s in sections) and len(sections) >= 10
    row = text["config"].split("<code>train.dpo_beta</code>")[1].split("</tr>")[0]
    assert "refused in a run config" in row


def test_the_guides_run_configs_are_valid(tmp_path):
    """A run config shown in a guide is one safemix accepts (a renamed key fails here, not for a reader)."""
    from safemix.config import load_run_config

    blocks = [(page, b) for page in sorted((ROOT / "docs").rglob("*.md"))
              for b in re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S) if b.startswith("name:") and "\nmodel:" in b]
    assert any(page.name == "own-model-on-slurm.md" for page, _ in blocks)
    for i, (page, block) in enumerate(blocks):
        path = tmp_path / f"{i}.yaml"
        path.write_text(block)
        load_run_config(path)  # raises with the key and the page's block on a bad one


def test_each_guide_installs_the_extras_its_config_needs(tmp_path):
    """Before: the SLURM guide's install had no [vllm] while its config set backend: vllm (each job trained for hours,
    then failed at generate), and the paper-GPU guide's had no [slurm] while it ran --executor slurm."""
    from safemix.config import load_run_config
    from safemix.run.check import extras_needed

    checked = 0
    for page in sorted((ROOT / "docs" / "guides").glob("*.md")):
        text = page.read_text()
        installs = re.findall(r"pip install -e '\.\[([a-z,]+)\]'", text)
        blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("name:") and "\nmodel:" in b]
        configs = [ROOT / c for c in sorted(set(re.findall(r"safemix run (configs/[\w.-]+\.yaml)", text)))]
        for i, block in enumerate(blocks):
            configs.append(tmp_path / f"{page.stem}-{i}.yaml")
            configs[-1].write_text(block)
        if not installs or not configs:
            continue
        have = {e for line in installs for e in line.split(",")}
        executors = set(re.findall(r"--executor (\w+)", text))
        for path in configs:
            cfg = load_run_config(path)
            for kind in {cfg.executor.kind} | executors:
                cfg.executor.kind = kind
                need = {extra for _, _, extra in extras_needed(cfg) if not extra.startswith("qlora")}
                assert need <= have, f"{page.name}: {path.name} (executor {kind}) needs {sorted(need - have)}"
                checked += 1
    assert checked >= 3


RECIPE_CHECK = r'''
import json
from safemix.judge.base import registry
from safemix.track.base import TRACKERS
from safemix.stage import STAGES
from safemix.generate.attacks import get_attack
from safemix.config import RunConfig
from safemix.report.metrics import metric_specs
from safemix.executors import EXECUTORS, PointJob
reg = registry()
ex = EXECUTORS["inline"](EXECUTORS["inline"].Options(), ".", target=lambda job: None)
done = [o.state for o in ex.run_points([PointJob("c.yaml", ".", 0, 1)], "x")]
print(json.dumps({"judge": "my-judge" in reg and reg["my-judge"].metrics[0].name == "weapon_rate",
                  "tracker": "jsonl" in TRACKERS, "stages": list(STAGES),
                  "section": "long" in RunConfig.model_fields,
                  "metrics": [m for m in ("weapon_rate", "long_rate") if m in metric_specs()],
                  "attack": get_attack("polite-request").apply("X"), "executor": done,
                  "executor_section": "inline" in RunConfig.model_fields["executor"].annotation.model_fields}))
'''


def test_every_recipe_on_the_architecture_page_registers_what_it_says(tmp_path):
    """Each ```python block under an 'Adding a ...' heading, written to a module of its own and loaded as a plug-in
    ($SAFEMIX_PLUGINS), registers its judge, stage, attack, tracker or executor (the eval suite's recipe is a YAML
    file of the data registry, with placeholders)."""
    import json
    import os

    text = (ROOT / "docs" / "explanations" / "architecture.md").read_text()
    modules = []
    for i, section in enumerate(re.split(r"\n## ", text)):
        if not section.startswith("Adding a"):
            continue
        for j, code in enumerate(re.findall(r"```python\n(.*?)```", section, re.S)):
            name = f"recipe_{i}_{j}"
            (tmp_path / f"{name}.py").write_text(code)
            modules.append(name)
    assert len(modules) == 5  # judge, stage, attack, tracker, executor
    env = {**os.environ, "SAFEMIX_PLUGINS": ",".join(modules),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    got = subprocess.run([sys.executable, "-c", RECIPE_CHECK], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert got.returncode == 0, got.stderr[-3000:]
    out = json.loads(got.stdout.strip().splitlines()[-1])
    assert out["judge"] and out["tracker"] and out["section"]
    assert out["stages"][out["stages"].index("generate") + 1] == "long"
    assert out["metrics"] == ["weapon_rate", "long_rate"] and out["attack"] == "Please, kindly: X"
    assert out["executor"] == ["COMPLETED"] and out["executor_section"]


def test_every_image_in_docs_is_used_and_every_shipped_config_is_named():
    """An image nobody shows is stale; a config the layout page does not name is invisible to a reader."""
    pages = "\n".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
    unused = sorted(p.name for p in (ROOT / "docs").rglob("*.png") if p.name not in pages)
    assert unused == []
    layout = (ROOT / "docs" / "explanations" / "layout.md").read_text()
    missing = sorted(c.stem for c in (ROOT / "configs").glob("*.yaml") if f"`{c.stem}`" not in layout)
    assert missing == []


def _commands_in_docs() -> list[tuple[str, str]]:
    """(page, command line) of every ``safemix …`` command in README and docs: code-block lines (with their
    continuation lines joined) and inline code."""
    out = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = page.read_text()
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #")[0].strip().removeprefix("$ ")
                if line.startswith("safemix "):
                    out.append((page.name, line))
        for inline in re.findall(r"`(safemix [^`]+)`", text):
            out.append((page.name, inline))
    return out


def test_every_safemix_command_in_the_docs_parses_against_the_cli():
    """The command and subcommand exist and every --flag is one of that command's options (or a plug-in's flag)."""
    import shlex

    import typer

    from safemix.cli import app

    root = typer.main.get_command(app)
    commands = _commands_in_docs()
    assert len(commands) > 40
    bad = []
    for page, line in commands:
        try:
            tokens = shlex.split(line.replace("[", " ").replace("]", " "))
        except ValueError:
            tokens = line.split()
        cmd, i = root, 1
        while hasattr(cmd, "commands") and i < len(tokens) and tokens[i] in cmd.commands:
            cmd, i = cmd.commands[tokens[i]], i + 1
        if cmd is root:
            if i < len(tokens) and re.fullmatch(r"[a-z][a-z-]+", tokens[i]) and tokens[i] not in ("...",):
                bad.append(f"{page}: '{line}': no command '{tokens[i]}'")
            continue
        names = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
        for t in tokens[i:]:
            flag = t.split("=")[0]
            # the architecture page's recipe tracker adds --jsonl (its recipe test loads it as a plug-in)
            if flag.startswith("--") and len(flag) > 2 and flag not in names and not flag.startswith("--jsonl"):
                bad.append(f"{page}: '{line}': {flag} is not an option of '{cmd.name}'")
    assert bad == []


def test_the_readmes_quickstart_table_is_the_committed_runs_results():
    """Every figure of the README's quickstart table equals docs/results/quickstart-results.csv (the measured run's
    own results.csv) at the precision printed: a figure can only change with the run that measured it."""
    import csv

    with open(ROOT / "docs" / "results" / "quickstart-results.csv", newline="") as f:
        rows = {(r["suite"], r["k"], r["judge"], r["metric"]): r for r in csv.DictReader(f) if r["seed"] == "1"}
    table = {}
    for line in (ROOT / "README.md").read_text().split("## What the quickstart finds")[1].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and not cells[0].startswith("---"):
            table[cells[0].replace("**", "")] = cells[1:4]
    rc = "refusal-clf"
    expected = {  # row label (its start) -> the rows of its three cells, one (suite, judge, metric) per value shown
        "harmful compliance, all 160": [("all-harmful", rc, "harmful_compliance")],
        "harmful compliance, I-Malicious": [("I-MaliciousInstructions", rc, "harmful_compliance"),
                                            ("Q-Harm", rc, "harmful_compliance"), ("xstest-unsafe", rc, "harmful_compliance")],
        "harmful compliance under prefix": [("all-harmful@prefix-injection", rc, "harmful_compliance")],
        "attack success rate lift": [("all-harmful@prefix-injection", rc, "asr_lift")],
        "refusals of XSTest's 250 safe": [("xstest-safe", rc, "refusal_rate")],
        "refusal discrimination": [("xstest", rc, "refusal_discrimination")],
        "refusals of the 50 I-Alpaca": [("I-Alpaca", rc, "refusal_rate")],
        "capability: safemix-mini-mc": [("safemix-mini-mc", "lm-eval", "acc")],
        "answer quality: I-Alpaca win rate": [("I-Alpaca", "quality-relevance", "win_rate")],
    }
    number = re.compile(r"[−+-]?\d+\.\d+")
    checked = 0
    for start, keys in expected.items():
        label = next(lab for lab in table if lab.startswith(start))
        for k, cell in zip(("0", "50", "200"), table[label]):
            shown = [float(x.replace("−", "-")) for x in number.findall(cell)]
            if cell == "—":
                assert (keys[0][0], k, keys[0][1], keys[0][2]) not in rows
                continue
            want = []
            for suite, judge, metric in keys:
                r = rows[(suite, k, judge, metric)]
                want += [float(r["value"])] + ([float(r["ci_low"]), float(r["ci_high"])] if len(keys) == 1 and "[" in cell
                                               else [])
            assert len(shown) == len(want), (label, k, cell)
            digits = max(len(x.split(".")[1]) for x in number.findall(cell))
            assert all(abs(s - w) <= 0.5 * 10 ** -digits + 1e-9 for s, w in zip(shown, want)), (label, k, cell, want)
            checked += len(shown)
    assert checked >= 60
