"""``safemix label``: a person's labels for a sample of a run's answers, and the estimates that use them.

``sample.py`` draws the answers with known inclusion probabilities (uncertain verdicts over-sampled) and
keeps the labels; ``server.py`` serves the labelling page on 127.0.0.1; ``estimate.py`` gives each judge's
agreement with the person and the prediction-powered estimates the report adds."""

from __future__ import annotations

from pathlib import Path

from .estimate import agreement_rows, estimate_rows
from .sample import (
    LABELS,
    LABELS_FILE,
    SAMPLE_FILE,
    export_csv,
    import_csv,
    labels_dir,
    load_labels,
    load_or_draw,
    population,
    save_labels,
)


def run_points(run_dir: Path):
    """The run's finished points (k, seed, generation and judge folders), from its ``steps.json``."""
    from ..artifacts import read_steps

    return read_steps(run_dir).judged_points(run_dir)


def prepare(run_dir: Path, seed: int = 0):
    """(units, sample, labels) of a run: the sample is drawn on first use and kept in ``labels/``."""
    units = population(run_points(run_dir))
    sample = load_or_draw(Path(run_dir), units, seed)
    return units, sample, load_labels(Path(run_dir))


def label_estimates(run_dir: Path, points) -> tuple[list[dict], list[dict], int] | None:
    """The report's rows from a run's labels (None when it has none): (result rows, agreement rows, n labelled)."""
    from .sample import check_current, read_json

    folder = labels_dir(run_dir)
    labels = load_labels(Path(run_dir))
    if not (folder / SAMPLE_FILE).is_file() or not labels:
        return None
    units = population(points)
    sample = read_json(folder / SAMPLE_FILE, "sample")
    check_current(sample, units, folder / SAMPLE_FILE)
    rows, agree = estimate_rows(units, sample, labels)
    return rows, agree, sum(1 for r in labels.values() if r["label"] in LABELS)


__all__ = ["prepare", "population", "estimate_rows", "agreement_rows", "export_csv", "import_csv", "save_labels",
           "label_estimates", "LABELS_FILE", "SAMPLE_FILE"]
