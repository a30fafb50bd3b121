"""The cost of a Keras CNN, layer by layer: output shape, parameters, receptive field and
multiply-adds per image, read from the built model (no training).

Receptive field, in input pixels, by the standard recurrence over the layers in order:
r_out = r_in + (k - 1) * j_in and j_out = j_in * stride, starting from r = j = 1 at the
input. Layers without a kernel (ReLU, batch norm, dropout, flatten) keep r and j. The dense
layer after a flatten reads the whole H x W map, a kernel of size H: r grows by (H - 1) * j.
With same padding the field can exceed the 32-pixel image (part of it then lies on the
zero padding). Multiply-adds count one per
weight used per output position: H_out * W_out * k_h * k_w * C_in * C_out for a
convolution, inputs * units for a dense layer, and none for the rest (bias additions,
ReLU, pooling comparisons and batch norm's per-channel scale are not multiply-adds of a
weight with an activation; batch norm can be folded into the convolution before it).
"""

from __future__ import annotations

import math

import pandas as pd

# Keras layer class -> the type word of the table; other layers (the input, the
# augmentation block, an identity at inference) are left out.
TYPES = {"Conv2D": "conv", "ReLU": "relu", "BatchNormalization": "bn", "MaxPooling2D": "pool",
         "Dropout": "dropout", "Flatten": "flatten", "Dense": "dense"}
COLUMNS = ["name", "type", "output_shape", "params", "trainable", "non_trainable", "receptive_field",
           "jump", "macs"]


def _count(weights) -> int:
    return int(sum(math.prod(int(d) for d in w.shape) for w in weights))


def shape_text(shape) -> str:
    """(None, 32, 32, 32) -> '32×32×32'."""
    return "\u00d7".join(str(int(d)) for d in shape[1:])


def layer_table(model) -> pd.DataFrame:
    """One row per layer with an effect, in model order, with the columns of `COLUMNS`."""
    r, j, flat = 1, 1, 1
    rows = []
    for layer in model.layers:
        kind = TYPES.get(type(layer).__name__)
        if kind is None:
            continue
        out = layer.output.shape
        macs = 0
        if kind in ("conv", "pool"):
            k = int(layer.kernel_size[0] if kind == "conv" else layer.pool_size[0])
            r, j = r + (k - 1) * j, j * int(layer.strides[0])
            if kind == "conv":
                kh, kw, c_in, c_out = (int(d) for d in layer.kernel.shape)
                macs = int(out[1]) * int(out[2]) * kh * kw * c_in * c_out
        elif kind == "flatten":
            flat = int(layer.input.shape[1])
        elif kind == "dense":
            r, j, flat = r + (flat - 1) * j, j * flat, 1
            macs = math.prod(int(d) for d in layer.kernel.shape)
        trainable, frozen = _count(layer.trainable_weights), _count(layer.non_trainable_weights)
        rows.append({"name": layer.name, "type": kind, "output_shape": shape_text(out),
                     "params": trainable + frozen, "trainable": trainable, "non_trainable": frozen,
                     "receptive_field": r, "jump": j, "macs": macs})
    return pd.DataFrame(rows, columns=COLUMNS)


def totals(table: pd.DataFrame) -> dict:
    """Trainable and non-trainable parameters and multiply-adds of the whole network."""
    return {c: int(table[c].sum()) for c in ("trainable", "non_trainable", "macs")}


def network_tables(builders: dict) -> tuple[dict, dict]:
    """{network: rows} and {network: totals} for builders {network: () -> keras.Model}."""
    layers, sums = {}, {}
    for name, build in builders.items():
        table = layer_table(build())
        layers[name] = [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                        for row in table.to_dict("records")]
        sums[name] = totals(table)
    return layers, sums
