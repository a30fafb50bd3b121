"""The figures of section 4 drawn from computed results: confusion matrices, the most
confidently wrong test images and per-class accuracy.

Every figure is 7 in wide at 150 dpi (about 16 cm in the A4 report, fonts barely
shrink), drawn on matplotlib's Agg canvas without pyplot, and returned as a figure record
{id, path (relative to the figures folder), kind, experiment, caption}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_path

WIDTH_IN = 7.0
DPI = 150
SUBDIR = "analysis"  # inside the figures folder
COLOURS = ["#1f4e79", "#c0504d", "#4f8a3c", "#8064a2"]


def new_figure(width_in: float, height_in: float):
    """A matplotlib Figure on an Agg canvas (no pyplot, no global figure list)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig, fig_dir: Path, fig_id: str, kind: str, experiment: str | None, caption: str, **extra) -> dict:
    """Write `<fig_dir>/analysis/<fig_id>.png` and return its figure record."""
    rel = f"{SUBDIR}/{fig_id}.png"
    with atomic_path(Path(fig_dir) / rel) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return {"id": fig_id, "path": rel, "kind": kind, "experiment": experiment, "caption": caption, **extra}


# Font sizes as drawn, chosen for the width the report prints each figure at: a single
# matrix at about 58 % of the text width (~0.56 of its drawn size), so 11 pt prints at
# about 6 pt; two side by side at the full text width (~0.93), so 7 pt prints at 6.5 pt.
CONFUSION_PT = {1: 11, 2: 7}


def confusion_groups(exps: list[str]) -> dict[str, list[str]]:
    """The confusion-matrix figures and the analysed models each one draws side by side:
    one figure per exercise, `confusion-ex1` (the baseline beside the best augmented model)
    and `confusion-ex3` (the best VGG model)."""
    from .config import EXPERIMENTS

    groups: dict[str, list[str]] = {}
    for exp in exps:
        groups.setdefault(f"confusion-ex{EXPERIMENTS[exp]['exercise']}", []).append(exp)
    return groups


def plot_confusion(per_class: dict, exps: list[str], titles: dict, vmax: int, fig_dir: Path, fig_id: str) -> dict:
    """10x10 test-set counts of each model in `exps`, side by side: rows the true class,
    columns the predicted one, each cell labelled with its count, on one colour scale from
    0 to `vmax` shared by every analysed model."""
    n = len(exps)
    pt = CONFUSION_PT.get(n, min(CONFUSION_PT.values()))
    classes = per_class[exps[0]]["classes"]
    # Laid out in inches: class names on the left of the first matrix only, one colour bar.
    left, gap, bar, top, bottom = (1.2, 0.0, 0.75, 0.45, 1.2) if n == 1 else (0.95, 0.2, 0.55, 0.35, 0.9)
    side = min((WIDTH_IN - left - bar - gap * (n - 1)) / n, 4.4)
    height = top + side + bottom
    fig = new_figure(WIDTH_IN, height)
    found = []
    for k, exp in enumerate(exps):
        cm = np.asarray(per_class[exp]["confusion"])
        ax = fig.add_axes(((left + k * (side + gap)) / WIDTH_IN, bottom / height, side / WIDTH_IN, side / height))
        im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=vmax)
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=pt, color="white" if v > 0.6 * vmax else "black")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=pt)
        ax.set_yticks(range(len(classes)), classes if k == 0 else [], fontsize=pt)
        ax.set_xlabel("predicted class", fontsize=pt + 1)
        if k == 0:
            ax.set_ylabel("true class", fontsize=pt + 1)
        acc = float(np.trace(cm) / cm.sum())
        ax.set_title(f"{titles[exp]}: {acc:.1%} correct", fontsize=pt + 1)
        top_pair = per_class[exp]["most_confused"][0] if per_class[exp]["most_confused"] else None
        found.append((exp, cm, acc, top_pair))
    cax = fig.add_axes(((WIDTH_IN - bar + 0.15) / WIDTH_IN, bottom / height, 0.12 / WIDTH_IN, side / height))
    fig.colorbar(im, cax=cax).ax.tick_params(labelsize=pt - 1)

    def about(exp, cm, acc, pair):
        worst = (f"; its most frequent confusion is {pair['true']} predicted as {pair['pred']} ({pair['count']} "
                 f"images, {pair['share']:.0%} of the {pair['true']} images)" if pair else "")
        return f"{titles[exp]} ({exp}) gets {acc:.1%} right{worst}"

    total = int(found[0][1].sum())
    caption = (f"Confusion {'matrix' if n == 1 else 'matrices'} on the {total:,} test images: row = true class, "
               f"column = predicted class, each cell the number of images, the diagonal the correct predictions. "
               f"One colour scale from 0 to {vmax} is shared by the confusion matrices of every analysed model. "
               + ". ".join(about(*f) for f in found) + ".")
    return save(fig, fig_dir, fig_id, "confusion", exps[0] if n == 1 else None, caption, experiments=list(exps))


def plot_mistakes(images: np.ndarray, mistakes: list[dict], exp: str, title: str, n_test: int,
                  grid: tuple[int, int], fig_dir: Path) -> dict:
    """The test images the model gets wrong with the highest confidence, one tile each,
    titled with the true class, the predicted class and its probability."""
    rows, cols = grid
    fig = new_figure(WIDTH_IN, 0.45 + rows * 1.5)
    fig.suptitle(f"{title}: the {len(mistakes)} most confident mistakes", fontsize=10)
    for k in range(rows * cols):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.set_axis_off()
        if k < len(mistakes):
            m = mistakes[k]
            ax.imshow(images[k], interpolation="nearest")
            ax.set_title(f"true {m['true']}\npred {m['pred']} {m['probability']:.2f}", fontsize=7)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=1 - 0.55 / (0.45 + rows * 1.5),
                        wspace=0.08, hspace=0.45)
    caption = (f"The {len(mistakes)} test images (of {n_test:,}) that {title} ({exp}) classifies wrongly with "
               f"the highest confidence, most confident first (left to right, top to bottom): above each "
               f"image its true class, the predicted class and the softmax probability of that prediction. "
               f"Images are shown at their native 32\u00d732 pixels, enlarged without smoothing.")
    return save(fig, fig_dir, f"misclassified-{exp}", "misclassified", exp, caption, tiles=len(mistakes))


def plot_class_accuracy(per_class: dict, titles: dict, fig_dir: Path) -> dict:
    """Per-class test accuracy, one bar per analysed model in each class."""
    exps = list(per_class)
    classes = per_class[exps[0]]["classes"]
    fig = new_figure(WIDTH_IN, 3.0)
    ax = fig.add_axes((0.08, 0.25, 0.9, 0.62))
    width = 0.8 / len(exps)
    for i, exp in enumerate(exps):
        ax.bar(np.arange(len(classes)) + (i - (len(exps) - 1) / 2) * width, per_class[exp]["accuracy"],
               width, color=COLOURS[i % len(COLOURS)], label=titles[exp])
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy", fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=len(exps), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    caption = ("Test accuracy per class of the analysed models (" + ", ".join(titles[e] for e in exps)
               + "): the share of each class's test images predicted correctly.")
    return save(fig, fig_dir, "per-class-accuracy", "per-class", None, caption)
