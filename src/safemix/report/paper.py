"""The paper's headline numbers, printed beside a run's own (Bianchi et al., ICLR 2024).

Read off the bars of the headline figure in the seed repository (vinid/safety-tuned-llamas): LLaMA-7B
(base) tuned with LoRA on 20,000 Alpaca-cleaned examples plus k safety demonstrations; harm from the
paper's harmfulness judges, exaggerated safety as refusals of XSTest-style safe prompts. The values
are approximate (read from a plot), and the judges differ from safemix's offline ones.
"""

from __future__ import annotations

SOURCE = ("Bianchi et al., Safety-Tuned LLaMAs (ICLR 2024), headline figure of the seed repository "
          "vinid/safety-tuned-llamas, values read off the bars (approximate)")
SETUP = "LLaMA-7B base + LoRA, 20,000 Alpaca-cleaned examples + k safety demonstrations, 3 epochs"
# (model, share of unsafe answers to harmful prompts, share of safe prompts refused)
HEADLINE: tuple[tuple[str, float, float], ...] = (
    ("instruction-tuned (no safety data)", 0.92, 0.02),
    ("safety-tuned (a few hundred safety examples, about 3% of the data)", 0.10, 0.20),
    ("over-safety-tuned (the most safety data)", 0.02, 0.50),
)
CAPABILITY = "capability unchanged across k (PIQA, BoolQ, OpenBookQA; answer quality by a reward model)"


def comparison(harm: list[tuple[int, float, float, float]], safe: list[tuple[int, float, float, float]],
               n_general: int | None = None) -> list[dict]:
    """Rows for the side-by-side table: the paper's three models, then this run's smallest, a middle
    and the largest k (harmful compliance mean over harmful suites; XSTest safe-prompt refusals)."""
    rows = [{"who": "paper", "model": m, "harm": h, "safe_refusals": s, "harm_ci": None, "safe_ci": None}
            for m, h, s in HEADLINE]
    harm_k, safe_k = {k: (v, lo, hi) for k, v, lo, hi in harm}, {k: (v, lo, hi) for k, v, lo, hi in safe}
    ks = sorted(set(harm_k) & set(safe_k))
    for k in sorted({ks[0], ks[len(ks) // 2], ks[-1]}) if ks else []:
        share = f", {k / (k + n_general):.1%} safety data" if n_general else ""
        rows.append({"who": "this run", "model": f"k={k}{share}", "harm": harm_k[k][0], "safe_refusals": safe_k[k][0],
                     "harm_ci": harm_k[k][1:], "safe_ci": safe_k[k][1:]})
    return rows
