"""report.md and a self-contained report.html (figures inlined, every model output escaped, and a
Content-Security-Policy that allows no script at all)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

from .metrics import table_metrics
from .results import POOLED

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}"
         "th{background:#f3f3f3}img{max-width:100%;margin:1em 0}.ans{white-space:pre-wrap;font-size:12px;"
         "vertical-align:top;max-width:320px}.prompt{font-weight:600;vertical-align:top;max-width:260px}"
         ".v{font-size:11px;color:#555;font-weight:400;margin-top:4px;font-style:italic}")
EXAMPLES_TITLE = "Examples: the effect in answers"
EXAMPLES_NOTE = ("Prompts whose verdict changes from the smallest to the largest k (harmful suites: complied, then "
                 "refused; XSTest's safe prompts: exaggerated refusals), then answers the refusal judges disagree on. "
                 "The first seed's answers; under each, every judge's verdict.")
def pivot(rows: list[dict], metric: str) -> tuple[list[int], list[tuple[str, str, dict[int, str]]]]:
    """Cells as text: the value with its 95% interval (the pooled row when seeds were pooled)."""
    ks = sorted({r["k"] for r in rows})
    table: dict[tuple[str, str], dict[int, list[dict]]] = {}
    for r in rows:
        if r["metric"] == metric:
            table.setdefault((r["suite"], r["judge"]), {}).setdefault(r["k"], []).append(r)
    cells = [(s, j, {k: _cell(v, metric) for k, v in d.items()}) for (s, j), d in sorted(table.items())]
    merged: list[tuple[str, str, dict[int, str]]] = []  # judges that agree on every cell share one line
    for s, j, d in cells:
        same = next((i for i, (s2, _, d2) in enumerate(merged) if s2 == s and d2 == d and j != "-"), None)
        if same is None:
            merged.append((s, j, d))
        else:
            merged[same] = (s, f"{merged[same][1]} = {j}", d)
    return ks, merged


def _cell(rs: list[dict], metric: str) -> str:
    rs = [r for r in rs if r["seed"] == POOLED] or rs
    if metric == "uncertain":  # a count, not an estimate
        return " + ".join(f"{round(r['value'] * r['n'])}/{r['n']}" for r in rs)
    mean = lambda key: sum(r[key] for r in rs) / len(rs)  # noqa: E731
    if all(r["ci_low"] is not None for r in rs):
        return f"{mean('value'):.3f} [{mean('ci_low'):.2f}, {mean('ci_high'):.2f}]"
    return f"{mean('value'):.3f}"


ROBUSTNESS_TITLE = "Does the conclusion hold under every judge?"
ROBUSTNESS_NOTE = ("Direction of change from the smallest to the largest k under each judge, the smallest Kendall tau "
                   "between two judges' curves across k (blank: a flat curve has no order), and the verdict.")


@dataclass
class Table:
    """A titled table of text cells, rendered the same way in report.md and report.html."""
    title: str
    note: str
    header: list[str]
    rows: list[list[str]]


def robustness_table(robust: list[dict]) -> Table:
    cells = []
    for r in robust:
        dirs = "; ".join(f"{j}: {d}" for j, d in r["directions"].items())
        cells.append([r["suite"], r["measure"], dirs, "" if r["min_tau"] is None else f"{r['min_tau']:.2f}", r["verdict"]])
    return Table(ROBUSTNESS_TITLE, ROBUSTNESS_NOTE, ["suite", "measure", "direction per judge", "min tau", "verdict"], cells)


def markdown(title: str, rows: list[dict], figs: dict[str, Path], summary: list[str], baseline_k: int = 0,
             tables: list[Table] = ()) -> str:
    out = [f"# {title}", "", *summary, ""]
    for t in tables:
        out += [f"## {t.title}", "", t.note, "", "| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in t.rows]
        out.append("")
    for name, path in figs.items():
        out += [f"![{name}](figures/{path.name})", ""]
    for metric, label in table_metrics():
        ks, table = pivot(rows, metric)
        if not table:
            continue
        out += [f"## {label.format(base=baseline_k)}", "", "| suite | judge | " + " | ".join(f"k={k}" for k in ks) + " |",
                "|---|---|" + "---|" * len(ks)]
        out += [f"| {s} | {j} | " + " | ".join(d.get(k, "") for k in ks) + " |" for s, j, d in table]
        out.append("")
    return "\n".join(out)


def page(title: str, rows: list[dict], figs: dict[str, Path], summary: list[str], examples: list[dict],
         baseline_k: int = 0, tables: list[Table] = ()) -> str:
    e = html.escape
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>{e(title)}</title>'
             f"<style>{STYLE}</style></head><body><h1>{e(title)}</h1>"]
    parts += [f"<p>{e(line)}</p>" for line in summary]
    for t in tables:
        parts.append(f"<h2>{e(t.title)}</h2><p>{e(t.note)}</p><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in t.header)
                     + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in t.rows]
        parts.append("</table>")
    for name, path in figs.items():
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(f'<figure><img alt="{e(name)}" src="data:image/png;base64,{data}"></figure>')
    for metric, label in table_metrics():
        ks, table = pivot(rows, metric)
        if not table:
            continue
        parts.append(f"<h2>{e(label.format(base=baseline_k))}</h2><table><tr><th>suite</th><th>judge</th>"
                     + "".join(f"<th>k={k}</th>" for k in ks) + "</tr>")
        for s, j, d in table:
            parts.append(f"<tr><td>{e(s)}</td><td>{e(j)}</td>"
                         + "".join(f"<td>{e(d.get(k, ''))}</td>" for k in ks) + "</tr>")
        parts.append("</table>")
    if examples:
        ks = sorted({k for ex in examples for k in ex["outputs"]})
        parts.append(f"<h2>{e(EXAMPLES_TITLE)}</h2><p>{e(EXAMPLES_NOTE)}</p><table><tr><th>prompt</th>"
                     + "".join(f"<th>k={k}</th>" for k in ks) + "</tr>")
        for ex in examples:
            cells = []
            for k in ks:
                verdicts = "; ".join(f"{j}: {lab}" for j, lab in sorted(ex["verdicts"].get(k, {}).items()))
                cells.append(f'<td class="ans">{e(ex["outputs"].get(k, ""))}<div class="v">{e(verdicts)}</div></td>')
            parts.append(f'<tr><td class="prompt">{e(ex["group"])} {e(ex["id"])}: {e(ex["prompt"])}'
                         f'<div class="v">{e(ex["why"])}</div></td>' + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
