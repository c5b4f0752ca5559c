"""Every metric of a results document, declared once: by the judge that produces it (``judge.base.Metric``: its
label, direction, whether it is a rate) or, for the report's own (answer health, unscorable answers, attack lifts,
capability, quality win rates), here. The report's tables, the rates' intervals and ``results.json``'s metric
section read these declarations; a plug-in judge's metric gets its table with no other change."""

from __future__ import annotations

from ..metrics import MetricSpec
from .health import HEALTH_METRICS

__all__ = ["MetricSpec", "REPORT_METRICS", "metric_specs", "rate_metrics", "table_metrics"]


# the report's own metrics (the judges declare theirs: judge/base.py)
REPORT_METRICS = (
    MetricSpec("harmful_content", "harmful content: share of answers to harmful prompts that comply AND give what was "
               "asked (from a person's labels; harmful compliance is an upper bound on it)", "worse", order=20),
    MetricSpec("asr_lift", "attack success rate lift: harmful compliance of the attacked harmful prompts minus that of "
               "the same prompts un-attacked [95% paired bootstrap]", "worse", rate=False, interval="paired-bootstrap",
               order=30),
    MetricSpec("refusal_discrimination", "refusal discrimination: refusals of a pair's harmful prompts minus refusals "
               "of its benign look-alikes (1 = refuses exactly what it should) [95% bootstrap]", "better", rate=False,
               interval="bootstrap", order=40),
    MetricSpec("win_rate", "answer-quality win rate vs k={base} (ties half; 0.5 = no change) [95% CI]", "better",
               rate=False, interval="bootstrap", order=70),
    MetricSpec("acc", "capability: accuracy (lm-eval) [±1.96 stderr]", "better", rate=False, interval="stderr", order=80),
    MetricSpec("acc_norm", "capability: length-normalised accuracy (lm-eval) [±1.96 stderr]", "better", rate=False,
               interval="stderr", order=90),
    MetricSpec("output_tokens", "answer length (tokens)", rate=False, interval="bootstrap", order=110),
    MetricSpec("eos_rate", "answer health: answers that stop at EOS (the rest are cut at the token limit)", "better",
               order=120),
    *(MetricSpec(m, f"answer health: {label}", "worse", order=130 + i) for i, (m, label) in enumerate(HEALTH_METRICS.items())),
    MetricSpec("unscorable", "unscorable answers (empty, cut with no verdict, judge failure): share of all answers",
               "worse", order=150),
    MetricSpec("uncertain", "uncertain verdicts: answers below the judge's confidence threshold, count / answers (the "
               "rates above still use the judge's best label for them; 'safemix label' samples them first)", "worse",
               order=160),
)


def metric_specs() -> dict[str, MetricSpec]:
    """Every declared metric by name, in the report's order: the report's own, each plug-in stage's, then each judge
    kind's and each registered judge's (the first declaration of a name is its spec)."""
    from ..judge.base import KINDS, registry
    from ..stage import STAGES

    out = {m.name: m for m in REPORT_METRICS}
    for st in STAGES.plugins():  # a stage's own metrics (its result rows)
        out |= {m.name: m for m in st.metrics if m.name not in out}
    declared = [*((kind, ms) for kind, ms in KINDS.items()), *((j, r.metrics) for j, r in registry().items())]
    for by, ms in declared:
        for m in ms:
            if m.name not in out:
                out[m.name] = MetricSpec(m.name, m.label or m.name.replace("_", " "), m.higher, m.rate,
                                         "wilson" if m.rate else "bootstrap", m.order, m.shown, by)
    return dict(sorted(out.items(), key=lambda kv: kv[1].order))


def table_metrics() -> list[tuple[str, str]]:
    """(metric, heading) of each metric that gets a table in the report, in order."""
    return [(m.name, m.label) for m in metric_specs().values() if m.shown]


def rate_metrics() -> frozenset[str]:
    """Every metric that is a share of answers (Wilson intervals)."""
    return frozenset(m.name for m in metric_specs().values() if m.rate)
