"""Training-curve figures, drawn from published results (no training, no TensorFlow).

Each function takes plain data (the `history` and `history_std` lists that
`results.publish` stores in metrics.json) and writes one PNG; it returns a figure
record {id, path, kind, caption} that the report places and numbers.
"""

from __future__ import annotations

from pathlib import Path

from . import atomic

WIDTH_IN = 7.0
DPI = 150
COLOURS = ["#1f4e79", "#c0504d", "#4f8a3c", "#8064a2", "#d98c1f", "#2c9fa6"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
        "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": DPI,
    })
    return plt


def plot_curves(results: dict, names: list[str], out_path: Path, fig_id: str, what: str) -> dict:
    """Loss (left) and accuracy (right) per epoch, train dashed and test solid, one
    colour per experiment, shared axes; a band of +-1 std where several seeds ran."""
    plt = _plt()
    present = [n for n in names if n in results]
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH_IN, 3.0), constrained_layout=True)
    banded = False
    for colour, name in zip(COLOURS, present):
        res = results[name]
        hist, std = res["history"], res.get("history_std", {})
        epochs = hist["epoch"]
        for ax, metric in zip(axes, ("loss", "accuracy")):
            for prefix, style, label in (("", "--", "train"), ("test_", "-", "test")):
                key = prefix + metric
                y = hist[key]
                ax.plot(epochs, y, style, color=colour, lw=1.4, marker="o" if len(epochs) < 4 else None,
                        ms=3, label=f"{name} ({label})")
                if res.get("n_seeds", 1) > 1 and key in std:
                    lo = [a - b for a, b in zip(y, std[key])]
                    hi = [a + b for a, b in zip(y, std[key])]
                    ax.fill_between(epochs, lo, hi, color=colour, alpha=0.15, lw=0)
                    banded = True
    axes[0].set_title("Loss (categorical cross-entropy)")
    axes[1].set_title("Accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if present:
            ax.set_xticks(results[present[0]]["history"]["epoch"])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, max(1, len(labels))), frameon=False)
    with atomic.atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=DPI)
    plt.close(fig)
    n = {results[p].get("n_seeds", 1) for p in present}
    seeds_txt = (f"mean over {n.pop()} seeds, band = ±1 standard deviation" if banded
                 else "one seed per experiment")
    caption = (
        f"{what}: loss and accuracy per epoch for {', '.join(present)}. Dashed: training "
        f"(Keras' running average over the epoch's batches, augmented where the experiment augments"
        f"{', with dropout active in the VGG nets' if any(results[p].get('model') == 'vgg' for p in present) else ''}); "
        f"solid: test set. "
        f"Same axes for every curve; {seeds_txt}."
    )
    return {"id": fig_id, "path": out_path.name, "kind": "curves", "caption": caption}
