"""Inception-v4's overall schema (Szegedy, Ioffe, Vanhoucke, Alemi 2016, arXiv 1602.07261,
Figure 9) as data and as a figure, holding only what was checked against a source.

The paper's text (Section 3.1 and the captions of Figures 3 to 9) names the blocks and the
grid each works on: the stem (Figure 3), Inception-A on the 35 x 35 grid (Figure 4),
Reduction-A from 35 x 35 to 17 x 17 (Figure 7), Inception-B on 17 x 17 (Figure 5),
Reduction-B from 17 x 17 to 8 x 8 (Figure 8) and Inception-C on 8 x 8 (Figure 6); Section
3.3 names the average pooling before the last layer. The block counts (4, 7, 3), the output
shapes and the dropout's keep probability are drawn inside Figure 9; they were checked
against TensorFlow's reference implementation of the network (tensorflow/models,
research/slim/nets/inception_v4.py and its test: blocks Mixed_5b-5e, 6b-6h and 7b-7d; end
points 35x35x384, 17x17x1024 and 8x8x1536; dropout_keep_prob 0.8). The results tables
(Tables 2 to 4) are images that no copy of the text available to the build contained, so
they are left out rather than typed from memory (`UNVERIFIED`). Add a number to `STAGES` /
`PAPER_RESULTS` only with the place that states it.
"""

from __future__ import annotations

from pathlib import Path

PAPER = {"title": "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
         "authors": "Szegedy, Ioffe, Vanhoucke, Alemi", "arxiv": "1602.07261", "figure": 9}

# name, the paper's figure for the block, grid size of its output (None: not verified),
# and where the paper says so.
STAGES = [
    {"name": "Input", "figure": None, "repeat": 1, "shape_out": "299\u00d7299\u00d73",
     "source": "Figure 9 (input 299x299x3); TF-slim default image size 299"},
    {"name": "Stem", "figure": 3, "repeat": 1, "shape_out": "35\u00d735\u00d7384",
     "source": "Figure 3 (output 35x35x384); TF-slim end point Mixed_5a"},
    {"name": "Inception-A", "figure": 4, "repeat": 4, "shape_out": "35\u00d735\u00d7384",
     "source": "Figure 9 (4 x Inception-A); TF-slim Mixed_5b-5e"},
    {"name": "Reduction-A", "figure": 7, "repeat": 1, "shape_out": "17\u00d717\u00d71024",
     "source": "Figure 7 caption: 'The schema for 35 \u00d7 35 to 17 \u00d7 17 reduction module'; TF-slim Mixed_6a"},
    {"name": "Inception-B", "figure": 5, "repeat": 7, "shape_out": "17\u00d717\u00d71024",
     "source": "Figure 9 (7 x Inception-B); TF-slim Mixed_6b-6h"},
    {"name": "Reduction-B", "figure": 8, "repeat": 1, "shape_out": "8\u00d78\u00d71536",
     "source": "Figure 8 caption: 'The schema for 17 \u00d7 17 to 8 \u00d7 8 grid-reduction module'; TF-slim Mixed_7a"},
    {"name": "Inception-C", "figure": 6, "repeat": 3, "shape_out": "8\u00d78\u00d71536",
     "source": "Figure 9 (3 x Inception-C); TF-slim Mixed_7b-7d"},
    {"name": "Average pooling", "figure": None, "repeat": 1, "shape_out": "1536",
     "source": "Section 3.3: 'the last layer before the average pooling'; Figure 9 (output 1536)"},
    {"name": "Dropout (keep 0.8)", "figure": None, "repeat": 1, "shape_out": "1536",
     "source": "Figure 9; TF-slim dropout_keep_prob=0.8"},
    {"name": "Softmax", "figure": None, "repeat": 1, "shape_out": "1000", "source": "Figure 9 (1000 classes)"},
]
# Single-model, single-crop ILSVRC-2012 validation errors: none verified from the text.
PAPER_RESULTS: list[dict] = []
UNVERIFIED = ["Tables 2-4 (top-1/top-5 errors)"]


def facts() -> dict:
    """What analysis.json records about Inception-v4."""
    return {"paper": PAPER, "stages": STAGES, "paper_results": PAPER_RESULTS, "unverified": UNVERIFIED}


def plot_schema(fig_dir: Path) -> dict:
    """The stages as boxes in two rows (the second read right to left), the verified grid
    size on each arrow; 7 in wide, to sit at the report's full width."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .analysis_figures import WIDTH_IN, new_figure, save

    per_row, w, h, gap, row_gap = 5, 0.8, 0.62, 0.7, 0.55
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
        name = stage["name"].replace(" (", "\n(").replace("Average ", "Average\n")
        label = (f"{stage['repeat']} \u00d7\n{name}" if stage["repeat"] > 1 else name) + \
            (f"\n(Fig. {stage['figure']})" if stage["figure"] else "")
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=7.5, linespacing=1.15)
        if i + 1 == len(STAGES):
            break
        nx, ny = box(i + 1)
        if ny == y:  # same row
            a, b = ((x + w, y + h / 2), (nx, y + h / 2)) if nx > x else ((x, y + h / 2), (nx + w, y + h / 2))
            label_xy, va = ((a[0] + b[0]) / 2, y + h / 2 + 0.06), "bottom"
        else:  # down to the next row
            a, b = (x + w / 2, y), (nx + w / 2, ny + h)
            label_xy, va = (x + w / 2 - 0.08, (y + ny + h) / 2), "center"
        ax.add_patch(FancyArrowPatch(a, b, **arrow))
        ax.text(*label_xy, stage["shape_out"], ha="center" if va == "bottom" else "right", va=va, fontsize=6.5)
    caption = ("The overall schema of Inception-v4 (Szegedy et al. 2016, arXiv 1602.07261, Figure 9), drawn by the "
               "build and read along the arrows: the stem, 4 Inception-A, 7 Inception-B and 3 Inception-C modules "
               "with the Reduction-A and -B modules between the stages, then average pooling, dropout and the "
               "softmax. The paper's figure that details each block is given in brackets; each arrow carries the "
               "shape of the tensor leaving the block before it.")
    return save(fig, fig_dir, "inception-v4", "schematic", None, caption)
