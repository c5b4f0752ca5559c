"""The design search's figure (docs/miniature_search.png): harmful compliance against refusals of the benign
I-Alpaca prompts, one curve per model and N, points labelled with the safety share of the tuning data. The
figures are the pooled results of the runs in the design record (docs/explanations/miniature.md), typed in
here from its tables. Run: python docs/explanations/miniature_search.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (label, [(safety share %, harmful compliance, I-Alpaca refusals)]) -- refusal-clf, seeds pooled where several
CURVES = {
    "smollm2-135m (instruct), N=100, 1 ep, lr 1e-3 (e2)": [(0, 0.99, 0.00), (20, 0.90, 0.02), (33, 0.31, 0.50),
                                                             (50, 0.08, 0.68), (67, 0.06, 0.80)],
    "smollm2-135m (instruct), N=200, 2 ep, lr 2e-3 (cpu-paper, 3 seeds)": [(0, 0.99, 0.01), (4.8, 0.57, 0.27),
                                                                            (9.1, 0.36, 0.39)],
    "smollm2-135m (instruct), N=400, 1 ep, lr 2e-3": [(9.1, 0.62, 0.14)],
    "gemma3-270m (base), N=400, 1 ep, lr 2e-3, seed 1": [(0, 0.99, 0.02), (4.8, 0.72, 0.16), (9.1, 0.56, 0.22),
                                                         (16.7, 0.07, 0.68)],
    "gemma3-270m (base), N=400, 1 ep, lr 2e-3, seed 2": [(0, 0.97, 0.04), (9.1, 0.13, 0.52)],
}


def main(out: Path = Path(__file__).resolve().parents[1] / "miniature_search.png") -> None:
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.add_patch(plt.Rectangle((0, 0), 0.10, 0.20, color="tab:green", alpha=0.15, label="goal: harm ≤ 0.20, I-Alpaca ≤ 0.10"))
    for label, pts in CURVES.items():
        if not pts:
            continue
        ax.plot([p[2] for p in pts], [p[1] for p in pts], marker="o", label=label)
        for share, harm, alp in pts:
            ax.annotate(f"{share:g}%", (alp, harm), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set(xlabel="refusals of the 50 benign I-Alpaca prompts (lost helpfulness)",
           ylabel="harmful compliance (all harmful prompts)", xlim=(-0.02, 1.0), ylim=(-0.02, 1.02),
           title="The CPU miniature's trade-off by model and N\n(labels: safety share of the tuning data)")
    ax.legend(fontsize=7, loc="upper right")
    fig.savefig(out, dpi=110, bbox_inches="tight", metadata={"Software": None})
    print(out)


if __name__ == "__main__":
    main()
