"""``report/results.json``: the typed results document that results.csv and the tables are rendered from."""

import csv
import json

import pytest

from safemix.errors import SafemixError
from safemix.report import build_report
from safemix.report.document import SCHEMA_VERSION, Results, read_results
from safemix.report.metrics import metric_specs, rate_metrics, table_metrics

from .test_report import _point


def test_results_json_holds_the_csvs_rows_typed_with_each_metric_declared(tmp_path):
    points = [_point(tmp_path, 0, 0, 1, 4), _point(tmp_path, 100, 2, 4, 1)]
    out = build_report(points, tmp_path / "report", options=None)
    doc = read_results(tmp_path)
    assert isinstance(doc, Results) and doc.schema_version == SCHEMA_VERSION and doc.run.safemix_version
    with open(out["results"], newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert len(csv_rows) == len(doc.rows) > 0
    for c, r in zip(csv_rows, doc.rows):
        assert c["suite"] == r.suite and c["metric"] == r.metric and int(c["n"]) == r.n and float(c["value"]) == r.value
    assert {r.metric for r in doc.rows} == set(doc.metrics)  # every metric in the rows is declared
    hc = doc.metrics["harmful_compliance"]
    assert (hc.higher, hc.rate, hc.interval, hc.by) == ("worse", True, "wilson", "refusal")
    assert doc.metrics["output_tokens"].rate is False and doc.metrics["eos_rate"].by == "report"
    # every table of the report is a declared metric's, under its declared label
    md = out["markdown"].read_text()
    for metric in {r.metric for r in doc.rows}:
        spec = metric_specs()[metric]
        assert (f"## {spec.label.format(base=0)}\n" in md) == spec.shown, metric


def test_one_declaration_per_metric_decides_its_interval_and_table():
    specs = metric_specs()
    assert list(specs) == sorted(specs, key=lambda m: specs[m].order)
    assert {"harmful_compliance", "refusal_rate", "eos_rate", "unscorable", "harmful_content"} <= rate_metrics()
    assert not {"output_tokens", "acc", "win_rate", "mean_score", "asr_lift"} & rate_metrics()
    names = [m for m, _ in table_metrics()]
    assert names[0] == "harmful_compliance" and "full_refusal_rate" not in names


@pytest.mark.parametrize("text, says", [("{", "not a safemix results document"),
                                        ('{"schema_version": 2, "run": {"safemix_version": "x"}, "metrics": {}, "rows": []}',
                                         "schema_version"),
                                        (None, "no results document yet")])
def test_a_missing_or_malformed_document_is_one_line(tmp_path, text, says):
    (tmp_path / "report").mkdir()
    if text is not None:
        (tmp_path / "report" / "results.json").write_text(text)
    with pytest.raises(SafemixError, match=says) as got:
        read_results(tmp_path)
    assert "\n" not in str(got.value)


def test_a_row_with_an_unknown_field_is_refused(tmp_path):
    (tmp_path / "report").mkdir()
    row = {"suite": "s", "k": 0, "seed": 1, "judge": "j", "metric": "m", "n": 1, "value": 0.5, "ci_low": 0, "ci_high": 1,
           "extra": 1}
    (tmp_path / "report" / "results.json").write_text(json.dumps(
        {"schema_version": 1, "run": {"safemix_version": "x"}, "metrics": {}, "rows": [row]}))
    with pytest.raises(SafemixError, match="rows.0.extra"):
        read_results(tmp_path)
