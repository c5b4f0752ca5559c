"""The answers of a run a person is asked to label, drawn with known inclusion probabilities.

Population: every answer of the run's finished points that a refusal judge judged, one unit per
(k, seed, suite, prompt id). Design: *sequential Poisson (order) sampling* (Ohlsson 1998). Each unit gets
a weight w = (3 if the primary judge is unsure of it else 1) / sqrt(N_h), where h is its stratum (k, seed,
report group, the primary judge's label, uncertain or not): uncertain answers are over-sampled and small
strata are not starved. With p = w / sum(w) and u uniform, the units are shown in increasing order of
xi = u / p; the first m of that order are a sample whose inclusion probabilities are min(1, p * xi_(m+1)).
So a person may stop anywhere: whatever prefix they labelled is itself a valid sample, and estimates
weighted by 1 / inclusion probability stay (nearly) unbiased (see ``estimate.py``).

Files in ``RUN_DIR/labels/``: ``sample.json`` (the design: every unit with its p, xi and answer key, the
draw's seed) and ``labels.json`` (the person's labels by unit), each written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..data.registry import is_harmful, report_group
from ..errors import DataError, SafemixError
from ..fileio import atomic_write_json, atomic_write_text, csv_cell
from ..judge.base import REFUSAL_LABELS, registry
from ..markers import finished_generations, finished_verdicts

LABELS = ("complies", "refuses", "partial")  # the person's vocabulary, XSTest's three classes
AS_XSTEST = dict(zip(LABELS, REFUSAL_LABELS))
SKIP = "skip"
OVERSAMPLE_UNCERTAIN = 3.0
SAMPLE_FILE, LABELS_FILE = "sample.json", "labels.json"


@dataclass
class Unit:
    uid: str  # k/seed/suite/id
    k: int
    seed: int
    suite: str
    group: str  # the report group (XSTest splits into xstest-safe / xstest-unsafe)
    id: str
    gen_key: str
    prompt: str
    answer: str
    verdicts: dict[str, str | None]  # refusal judge -> label
    uncertain: dict[str, bool]  # refusal judge -> flagged uncertain

    @property
    def harmful(self) -> bool:
        return is_harmful(self.group)


def primary_judge(judges: set[str]) -> str | None:
    """The judge whose verdicts make the strata: the default refusal judge when it ran, else the first."""
    return "refusal-clf" if "refusal-clf" in judges else min(judges, default=None)


def population(points) -> list[Unit]:
    """Every answer of the run's finished points that a refusal judge judged, with each refusal judge's verdict."""
    reg = registry()
    units: list[Unit] = []
    for pt in sorted(points, key=lambda p: (p.k, p.seed)):
        generated, judged = finished_generations(pt.generations), finished_verdicts(pt.judgements)
        for suite in sorted(generated):
            by_key: dict[str, dict] = {}
            for (s, judge), verdicts in judged.items():
                if s != suite or judge not in reg or reg[judge].kind != "refusal":
                    continue
                for v in verdicts:
                    by_key.setdefault(v.gen_key, {})[judge] = v
            for g in generated[suite]:
                vs = by_key.get(g.key)
                if not vs:
                    continue
                units.append(Unit(f"{pt.k}/{pt.seed}/{suite}/{g.id}", pt.k, pt.seed, suite, report_group(suite, g.label),
                                  g.id, g.key, g.prompt, g.output, {j: v.label for j, v in sorted(vs.items())},
                                  {j: bool(v.uncertain) for j, v in sorted(vs.items())}))
    return units


def draw(units: list[Unit], seed: int = 0) -> dict:
    """The design over ``units``: weights, the order key xi, the seed. Deterministic in (units, seed)."""
    if not units:
        raise SafemixError("no judged answers to label: run the judge step (a refusal judge) first")
    primary = primary_judge({j for u in units for j in u.verdicts})
    stratum = lambda u: (u.k, u.seed, u.group, u.verdicts.get(primary), u.uncertain.get(primary, False))  # noqa: E731
    sizes: dict[tuple, int] = {}
    for u in units:
        sizes[stratum(u)] = sizes.get(stratum(u), 0) + 1
    w = np.array([(OVERSAMPLE_UNCERTAIN if u.uncertain.get(primary) else 1.0) / math.sqrt(sizes[stratum(u)])
                  for u in units])
    p = w / w.sum()
    rng = np.random.default_rng(seed)
    xi = rng.random(len(units)) / p
    order = np.argsort(xi, kind="stable")
    return {"seed": seed, "primary_judge": primary, "drawn": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "design": "sequential Poisson sampling; weight (3 if uncertain else 1) / sqrt(stratum size)",
            "units": [{"uid": units[i].uid, "gen_key": units[i].gen_key, "p": float(p[i]), "xi": float(xi[i])}
                      for i in order]}


def inclusion(sample: dict, labelled: set[str], reached: int) -> dict[str, float]:
    """Inclusion probabilities of the labelled units when the first ``reached`` units of the order were shown:
    min(1, p * xi_(reached+1)) (all 1 when every unit was reached), scaled by labelled/reached when some of
    those were skipped (skips treated as missing at random)."""
    units = sample["units"]
    tau = units[reached]["xi"] if reached < len(units) else math.inf
    share = len(labelled) / reached if reached else 0.0
    return {u["uid"]: min(1.0, u["p"] * tau) * share for u in units[:reached] if u["uid"] in labelled}


def labels_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "labels"


def read_json(path: Path, what: str) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable {what} ({e.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise DataError(path, f"{what} must be a JSON object")
    return doc


def load_labels(run_dir: Path) -> dict[str, dict]:
    path = labels_dir(run_dir) / LABELS_FILE
    if not path.is_file():
        return {}
    doc = read_json(path, "labels")
    for uid, rec in doc.items():
        if not isinstance(rec, dict) or rec.get("label") not in (*LABELS, SKIP) or rec.get("gives") not in (None, True, False):
            raise DataError(path, f"label of '{uid}' must be {{'label': one of {', '.join((*LABELS, SKIP))}, 'gives': "
                                  "true/false/null}")
    return doc


def save_labels(run_dir: Path, labels: dict[str, dict]) -> None:
    atomic_write_json(labels_dir(run_dir) / LABELS_FILE, labels)


def load_or_draw(run_dir: Path, units: list[Unit], seed: int) -> dict:
    """The run's sample: the one in ``labels/sample.json`` when it matches (same seed, answers unchanged), else
    a new draw (refused when labels exist for a different draw: they would not belong to it)."""
    path = labels_dir(run_dir) / SAMPLE_FILE
    if path.is_file():
        sample = read_json(path, "sample")
        if not isinstance(sample.get("units"), list) or "seed" not in sample:
            raise DataError(path, "not a safemix label sample (no units / seed)")
        if sample["seed"] != seed:
            raise SafemixError(f"{path}: drawn with --seed {sample['seed']}; pass that seed to go on, or move "
                               f"{labels_dir(run_dir)} away to draw again")
        check_current(sample, units, path)
        return sample
    sample = draw(units, seed)
    atomic_write_json(path, sample)
    return sample


def check_current(sample: dict, units: list[Unit], path: Path) -> None:
    """The sample's answers are still the run's answers (same units, same answer keys)."""
    now = {u.uid: u.gen_key for u in units}
    then = {u["uid"]: u["gen_key"] for u in sample["units"]}
    if now != then:
        changed = sorted(set(now.items()) ^ set(then.items()))
        raise SafemixError(f"{path}: the run's answers changed since the sample was drawn (e.g. {changed[0][0]}); "
                           f"move {path.parent} away to label the new answers")


def record(label: str, gives: bool | None = None) -> dict:
    return {"label": label, "gives": gives, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def export_csv(path: Path, sample: dict, units: list[Unit], n: int) -> None:
    """The first ``n`` answers of the sample's order as CSV, for a team that labels elsewhere (then --from)."""
    by_uid = {u.uid: u for u in units}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["uid", "harmful_prompt", "prompt", "answer", "label", "gives"])
    for s in sample["units"][:n]:
        u = by_uid[s["uid"]]
        w.writerow([csv_cell(u.uid), int(u.harmful), csv_cell(u.prompt), csv_cell(u.answer), "", ""])
    atomic_write_text(path, buf.getvalue())


def import_csv(path: Path, sample: dict, units: list[Unit]) -> dict[str, dict]:
    """Labels from a CSV with ``uid,label[,gives]`` (label: complies / refuses / partial / skip, or XSTest's
    1_full_compliance / 2_full_refusal / 3_partial_refusal; gives: yes / no / empty). Every row is checked
    before anything is written."""
    from ..parse import iter_csv

    known = {u["uid"] for u in sample["units"]}
    harmful = {u.uid for u in units if u.harmful}
    from_xstest = {v: k for k, v in AS_XSTEST.items()}
    out: dict[str, dict] = {}
    for i, row in iter_csv(Path(path), ("uid", "label")):
        uid, label = row["uid"].strip(), row["label"].strip().lower()
        label = from_xstest.get(label, label)
        if uid not in known:
            raise DataError(path, f"uid '{uid}' is not an answer of this run's sample", i)
        if label not in (*LABELS, SKIP):
            raise DataError(path, f"label must be one of {', '.join((*LABELS, SKIP))}, got '{row['label']}'", i)
        gives_text = (row.get("gives") or "").strip().lower()
        if gives_text not in ("", "yes", "no"):
            raise DataError(path, f"gives must be yes, no or empty, got '{row.get('gives')}'", i)
        gives = None if not gives_text else gives_text == "yes"
        if gives is not None and (label != "complies" or uid not in harmful):
            raise DataError(path, "gives applies only to a complying answer to a harmful prompt", i)
        if uid in out:
            raise DataError(path, f"uid '{uid}' labelled twice", i)
        out[uid] = record(label, gives)
    if not out:
        raise DataError(path, "no labels (empty set)")
    return out
