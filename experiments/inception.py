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
    """The stages top to bottom as boxes, the verified grid size on each arrow."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .analysis_figures import new_figure, save

    box_h, gap = 0.34, 0.24
    height = 0.5 + len(STAGES) * (box_h + gap)
    fig = new_figure(4.6, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 4.6)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    x0, w = 0.5, 2.4
    for i, stage in enumerate(STAGES):
        y = height - 0.3 - i * (box_h + gap) - box_h
        shade = "#dbe7f3" if stage["figure"] else "#eeeeee"
        ax.add_patch(FancyBboxPatch((x0, y), w, box_h, boxstyle="round,pad=0.02", fc=shade, ec="#1f4e79", lw=0.8))
        label = stage["name"] + (f"  (Fig. {stage['figure']})" if stage["figure"] else "")
        ax.text(x0 + w / 2, y + box_h / 2, label, ha="center", va="center", fontsize=8)
        if i + 1 < len(STAGES):
            ax.add_patch(FancyArrowPatch((x0 + w / 2, y), (x0 + w / 2, y - gap), arrowstyle="-|>",
                                         mutation_scale=8, lw=0.8, color="#333333"))
            if stage["grid_out"]:
                ax.text(x0 + w / 2 + 0.12, y - gap / 2, f"{stage['grid_out']} grid", va="center", fontsize=7.5)
    caption = ("The overall schema of Inception-v4 (Szegedy et al. 2016, arXiv 1602.07261, Figure 9), drawn by the "
               "build: the stem, the Inception-A, -B and -C grid modules with the Reduction-A and -B modules between "
               "them, then average pooling, dropout and the softmax; the paper figure detailing each block is given "
               "in brackets, and each arrow carries the spatial grid size stated in the paper's captions (35\u00d735, "
               "17\u00d717, 8\u00d78). Block counts and channel depths are not shown: they could not be checked "
               "against the paper's text.")
    return save(fig, fig_dir, "inception-v4", "schematic", None, caption)
