"""Exercise 2: look inside a trained network -- its filters and its activation maps.

For one input image this module draws

* the image itself, with the true class and the network's prediction,
* the filters of every convolution layer,
* the output of every CONV, RELU and MAXP layer, all channels, one grid per layer,

and records, beside the PNGs, the raw activation arrays (`.npz`) and a JSON file of
facts and figure captions that the report builder places in the PDF as written. It can
also draw what an online-augmentation strategy (Exercise 1b) does to a few images.

Everything is written against `keras.*` only, so it runs on any Keras backend. Keras and
matplotlib are imported inside the functions: importing this module stays cheap and
never starts TensorFlow (other code imports it only to list its outputs). Figures are
drawn on matplotlib's Agg canvas directly, without pyplot and its global state.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_json
from .data import model_input
from .errors import ConfigError, Pw09Error

# --- picture geometry -------------------------------------------------------------
# Every figure is 7 in wide at 150 dpi: placed at ~16 cm in the A4 report, fonts
# shrink by only ~10 %, so the 6.5 pt tile titles stay legible.
FIG_WIDTH_IN = 7.0
DPI = 150
TILE_TITLE_PT = 6.5
FIG_TITLE_PT = 10
# Activation and filter grids are 8 tiles wide (32 channels -> 4x8, 64 -> 8x8). The tile
# size is derived from 8 columns even when a layer has fewer channels, so tiles have the
# same size in every figure; layers with more than 64 channels get 16 columns.
GRID_COLS = 8
WIDE_GRID_COLS = 16
INPUT_UPSCALE = 8  # the 32x32 input is shown as 256x256 pixel blocks
# The report prints an augmentation grid at 62 % of the text width (about 4 in): drawn
# 4.4 in wide, its 7.5-pt labels print at about 6.9 pt.
AUG_WIDTH_IN = 4.4

# Margins in inches: the figure title above the grid, the colour bar to its right.
_TOP_IN = 0.42
_BOTTOM_IN = 0.08
_SIDE_IN = 0.10
_COLORBAR_ZONE_IN = 0.75
_TITLE_BAND_IN = 0.13  # room above each tile for its title
_ROW_GAP_IN = 0.03


_TYPE_WORDS = {
    "conv": "convolution output (before the ReLU)",
    "relu": "ReLU output",
    "pool": "max-pooling output",
}


# --- which layers to look at ---------------------------------------------------------

def _layer_type(layer, keras) -> str | None:
    """'conv', 'relu' or 'pool' for a layer producing feature maps, else None.

    Only layers whose output is a 4-D (batch, H, W, C) feature map count, so the ReLU
    after the VGG net's dense layer -- a 256-vector, not an image -- is left out.
    """
    if isinstance(layer, keras.Model):  # the nested augmentation Sequential
        return None
    if len(layer.output.shape) != 4:
        return None
    if isinstance(layer, keras.layers.Conv2D):
        return "conv"
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    if isinstance(layer, keras.layers.Activation) and getattr(layer.activation, "__name__", "") == "relu":
        return "relu"
    if isinstance(layer, keras.layers.MaxPooling2D):
        return "pool"
    return None


def layer_groups(model) -> dict[str, list[str]]:
    """The names of the model's conv, relu and pool layers, by layer type, in model order."""
    import keras

    groups: dict[str, list[str]] = {"conv": [], "relu": [], "pool": []}
    for layer in model.layers:
        kind = _layer_type(layer, keras)
        if kind:
            groups[kind].append(layer.name)
    return groups


def _feature_layers(model) -> list[str]:
    """Every conv, relu and pool layer in model order (types interleaved)."""
    wanted = {name for names in layer_groups(model).values() for name in names}
    return [layer.name for layer in model.layers if layer.name in wanted]


def _type_of(model) -> dict[str, str]:
    return {name: kind for kind, names in layer_groups(model).items() for name in names}


# --- activations and the facts about them -------------------------------------------

def _model_input(image_uint8: np.ndarray) -> np.ndarray:
    """One uint8 (H, W, 3) image as the batch of one float32 image training feeds."""
    image = np.asarray(image_uint8)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected one (H, W, C) uint8 image, got {image.dtype} {image.shape}")
    return model_input(image)[None]


def activations(model, image_uint8: np.ndarray, layer_names: list[str]) -> dict[str, np.ndarray]:
    """The (H, W, C) float32 output of each named layer for one image (inference mode)."""
    import keras

    probe = keras.Model(model.input, [model.get_layer(n).output for n in layer_names])
    outputs = probe(_model_input(image_uint8), training=False)  # augmentation inactive
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {
        name: np.asarray(keras.ops.convert_to_numpy(out)[0], dtype=np.float32)
        for name, out in zip(layer_names, outputs)
    }


def layer_facts(acts: dict[str, np.ndarray], model) -> dict[str, dict]:
    """Per layer: type, shape, fraction of exact zeros, all-zero channels, mean, min, max.

    Convolution layers also get their filter count and kernel shape
    (kernel height, kernel width, input channels, filters).
    """
    types = _type_of(model)
    facts = {}
    for name, act in acts.items():
        per_channel_zero = np.all(act == 0, axis=(0, 1))
        entry = {
            "type": types.get(name),
            "shape": [int(d) for d in act.shape],
            "zero_fraction": float(np.mean(act == 0)),
            "dead_channels": int(np.sum(per_channel_zero)),
            "mean": float(np.mean(act)),
            "min": float(np.min(act)),
            "max": float(np.max(act)),
        }
        entry.update(channel_extremes(act))
        if entry["type"] == "conv":
            layer = model.get_layer(name)
            entry["filters"] = int(layer.filters)
            entry["kernel_shape"] = [int(d) for d in layer.kernel.shape]
        facts[name] = entry
    return facts


def channel_extremes(act: np.ndarray) -> dict:
    """The most and least active channel of an (H, W, C) map by mean activation, with the
    mean of each and the median channel mean (to say how far the extremes stand out)."""
    means = np.asarray(act, dtype=np.float64).mean(axis=(0, 1))
    hi, lo = int(np.argmax(means)), int(np.argmin(means))
    return {"most_active": {"channel": hi, "mean": float(means[hi])},
            "least_active": {"channel": lo, "mean": float(means[lo])},
            "median_channel_mean": float(np.median(means))}


# --- which images ----------------------------------------------------------------------

# Copies whose training images are in the official order (X_train[12] is the official one).
OFFICIAL_ORDER_KINDS = ("keras", "official-archive", "official-folder")


def contrast_index(labels: np.ndarray, index: int) -> int:
    """The first training image whose class differs from that of image `index`."""
    others = np.flatnonzero(np.asarray(labels) != labels[index])
    if not len(others):
        raise Pw09Error("every training image has the same class; there is no second image to visualise.")
    return int(others[0])


def input_images(labels: np.ndarray, kind: str, index: int, class_names) -> dict:
    """The two visualised training images (index, class) and whether the copy is in the
    official order, i.e. whether image `index` is the official X_train[index]."""
    second = contrast_index(labels, index)
    return {"official_order": kind in OFFICIAL_ORDER_KINDS, "data_kind": kind,
            "images": [{"index": int(i), "class": class_names[int(labels[i])]} for i in (index, second)]}


# --- figure plumbing -----------------------------------------------------------------

def _new_figure(width_in: float, height_in: float):
    """A matplotlib Figure on an Agg canvas (no pyplot, no global figure list)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out_path: Path) -> None:
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)


def _record(fig_id, out_path, kind, layer, experiment, caption, root, **extra) -> dict:
    """A figure record; its path is relative to `root` when one is given."""
    out_path = Path(out_path)
    path = out_path.relative_to(root) if root is not None else out_path
    return {"id": fig_id, "path": path.as_posix(), "kind": kind, "layer": layer,
            "experiment": experiment, "caption": caption, **extra}


class _Tile:
    """One square tile of a grid, drawn on the figure's single canvas axes.

    It offers the few Axes methods the plots use (imshow, set_title, set_ylabel) and looks
    like a frameless-tick Axes: image, thin black frame, title above, label to the left.
    A real Axes per tile costs ~13 ms to create and draw in matplotlib, and a layer has
    32 to 64 tiles: one shared canvas makes the figures of a model about 2x faster.
    """

    def __init__(self, canvas, x: float, y: float, size: float):
        from matplotlib.patches import Rectangle

        self.canvas, self.x, self.y, self.size = canvas, x, y, size
        canvas.add_patch(Rectangle((x, y), size, size, fill=False, edgecolor="black",
                                   linewidth=0.8, zorder=3))

    def imshow(self, data, **kwargs):
        return self.canvas.imshow(data, extent=(self.x, self.x + self.size, self.y, self.y + self.size),
                                  aspect="auto", origin="upper", **kwargs)

    def set_title(self, text, fontsize=None, pad=6.0):
        self.canvas.text(self.x + self.size / 2, self.y + self.size + pad / 72, text,
                         ha="center", va="baseline", fontsize=fontsize)

    def set_ylabel(self, text, fontsize=None, labelpad=4.0):
        self.canvas.text(self.x - labelpad / 72, self.y + self.size / 2, text, rotation=90,
                         rotation_mode="anchor", ha="center", va="bottom", fontsize=fontsize)


def _tile_grid(n_tiles: int, title: str, *, cols: int | None = None, basis_cols: int | None = None,
               colorbar: bool = False, left_in: float = _SIDE_IN, width_in: float = FIG_WIDTH_IN):
    """A figure of `n_tiles` square tiles in rows of `cols`, a title, and optionally a
    colour-bar axis to the right of the grid. Laid out by hand in inches, so nothing
    overlaps whatever the tile count. Returns (figure, tiles, colour-bar axes or None);
    a tile takes `imshow`, `set_title` and `set_ylabel` like an Axes (see `_Tile`).
    """
    if cols is None:
        cols = min(n_tiles, GRID_COLS if n_tiles <= GRID_COLS**2 else WIDE_GRID_COLS)
    basis = max(cols, basis_cols or (GRID_COLS if cols <= GRID_COLS else WIDE_GRID_COLS))
    rows = math.ceil(n_tiles / cols)
    avail = width_in - left_in - _SIDE_IN - (_COLORBAR_ZONE_IN if colorbar else 0.0)
    pitch = avail / basis
    tile = 0.92 * pitch
    row_pitch = tile + _TITLE_BAND_IN + _ROW_GAP_IN
    height = _TOP_IN + rows * row_pitch + _BOTTOM_IN
    fig = _new_figure(width_in, height)
    fig.text(0.5, 1 - 0.22 / height, title, ha="center", va="center", fontsize=FIG_TITLE_PT)

    # One axes over the whole figure, in inches, holds every tile.
    canvas = fig.add_axes((0, 0, 1, 1))
    canvas.set_xlim(0, width_in)
    canvas.set_ylim(0, height)
    canvas.set_autoscale_on(False)
    canvas.set_axis_off()

    x0 = left_in + (avail - cols * pitch) / 2  # centre a narrow grid
    axes = []
    for i in range(n_tiles):
        r, c = divmod(i, cols)
        x = x0 + c * pitch + (pitch - tile) / 2
        y = height - _TOP_IN - r * row_pitch - _TITLE_BAND_IN - tile
        axes.append(_Tile(canvas, x, y, tile))

    cax = None
    if colorbar:
        grid_top = height - _TOP_IN - _TITLE_BAND_IN
        grid_bottom = height - _TOP_IN - rows * row_pitch
        bar_h = min(grid_top - grid_bottom, 3.0)
        bar_y = (grid_top + grid_bottom - bar_h) / 2
        bar_x = x0 + cols * pitch + 0.15
        cax = fig.add_axes((bar_x / width_in, bar_y / height, 0.12 / width_in, bar_h / height))
        cax.tick_params(labelsize=TILE_TITLE_PT)
    return fig, axes, cax


def _shape_text(shape) -> str:
    return "\u00d7".join(str(int(d)) for d in shape)


# --- filters ---------------------------------------------------------------------------

def plot_filters(model, layer_name: str, out_path: Path, *, experiment: str | None = None,
                 root: Path | None = None) -> dict:
    """One tile per filter of a convolution layer.

    A layer reading 3 channels (the first one, reading RGB) shows each kernel as a small
    RGB image, min-max normalised per filter. Deeper layers read tens of channels, too
    many to show one tile per (filter, input channel); each filter is summarised by the
    L2 norm of its weights over the input channels, a grey kh x kw map on a scale shared
    by the whole layer. The caption says which summary was drawn.
    """
    import keras

    layer = model.get_layer(layer_name)
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype=np.float32)
    kh, kw, c_in, n_filters = kernel.shape
    shape = f"{kh}\u00d7{kw}\u00d7{c_in}"
    title = f"{layer_name}: {n_filters} filters of {shape}"

    if c_in == 3:
        fig, axes, _ = _tile_grid(n_filters, title)
        for f, ax in enumerate(axes):
            k = kernel[..., f]
            span = float(k.max() - k.min())
            ax.imshow((k - k.min()) / span if span > 0 else np.zeros_like(k),
                      interpolation="nearest")
            ax.set_title(str(f), fontsize=TILE_TITLE_PT, pad=1.5)
        how = ("each tile is one filter's kernel drawn as an RGB image (input channels as red, "
               "green, blue), min-max normalised per filter to [0, 1], so colours show each "
               "filter's own pattern and brightness is not comparable between tiles")
    else:
        norms = np.sqrt(np.sum(kernel**2, axis=2))  # (kh, kw, filters)
        vmax = float(norms.max()) or 1.0
        fig, axes, cax = _tile_grid(n_filters, title, colorbar=True)
        for f, ax in enumerate(axes):
            im = ax.imshow(norms[..., f], cmap="gray", vmin=0.0, vmax=vmax,
                           interpolation="nearest")
            ax.set_title(str(f), fontsize=TILE_TITLE_PT, pad=1.5)
        fig.colorbar(im, cax=cax)
        how = (f"a {kh}\u00d7{kw}\u00d7{c_in} kernel has too many slices to draw, so each tile "
               f"summarises one filter as the L2 norm of its weights over its {c_in} input "
               f"channels at each of the {kh}\u00d7{kw} positions (where the filter puts weight, "
               f"not its sign or which channels), on one grey scale from 0 to {vmax:.3g} "
               "shared by all tiles")
    _save(fig, out_path)
    caption = (f"Filters of convolution layer {layer_name} (kernel {shape}, {n_filters} filters, "
               f"output {n_filters} channels): all {n_filters} filters, one tile each, labelled "
               f"with the filter index; {how}.")
    fig_id = f"filters-{experiment}-{layer_name}" if experiment else f"filters-{layer_name}"
    return _record(fig_id, out_path, "filters", layer_name, experiment, caption, root,
                   tiles=len(axes))


# --- activations -------------------------------------------------------------------------

def plot_activations(layer_name: str, act: np.ndarray, out_path: Path, *,
                     layer_type: str | None = None, experiment: str | None = None,
                     image_index: int | None = None, root: Path | None = None) -> dict:
    """All channels of one layer's (H, W, C) output, one tile each, on one colour scale.

    Maps with negative values (convolution outputs) use a diverging map symmetric about
    zero, so white is exactly 0; non-negative maps (ReLU, max-pooling) use viridis from 0
    to the layer's maximum, so an all-zero ("dead") channel is uniformly dark.
    """
    act = np.asarray(act, dtype=np.float32)
    h, w, channels = act.shape
    title = f"{layer_name}: output {_shape_text(act.shape)}"
    fig, axes, cax = _tile_grid(channels, title, colorbar=True)

    lo, hi = float(act.min()), float(act.max())
    if lo < 0:
        vmax = max(abs(lo), abs(hi)) or 1.0
        cmap, vmin = "RdBu_r", -vmax
        scale = (f"diverging red-blue scale symmetric about zero, from {-vmax:.3g} (blue) "
                 f"through 0 (white) to {vmax:.3g} (red)")
    else:
        cmap, vmin, vmax = "viridis", 0.0, (hi or 1.0)
        scale = f"viridis scale from 0 (dark) to the layer's maximum {vmax:.3g} (yellow)"
    for c, ax in enumerate(axes):
        im = ax.imshow(act[..., c], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(str(c), fontsize=TILE_TITLE_PT, pad=1.5)
    fig.colorbar(im, cax=cax)
    _save(fig, out_path)

    dead = int(np.sum(np.all(act == 0, axis=(0, 1))))
    what = _TYPE_WORDS.get(layer_type, "output")
    image = f", for input image #{image_index}" if image_index is not None else ""
    caption = (f"Activations of layer {layer_name} ({what}), output shape "
               f"{h}\u00d7{w}\u00d7{channels}{image}: all {channels} channels, one tile per "
               f"channel labelled with its index, drawn pixel for pixel. One colour scale is "
               f"shared by every tile of the layer (one colour bar): {scale}, so tiles compare "
               f"directly. {dead} of {channels} channels are exactly zero everywhere on this image.")
    fig_id = f"act-{experiment}-{layer_name}" if experiment else f"act-{layer_name}"
    return _record(fig_id, out_path, "activations", layer_name, experiment, caption, root,
                   tiles=len(axes))


# --- the input image -------------------------------------------------------------------------

def plot_input(image_uint8, true_label: int, probs: np.ndarray, class_names, out_path: Path, *,
               image_index: int | None = None, experiment: str | None = None,
               root: Path | None = None) -> dict:
    """The input image, enlarged with nearest-neighbour, beside the predicted probabilities."""
    image = np.asarray(image_uint8)
    probs = np.asarray(probs, dtype=np.float64)
    pred = int(np.argmax(probs))
    big = np.repeat(np.repeat(image, INPUT_UPSCALE, axis=0), INPUT_UPSCALE, axis=1)

    height = 2.9
    fig = _new_figure(FIG_WIDTH_IN, height)
    side = 2.4  # inches
    ax_img = fig.add_axes((0.15 / FIG_WIDTH_IN, 0.1 / height, side / FIG_WIDTH_IN, side / height))
    ax_img.imshow(big, interpolation="nearest")
    ax_img.set_xticks([])
    ax_img.set_yticks([])
    label = f"#{image_index}: " if image_index is not None else ""
    ax_img.set_title(f"{label}true {class_names[true_label]}, predicted {class_names[pred]} "
                     f"({probs[pred]:.2f})", fontsize=8)

    ax_bar = fig.add_axes((3.65 / FIG_WIDTH_IN, 0.45 / height, 3.15 / FIG_WIDTH_IN, 2.05 / height))
    colours = ["tab:orange" if i == pred else "0.6" for i in range(len(probs))]
    ax_bar.barh(range(len(probs)), probs, color=colours)
    ax_bar.set_yticks(range(len(probs)), [str(n) for n in class_names], fontsize=7)
    ax_bar.get_yticklabels()[true_label].set_fontweight("bold")
    ax_bar.invert_yaxis()
    ax_bar.set_xlim(0, 1)
    ax_bar.tick_params(axis="x", labelsize=7)
    ax_bar.set_xlabel("predicted probability", fontsize=7)
    ax_bar.set_title("softmax output (true class in bold)", fontsize=8)
    _save(fig, out_path)

    h, w = image.shape[:2]
    image_words = f"Input image #{image_index}" if image_index is not None else "Input image"
    caption = (f"{image_words} ({h}\u00d7{w} RGB, enlarged {INPUT_UPSCALE}\u00d7 with "
               f"nearest-neighbour so each pixel stays a sharp block, colours unchanged): true "
               f"class {class_names[true_label]}, predicted {class_names[pred]} with probability "
               f"{probs[pred]:.2f}. Right: the network's softmax probability for each of the "
               f"{len(probs)} classes, predicted class in orange, true class in bold.")
    fig_id = f"input-{experiment}" if experiment else "input"
    return _record(fig_id, out_path, "input", None, experiment, caption, root, tiles=1)


# --- online augmentation --------------------------------------------------------------------

def _describe_spec(spec: list[dict]) -> str:
    parts = []
    for entry in spec:
        args = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "layer")
        parts.append(f"{entry['layer']}({args})")
    return " \u2192 ".join(parts)


def plot_augmentation(strategy: str, spec: list[dict], images_uint8: np.ndarray, out_path: Path,
                      draws: int = 4, seed: int = 0, *, row_labels: list[str] | None = None,
                      root: Path | None = None) -> dict:
    """Rows: a few training images; columns: the original, then `draws` random draws of
    the strategy's augmentation block applied in training mode (as during fitting)."""
    import keras

    from .models import augmentation_block

    images = np.asarray(images_uint8)
    n_rows, cols = len(images), 1 + draws
    row_labels = list(row_labels) if row_labels is not None else [f"image {i}" for i in range(n_rows)]
    col_labels = ["original"] + [f"draw {d}" for d in range(1, draws + 1)]

    block = augmentation_block(spec, seed)
    x = model_input(images)
    columns = [x] + [np.clip(keras.ops.convert_to_numpy(block(x, training=True)), 0.0, 1.0)
                     for _ in range(draws)]  # each call advances the seeds: a new draw

    title = f"Augmentation '{strategy}': the original and {draws} random draws"
    fig, axes, _ = _tile_grid(n_rows * cols, title, cols=cols, basis_cols=cols, left_in=0.4, width_in=AUG_WIDTH_IN)
    for i, ax in enumerate(axes):
        r, c = divmod(i, cols)
        ax.imshow(columns[c][r], interpolation="nearest")
        if r == 0:
            ax.set_title(col_labels[c], fontsize=TILE_TITLE_PT + 1, pad=2)
        if c == 0:
            ax.set_ylabel(row_labels[r], fontsize=TILE_TITLE_PT + 1)
    _save(fig, out_path)

    caption = (f"Online augmentation strategy '{strategy}' ({_describe_spec(spec)}): each row is "
               f"one training image; the first column is the original and the next {draws} "
               f"columns are independent random draws of the augmentation block applied in "
               f"training mode, as during fitting (seed {seed}). Pixels are shown as the network "
               f"receives them, without any normalisation; at evaluation the block is an identity.")
    return _record(f"aug-{strategy}", out_path, "augmentation", None, None, caption, root,
                   tiles=len(axes), grid=[n_rows, cols], row_labels=row_labels,
                   col_labels=col_labels)


# --- everything for one trained model -----------------------------------------------------

def visualize_model(model_path: Path, experiment: str, image_uint8, true_label: int,
                    image_index: int, class_names, out_dir: Path,
                    layers: list[str] | None = None, selection: str = "all",
                    tag: str = "", filters: bool = True) -> dict:
    """Draw the input, the filters and the activation maps of a saved model for one image.

    Which figures are drawn: `selection="all"` draws the filters of every convolution
    and the activations of every conv/relu/pool layer; `"ends"` (for a deep model shown
    beside a shallow one) only the first convolution's filters and the activations of
    the first conv, relu and pool and the last relu and pool; `layers` restricts the
    drawing to the named conv/relu/pool layers. The facts and the saved arrays always
    cover every conv/relu/pool layer. A `tag` ("second") is appended to every figure id
    and file name, so a second image's figures sit beside the first's; `filters=False`
    skips the filter figures (they do not depend on the image). Writes PNGs into out_dir,
    out_dir/activations/<experiment>.npz and out_dir/visuals-<experiment>.json, and
    returns what the JSON holds.
    """
    import keras

    model_path, out_dir = Path(model_path), Path(out_dir)
    if not model_path.is_file():
        raise Pw09Error(f"no trained model at {model_path}; train the '{experiment}' "
                        "experiment first.")
    model = keras.models.load_model(model_path, compile=False)
    groups = layer_groups(model)
    names = _feature_layers(model)
    if layers is not None:
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise ConfigError(f"no convolution, ReLU or max-pooling layer named {', '.join(unknown)} in the "
                              f"'{experiment}' model; choose from: {', '.join(names)}.")
        filter_layers = [n for n in layers if n in groups["conv"]]
        act_layers = [n for n in names if n in layers]
    elif selection == "ends":
        filter_layers = groups["conv"][:1]
        ends = {groups["conv"][0], groups["relu"][0], groups["pool"][0], groups["relu"][-1], groups["pool"][-1]}
        act_layers = [n for n in names if n in ends]
    else:
        filter_layers, act_layers = groups["conv"], names

    image = np.asarray(image_uint8)
    probs = np.asarray(keras.ops.convert_to_numpy(model(_model_input(image), training=False))[0])
    pred = int(np.argmax(probs))
    acts = activations(model, image, names)
    facts = layer_facts(acts, model)

    suffix = f"-{tag}" if tag else ""
    figures = [plot_input(image, true_label, probs, class_names, out_dir / f"input-{experiment}{suffix}.png",
                          image_index=image_index, experiment=experiment, root=out_dir)]
    for name in filter_layers if filters else []:
        figures.append(plot_filters(model, name, out_dir / f"filters-{experiment}-{name}.png",
                                    experiment=experiment, root=out_dir))
    for name in act_layers:
        figures.append(plot_activations(name, acts[name], out_dir / f"act-{experiment}-{name}{suffix}.png",
                                        layer_type=facts[name]["type"], experiment=experiment,
                                        image_index=image_index, root=out_dir))

    for rec in figures:  # the plotters name figures by experiment and layer only
        rec["id"] += suffix
    with atomic_path(out_dir / "activations" / f"{experiment}{suffix}.npz") as tmp:
        np.savez_compressed(tmp, image_index=np.int64(image_index), image=image, **acts)

    result = {
        "experiment": experiment,
        "image_index": int(image_index),
        "true_label": int(true_label),
        "predicted_label": pred,
        "probability": float(probs[pred]),
        "layers": names,  # every conv/relu/pool layer, in the model's order
        "facts": facts,
        "figures": figures,
    }
    write_json(out_dir / f"visuals-{experiment}{suffix}.json", result)
    return result
