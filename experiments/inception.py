"""Inception-v4's overall schema (Szegedy, Ioffe, Vanhoucke, Alemi 2016, arXiv 1602.07261,
Figure 9) as data and as a figure, holding only what was checked against the paper's text.

What the paper's text says (Section 3.1 and the captions of Figures 3 to 9): Figure 9 is
the overall schema, built from the stem (Figure 3), the 35 x 35 grid module Inception-A
(Figure 4), the 35 x 35 to 17 x 17 reduction module Reduction-A (Figure 7), the 17 x 17 grid
module Inception-B (Figure 5), the 17 x 17 to 8 x 8 grid-reduction module Reduction-B
(Figure 8) and the 8 x 8 grid module Inception-C (Figure 6); Section 3.3 names the average
pooling before the last layer. The block counts, channel depths, input size and dropout
rate are drawn inside Figure 9 itself, and the results tables (Tables 2 to 4) are images:
the copies of the paper's text available to the build did not contain them, so they are
left out rather than typed from memory (`UNVERIFIED` names them). Add a number to
`STAGES` / `PAPER_RESULTS` only with the place in the paper that states it.
"""

from __future__ import annotations

from pathlib import Path

PAPER = {"title": "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
         "authors": "Szegedy, Ioffe, Vanhoucke, Alemi", "arxiv": "1602.07261", "figure": 9}

# name, the paper's figure for the block, grid size of its output (None: not verified),
# and where the paper says so.
STAGES = [
    {"name": "Input", "figure": None, "grid_out": None, "source": None},
    {"name": "Stem", "figure": 3, "grid_out": "35\u00d735",
     "source": "Figure 4 caption: Inception-A, which follows the stem, is the 35 \u00d7 35 grid module"},
    {"name": "Inception-A blocks", "figure": 4, "grid_out": "35\u00d735",
     "source": "Figure 4 caption: 'The schema for 35 \u00d7 35 grid modules ... the Inception-A block of Figure 9'"},
    {"name": "Reduction-A", "figure": 7, "grid_out": "17\u00d717",
     "source": "Figure 7 caption: 'The schema for 35 \u00d7 35 to 17 \u00d7 17 reduction module'"},
    {"name": "Inception-B blocks", "figure": 5, "grid_out": "17\u00d717",
     "source": "Figure 5 caption: 'The schema for 17 \u00d7 17 grid modules ... the Inception-B block of Figure 9'"},
    {"name": "Reduction-B", "figure": 8, "grid_out": "8\u00d78",
     "source": "Figure 8 caption: 'The schema for 17 \u00d7 17 to 8 \u00d7 8 grid-reduction module'"},
    {"name": "Inception-C blocks", "figure": 6, "grid_out": "8\u00d78",
     "source": "Figure 6 caption: 'The schema for 8\u00d78 grid modules ... the Inception-C block of Figure 9'"},
    {"name": "Average pooling", "figure": None, "grid_out": None,
     "source": "Section 3.3: 'the last layer before the average pooling'"},
    {"name": "Dropout", "figure": None, "grid_out": None, "source": None},
    {"name": "Softmax", "figure": None, "grid_out": None, "source": None},
]
# Single-model, single-crop ILSVRC-2012 validation errors: none verified from the text.
PAPER_RESULTS: list[dict] = []
UNVERIFIED = ["input size", "channel depth after each stage", "number of Inception-A/B/C blocks",
              "dropout keep probability", "Tables 2-4 (top-1/top-5 errors)"]


def facts() -> dict:
    """What analysis.json records about Inception-v4."""
    return {"paper": PAPER, "stages": STAGES, "paper_results": PAPER_RESULTS, "unverified": UNVERIFIED}


def plot_schema(fig_dir: Path) -> dict:
    """The stages as boxes in two rows (the second read right to left), the verified grid
    size on each arrow; 7 in wide, to sit at the report's full width."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .analysis_figures import WIDTH_IN, new_figure, save

    per_row, w, h, gap, row_gap = 5, 0.96, 0.5, 0.5, 0.55
    height = 0.2 + 2 * h + row_gap + 0.2
    fig = new_figure(WIDTH_IN, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH_IN)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    x_left = (WIDTH_IN - per_row * w - (per_row - 1) * gap) / 2

    def box(i):  # lower-left corner of stage i: row 0 left to right, row 1 right to left
        row, col = divmod(i, per_row)
        col = col if row == 0 else per_row - 1 - col
        return x_left + col * (w + gap), height - 0.2 - h - row * (h + row_gap)

    arrow = {"arrowstyle": "-|>", "mutation_scale": 8, "lw": 0.8, "color": "#333333"}
    for i, stage in enumerate(STAGES):
        x, y = box(i)
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", ec="#1f4e79", lw=0.8,
                                    fc="#dbe7f3" if stage["figure"] else "#eeeeee"))
        label = stage["name"].replace(" blocks", "\nblocks") + (f"\n(Fig. {stage['figure']})" if stage["figure"] else "")
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=7.5, linespacing=1.15)
        if i + 1 == len(STAGES):
            break
        nx, ny = box(i + 1)
        if ny == y:  # same row
            a, b = ((x + w, y + h / 2), (nx, y + h / 2)) if nx > x else ((x, y + h / 2), (nx + w, y + h / 2))
            label_xy, va = ((a[0] + b[0]) / 2, y + h / 2 + 0.06), "bottom"
        else:  # down to the next row
            a, b = (x + w / 2, y), (nx + w / 2, ny + h)
            label_xy, va = (x + w / 2 + 0.08, (y + ny + h) / 2), "center"
        ax.add_patch(FancyArrowPatch(a, b, **arrow))
        if stage["grid_out"]:
            ax.text(*label_xy, stage["grid_out"], ha="center" if va == "bottom" else "left", va=va, fontsize=7)
    caption = ("The overall schema of Inception-v4 (Szegedy et al. 2016, arXiv 1602.07261, Figure 9), drawn by the "
               "build, read along the arrows: the stem, the Inception-A, -B and -C grid modules with the Reduction-A "
               "and -B modules between them, then average pooling, dropout and the softmax; the paper's figure that "
               "details each block is given in brackets, and the arrows carry the spatial grid sizes the paper's "
               "captions state (35\u00d735, 17\u00d717, 8\u00d78). The schema draws only what the paper's text "
               "states; the block counts and channel depths, which the paper draws inside its Figure 9, are "
               "in the text above.")
    return save(fig, fig_dir, "inception-v4", "schematic", None, caption)
