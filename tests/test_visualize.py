"""Exercise 2's visualiser on tiny, untrained networks (no data, no training; ~20 s).

The baseline and a small VGG-style net are built, compiled and saved once per module;
every test then checks what `visualize_model` wrote against an independent computation.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from experiments import config, models  # noqa: E402
from experiments import visualize as vis  # noqa: E402
from experiments.errors import ConfigError  # noqa: E402

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _small_vgg():
    return models.build_vgg(filters=8, blocks=2, convs_per_block=2, dense_units=16)


def _type_scan(model) -> dict[str, list[str]]:
    """Independent of the module: class names, feature-map outputs only, top level only."""
    kinds = {"Conv2D": "conv", "ReLU": "relu", "MaxPooling2D": "pool"}
    found = {"conv": [], "relu": [], "pool": []}
    for layer in model.layers:
        kind = kinds.get(type(layer).__name__)
        if kind and len(layer.output.shape) == 4:
            found[kind].append(layer.name)
    return found


def _direct_outputs(model, image_uint8) -> dict[str, np.ndarray]:
    """Every layer's output, by calling the layers one after another (both nets are chains)."""
    x = image_uint8.astype(np.float32)[None] / 255.0
    out = {}
    for layer in model.layers[1:]:  # layers[0] is the InputLayer
        x = layer(x, training=False)
        out[layer.name] = keras.ops.convert_to_numpy(x)[0]
    return out


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(7).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module", params=["baseline", "vgg"])
def visualised(request, tmp_path_factory, image):
    """(name, loaded model, visualize_model's result, its out_dir) for each network."""
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    keras.utils.set_random_seed(0)
    model = models.build_baseline() if name == "baseline" else _small_vgg()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.save(tmp / "model.keras")
    out_dir = tmp / "out"
    result = vis.visualize_model(tmp / "model.keras", name, image, true_label=3, image_index=12,
                                 class_names=CLASS_NAMES, out_dir=out_dir)
    return name, keras.models.load_model(tmp / "model.keras", compile=False), result, out_dir


def test_saved_activations_equal_direct_layer_outputs(visualised, image):
    name, model, result, out_dir = visualised
    saved = np.load(out_dir / "activations" / f"{name}.npz")
    direct = _direct_outputs(model, image)
    feature_layers = [n for names in _type_scan(model).values() for n in names]
    assert feature_layers
    for layer in feature_layers:
        np.testing.assert_allclose(saved[layer], direct[layer], atol=1e-5, err_msg=layer)
        assert saved[layer].dtype == np.float32
    assert int(saved["image_index"]) == 12
    np.testing.assert_array_equal(saved["image"], image)
    probs = keras.ops.convert_to_numpy(model(image.astype(np.float32)[None] / 255.0))[0]
    assert result["predicted_label"] == int(np.argmax(probs))
    assert result["probability"] == pytest.approx(float(probs.max()), abs=1e-6)


def test_facts_match_direct_computation(visualised, image):
    _, model, result, _ = visualised
    direct = _direct_outputs(model, image)
    for layer, facts in result["facts"].items():
        act = direct[layer]
        assert facts["shape"] == list(act.shape)
        assert facts["zero_fraction"] == pytest.approx(float(np.mean(act == 0)), abs=1e-9)
        assert 0.0 <= facts["zero_fraction"] <= 1.0
        assert facts["dead_channels"] == int(np.sum(~act.reshape(-1, act.shape[-1]).any(axis=0)))
        assert facts["max"] == pytest.approx(float(act.max()), abs=1e-5)
        assert facts["mean"] == pytest.approx(float(act.mean()), abs=1e-5)
        if facts["type"] == "relu":
            assert facts["min"] >= 0.0
        if facts["type"] == "conv":
            kernel = model.get_layer(layer).kernel
            assert facts["filters"] == kernel.shape[-1]
            assert facts["kernel_shape"] == list(kernel.shape)


def test_layer_groups_follow_layer_types(visualised):
    name, model, _, _ = visualised
    groups = vis.layer_groups(model)
    assert groups == _type_scan(model)
    if name == "baseline":
        assert groups == {"conv": ["conv1", "conv2", "conv3"],
                          "relu": ["relu1", "relu2", "relu3"], "pool": ["pool1", "pool2"]}
    else:  # 2 blocks x 2 convs; the ReLU after the dense layer is not a feature map
        assert len(groups["conv"]) == len(groups["relu"]) == 4 and len(groups["pool"]) == 2
        assert "dense_relu" not in groups["relu"]


def test_augmentation_layers_are_skipped_and_inactive(image):
    model = models.build_model(config.resolve("aug_strong", "smoke"))
    assert any(isinstance(layer, keras.Model) for layer in model.layers)  # it has the block
    groups = vis.layer_groups(model)
    assert groups == vis.layer_groups(models.build_baseline())
    assert not any(n.startswith("aug") for names in groups.values() for n in names)
    # inference mode: conv1 sees the image itself, not an augmented copy
    acts = vis.activations(model, image, ["conv1"])
    expected = model.get_layer("conv1")(image.astype(np.float32)[None] / 255.0)
    np.testing.assert_allclose(acts["conv1"], keras.ops.convert_to_numpy(expected)[0], atol=1e-5)


def test_every_feature_layer_has_a_full_activation_grid(visualised):
    _, model, result, out_dir = visualised
    by_layer = {f["layer"]: f for f in result["figures"] if f["kind"] == "activations"}
    for names in _type_scan(model).values():
        for layer in names:
            record = by_layer[layer]
            png = out_dir / record["path"]
            assert png.is_file() and png.stat().st_size > 1000
            assert png.read_bytes()[:8] == PNG_SIGNATURE
            assert record["tiles"] == result["facts"][layer]["shape"][2]
            assert layer in record["caption"]
            assert "\u00d7".join(map(str, result["facts"][layer]["shape"])) in record["caption"]


def test_filter_grids_have_one_tile_per_filter(visualised):
    name, model, result, out_dir = visualised
    filters = [f for f in result["figures"] if f["kind"] == "filters"]
    assert [f["layer"] for f in filters] == _type_scan(model)["conv"]
    for record in filters:
        assert record["tiles"] == model.get_layer(record["layer"]).filters
        assert (out_dir / record["path"]).read_bytes()[:8] == PNG_SIGNATURE
    first, deeper = filters[0], filters[1:]
    assert "RGB" in first["caption"] and "min-max" in first["caption"]
    assert all("L2 norm" in f["caption"] for f in deeper)


def test_visuals_json_is_valid_and_complete(visualised):
    name, _, result, out_dir = visualised
    on_disk = json.loads((out_dir / f"visuals-{name}.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk["experiment"] == name and on_disk["image_index"] == 12
    assert on_disk["true_label"] == 3 and 0 <= on_disk["predicted_label"] < 10
    ids = [f["id"] for f in on_disk["figures"]]
    assert len(ids) == len(set(ids))
    assert [f["kind"] for f in on_disk["figures"]].count("input") == 1
    for record in on_disk["figures"]:
        assert set(record) >= {"id", "path", "kind", "layer", "experiment", "caption", "tiles"}
        assert not record["path"].startswith("/") and (out_dir / record["path"]).is_file()
        assert record["experiment"] == name
        assert record["caption"].endswith(".")


def test_unknown_layer_is_a_config_error(visualised, image, tmp_path):
    name, model, _, _ = visualised
    model.save(tmp_path / "model.keras")
    with pytest.raises(ConfigError, match="no convolution, ReLU or max-pooling layer named classifier"):
        vis.visualize_model(tmp_path / "model.keras", name, image, 3, 12, CLASS_NAMES,
                            tmp_path / "out", layers=["classifier"])


def test_layers_and_selection_restrict_the_drawing_not_the_facts(image, tmp_path):
    keras.utils.set_random_seed(0)
    model = _small_vgg()
    model.save(tmp_path / "model.keras")
    scan = _type_scan(model)
    one = vis.visualize_model(tmp_path / "model.keras", "v", image, 3, 12, CLASS_NAMES,
                              tmp_path / "one", layers=["conv1_2", "relu2_1"])
    assert [(f["kind"], f["layer"]) for f in one["figures"] if f["kind"] != "input"] == [
        ("filters", "conv1_2"), ("activations", "conv1_2"), ("activations", "relu2_1")]
    ends = vis.visualize_model(tmp_path / "model.keras", "v", image, 3, 12, CLASS_NAMES,
                               tmp_path / "ends", selection="ends")
    assert [f["layer"] for f in ends["figures"] if f["kind"] == "filters"] == scan["conv"][:1]
    assert [f["layer"] for f in ends["figures"] if f["kind"] == "activations"] == [
        scan["conv"][0], scan["relu"][0], scan["pool"][0], scan["relu"][-1], scan["pool"][-1]]
    for result in (one, ends):  # facts and arrays still cover every feature layer
        assert set(result["facts"]) == set(sum(scan.values(), []))
        assert result["layers"] == [l.name for l in model.layers if l.name in result["facts"]]


def test_augmentation_grid(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    record = vis.plot_augmentation("shift", config.AUGMENTATIONS["shift"], images,
                                   tmp_path / "figures" / "aug-shift.png", draws=4, root=tmp_path)
    assert record["grid"] == [3, 5] and record["tiles"] == 15
    assert record["col_labels"] == ["original", "draw 1", "draw 2", "draw 3", "draw 4"]
    assert record["row_labels"] == ["image 0", "image 1", "image 2"]
    assert record["kind"] == "augmentation" and record["path"] == "figures/aug-shift.png"
    assert "RandomTranslation" in record["caption"]
    assert (tmp_path / record["path"]).read_bytes()[:8] == PNG_SIGNATURE


def test_importing_the_module_does_not_start_keras():
    code = ("import sys, experiments.visualize; "
            "assert not {'keras', 'tensorflow', 'matplotlib'} & set(sys.modules), sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
