"""``safemix data``: list data sets, build mixtures, check leakage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .. import data as D
from ..errors import SafemixError
from ..fileio import atomic_write_json
from .options import DataDir

app = typer.Typer(rich_markup_mode=None, help="The data stage: data sets, mixtures and the leakage check.", no_args_is_help=True)
err = Console(stderr=True)



@app.command("list")
def list_cmd(data_dir: Optional[Path] = DataDir,
             as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Show every registered data set, its licence, and whether a local copy was found."""
    rows = []
    for spec in D.REGISTRY.values():
        try:
            found = D.find_local(spec, data_dir)
            status = f"{found.origin}: {found.path}" if found else "missing"
        except SafemixError:
            status = "sha256 MISMATCH"
        rows.append({"name": spec.name, "kind": spec.kind, "records": spec.count, "licence": spec.licence,
                     "local": status, "source": spec.source, "sha256": spec.sha256})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "kind", "records", "licence", "local copy", title="safemix data sets")
    for r in rows:
        table.add_row(r["name"], r["kind"], str(r["records"] or "?"), r["licence"], r["local"])
    Console(width=200).print(table)


@app.command("mix")
def mix_cmd(
    general: str = typer.Option(..., help="General instruction data: a registry name (e.g. alpaca-cleaned, "
                                          "gpteacher-roleplay) or an Alpaca JSON/JSONL file."),
    safety: str = typer.Option("safety-tuned-llamas", help="Safety demonstrations: registry name or file."),
    n_general: int = typer.Option(..., "--n-general", min=1, help="Number of general examples N (shared by every k)."),
    k: str = typer.Option(..., "--k", help="Comma-separated numbers of safety examples, e.g. 0,100,300."),
    seed: int = typer.Option(1, help="Seed for selection and shuffling."),
    strategy: str = typer.Option("random", help=f"Safety selection: {', '.join(D.STRATEGIES)}."),
    out: Path = typer.Option(..., help="Output folder for k{K}.json and k{K}.manifest.json."),
    leakage: str = typer.Option("text", help="Leakage check against the eval suites before writing: "
                                             "off, text (normalised exact match) or embed (+ MiniLM)."),
    suites: str = typer.Option("all", help="Eval suites for the leakage check (names or groups)."),
    data_dir: Optional[Path] = DataDir,
    allow_unpinned: bool = typer.Option(False, help="Allow downloading a registry set that has no pinned sha256 "
                                                    "(alpaca-cleaned); its sha256 is recorded in the manifest."),
) -> None:
    """Write one Alpaca JSON per k: N general + k safety examples, seeded, nested and shuffled."""
    g, s = D.load_instructions(general, data_dir, allow_unpinned), D.load_instructions(safety, data_dir, allow_unpinned)
    mixtures = D.mix(g, s, n_general, k, seed, strategy)
    extra = {}
    if leakage != "off":
        extra["leakage"] = D.leakage_summary([r for m in mixtures[-1:] for r in m.records], suites, leakage, data_dir)
    paths = D.write_mixtures(mixtures, out, extra)
    for p, m in zip(paths, mixtures):
        typer.echo(f"wrote {p} ({len(m.records)} examples: {len(m.general_ids)} general + {m.k} safety)")


@app.command("check-leakage")
def leakage_cmd(
    train: list[str] = typer.Option(..., help="Training data: registry name or file (repeatable)."),
    suites: str = typer.Option("all", help="Eval suites: names, files or groups (paper, harm, xstest, all)."),
    method: str = typer.Option("embed", help="text (normalised exact match) or embed (+ MiniLM similarity)."),
    threshold: float = typer.Option(0.9, help="Cosine similarity at or above which a prompt is a near duplicate."),
    out: Optional[Path] = typer.Option(None, help="Write the full report as JSON here."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Report eval prompts that are exact or near duplicates of training instructions."""
    records = [r for t in train for r in D.load_instructions(t, data_dir).records]
    loaded = D.load_suites(suites, data_dir)
    leaks = D.check_leakage(records, [p for l in loaded.values() for p in l.records], method, threshold)
    summary = D.leakage.summarise(leaks)
    if out:
        atomic_write_json(out, {**summary, "method": method, "threshold": threshold,
                                "leaks": [x.to_dict() for x in leaks]})
    for x in leaks:
        typer.echo(f"{x.kind}\t{x.score:.3f}\t{x.prompt_id}\t{x.train_id}\t{x.prompt[:70]!r}")
    typer.echo(f"{len(leaks)} leaked prompts of {sum(len(l.records) for l in loaded.values())} "
               f"({method}, threshold {threshold}): {summary['by_suite']}")
