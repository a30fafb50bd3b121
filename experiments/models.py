"""The two networks of PW09, written against `keras.*` only (any backend).

Layers are named after what they are (`conv1`, `relu1`, `pool1`, `bn1_2`, ...) so that
the visualiser and the figure captions can refer to them. Convolution and ReLU are
separate layers, so Exercise 2 can show a CONV output and its RELU output apart.

Online augmentation (Exercise 1b) is a block of Keras preprocessing layers at the top
of the model: active while training, an identity at evaluation and prediction, so every
epoch sees new random transforms and the test set sees none.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
# Keras' default batch-norm momentum (0.99) averages the statistics over ~100 steps. On a
# subset an epoch has few steps, the weights move faster than that average, and the
# evaluation (which uses the averages) collapsed to chance: under the quick profile (5,000
# images, 6 epochs) the test accuracy stayed at 12 % with 0.99 while the running training
# accuracy reached 46 %; with 0.9 (PyTorch's default) a 3,000-image, 4-epoch run reached 40 %.
BN_MOMENTUM = 0.9


def augmentation_block(spec: list[dict], seed: int | None = None) -> keras.Sequential:
    """A Sequential of Keras random preprocessing layers built from registry entries."""
    block = keras.Sequential(name="augmentation")
    for i, entry in enumerate(spec):
        params = {k: v for k, v in entry.items() if k != "layer"}
        layer_cls = getattr(layers, entry["layer"])
        layer_seed = None if seed is None else seed + 101 * (i + 1)
        name = "aug_" + entry["layer"].removeprefix("Random").lower()
        block.add(layer_cls(**params, seed=layer_seed, name=name))
    return block


def _inputs_and_augmentation(augmentation, seed):
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    if augmentation:
        x = augmentation_block(augmentation, seed)(x)
    return inputs, x


def build_baseline(augmentation: list[dict] | None = None, seed: int | None = None) -> keras.Model:
    """Exercise 1a: CONV(32)-RELU-CONV(32)-RELU-MAXP(2)-CONV(32)-RELU-MAXP(2)-DENSE(10)."""
    inputs, x = _inputs_and_augmentation(augmentation, seed)
    x = layers.Conv2D(32, 3, padding="same", name="conv1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.Conv2D(32, 3, padding="same", name="conv2")(x)
    x = layers.ReLU(name="relu2")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(32, 3, padding="same", name="conv3")(x)
    x = layers.ReLU(name="relu3")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="baseline_cnn")


def build_vgg(
    augmentation: list[dict] | None = None,
    seed: int | None = None,
    filters: int = 64,
    blocks: int = 4,
    convs_per_block: int = 3,
    dense_units: int = 256,
    dropout: float = 0.2,
) -> keras.Model:
    """Exercise 3: [[Conv2D -> ReLU -> BN] x3 -> MaxPool -> Dropout] x4 -> Flatten
    -> Dense(256) -> Dropout -> Dense(10, softmax)."""
    inputs, x = _inputs_and_augmentation(augmentation, seed)
    for b in range(1, blocks + 1):
        for c in range(1, convs_per_block + 1):
            x = layers.Conv2D(filters, 3, strides=1, padding="same", name=f"conv{b}_{c}")(x)
            x = layers.ReLU(name=f"relu{b}_{c}")(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{b}_{c}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"pool{b}")(x)
        x = layers.Dropout(dropout, seed=seed, name=f"dropout{b}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, seed=seed, name="dense_dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="vgg_style_cnn")


BUILDERS = {"baseline": build_baseline, "vgg": build_vgg}


def learning_rate(cfg: dict, steps_per_epoch: int):
    """The learning rate of a recipe: a constant, or a linear warm-up from zero to the
    peak followed by a cosine decay to zero at the last step (Keras' CosineDecay)."""
    if cfg.get("schedule", "constant") == "constant":
        return cfg["learning_rate"]
    total = cfg["epochs"] * steps_per_epoch
    warmup = min(cfg["warmup_epochs"] * steps_per_epoch, total - 1)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=total - warmup, alpha=0.0,
        warmup_target=cfg["learning_rate"], warmup_steps=warmup,
    )


def build_model(cfg: dict, seed: int | None = None, steps_per_epoch: int = 1) -> keras.Model:
    """Build and compile the network a resolved experiment configuration describes."""
    extra = {"dropout": cfg["dropout"]} if "dropout" in cfg else {}
    model = BUILDERS[cfg["model"]](augmentation=cfg["augmentation_layers"] or None, seed=seed, **extra)
    lr = learning_rate(cfg, steps_per_epoch)
    if cfg["optimizer"] == "adamw":
        optimizer = keras.optimizers.AdamW(learning_rate=lr, weight_decay=cfg["weight_decay"])
    else:
        optimizer = keras.optimizers.get({"class_name": cfg["optimizer"], "config": {"learning_rate": lr}})
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.get("label_smoothing", 0.0))
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model
