"""Section 4's analysis: layer costs against Keras, per-class statistics against hand
counts, the choice of models, and the cached evaluation step on untrained models and the
tiny image-folder archive (no training; ~1 minute)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from experiments import analysis, config
from experiments.runs import DataSource
from experiments.settings import ROOT, Settings
from experiments import visualize as vis
from experiments.data import CLASS_NAMES

from conftest import fake_results

keras = pytest.importorskip("keras")

from experiments import build, layer_table, models  # noqa: E402


# --- per-layer table ------------------------------------------------------------------------

def _rows(model):
    return {r["name"]: r for r in layer_table.layer_table(model).to_dict("records")}


def test_receptive_fields_and_jumps_of_the_baseline():
    rows = _rows(models.build_baseline())
    assert {n: rows[n]["receptive_field"] for n in ("conv1", "conv2", "pool1", "conv3", "pool2")} == \
        {"conv1": 3, "conv2": 5, "pool1": 6, "conv3": 10, "pool2": 12}
    assert rows["relu2"]["receptive_field"] == 5 and rows["pool2"]["jump"] == 4
    assert rows["classifier"]["receptive_field"] == 12 + 7 * 4  # reads the whole 8x8 map


def test_receptive_fields_of_the_vgg_net():
    rows = _rows(models.build_vgg())
    assert [rows[f"conv1_{c}"]["receptive_field"] for c in (1, 2, 3)] == [3, 5, 7]
    assert rows["pool1"]["receptive_field"] == 8 and rows["conv2_1"]["receptive_field"] == 12
    assert rows["pool4"]["receptive_field"] == 106 and rows["pool4"]["jump"] == 16


@pytest.mark.parametrize("build_model", [models.build_baseline, models.build_vgg])
def test_parameters_agree_with_keras(build_model):
    model = build_model()
    table = layer_table.layer_table(model)
    sums = layer_table.totals(table)
    size = lambda ws: sum(int(np.prod(w.shape)) for w in ws)  # noqa: E731
    assert sums["trainable"] == size(model.trainable_weights)
    assert sums["non_trainable"] == size(model.non_trainable_weights)
    assert sums["trainable"] + sums["non_trainable"] == model.count_params()
    for row in table.to_dict("records"):
        assert row["params"] == model.get_layer(row["name"]).count_params()
    assert "InputLayer" not in set(table["type"]) and set(table["type"]) <= set(layer_table.TYPES.values())


def test_batch_norm_statistics_are_non_trainable_and_macs_are_counted():
    rows = _rows(models.build_vgg())
    assert (rows["bn1_1"]["trainable"], rows["bn1_1"]["non_trainable"]) == (128, 128)  # gamma, beta | mean, var
    assert rows["conv1_1"]["macs"] == 32 * 32 * 3 * 3 * 3 * 64
    assert rows["conv1_2"]["macs"] == 32 * 32 * 3 * 3 * 64 * 64
    assert rows["dense"]["macs"] == 256 * 256 and rows["relu1_1"]["macs"] == 0 and rows["pool1"]["macs"] == 0
    assert rows["conv1_1"]["output_shape"] == "32\u00d732\u00d764" and rows["flatten"]["output_shape"] == "256"
    base = layer_table.totals(layer_table.layer_table(models.build_baseline()))
    assert base == {"trainable": 39882, "non_trainable": 0,
                    "macs": 32 * 32 * 27 * 32 + 32 * 32 * 288 * 32 + 16 * 16 * 288 * 32 + 2048 * 10}


# --- which models --------------------------------------------------------------------------

def test_best_experiment_and_the_analysed_models(results_one_seed):
    assert analysis.best_experiment(results_one_seed, ["aug_flip", "aug_shift", "aug_strong"]) == "aug_shift"
    assert analysis.best_experiment(results_one_seed, ["nothing"]) is None
    tie = fake_results({"vgg": [(0.8, 0.9)], "vgg_aug": [(0.8, 0.9)]})
    assert analysis.best_experiment(tie, ["vgg_aug", "vgg"]) == "vgg_aug"
    assert analysis.analysed_models(results_one_seed) == ["baseline", "aug_shift", "vgg_aug"]
    assert build.choose_visualised(results_one_seed)["ex1"]["experiment"] == "aug_shift"
    assert build.choose_visualised(results_one_seed)["ex3"]["experiment"] == "vgg_aug"


# --- per-class statistics --------------------------------------------------------------------

def test_per_class_counts_shares_and_most_confused():
    y = np.repeat(np.arange(10), 10)              # 10 images per class
    pred = y.copy()
    pred[30:36] = 5                               # 6 cats called dogs
    pred[50:52] = 3                               # 2 dogs called cats
    pred[0:3] = 8                                 # 3 airplanes called ships
    facts = analysis.per_class(y, pred, CLASS_NAMES)
    cm = np.array(facts["confusion"])
    assert cm.shape == (10, 10) and cm.sum(axis=1).tolist() == [10] * 10 and cm.sum() == 100
    assert cm[3, 5] == 6 and cm[5, 3] == 2 and cm[0, 8] == 3
    assert facts["accuracy"][3] == pytest.approx(0.4) and facts["accuracy"][9] == 1.0
    assert facts["most_confused"] == [
        {"true": "cat", "pred": "dog", "count": 6, "share": 0.6},
        {"true": "airplane", "pred": "ship", "count": 3, "share": 0.3},
        {"true": "dog", "pred": "cat", "count": 2, "share": 0.2}]
    assert facts["worst_class"] == "cat" and facts["best_class"] == "automobile"


def test_confident_mistakes_are_wrong_and_sorted():
    y = np.array([0, 1, 2, 3, 4])
    pred = np.array([0, 2, 1, 3, 0])
    prob = np.array([0.99, 0.6, 0.9, 0.5, 0.7])
    assert analysis.confident_mistakes(y, pred, prob, 2).tolist() == [2, 4]
    assert analysis.confident_mistakes(y, pred, prob, 10).tolist() == [2, 4, 1]


# --- the second image and the channel facts -----------------------------------------------

def test_second_image_and_official_order():
    labels = np.array([6, 9, 9, 4, 1, 1, 2, 7, 8, 3, 4, 0, 6, 6])
    assert vis.contrast_index(labels, 12) == 1
    assert vis.contrast_index(labels, 1) == 0
    rec = vis.input_images(labels, "image-folder-archive", 12, CLASS_NAMES)
    assert rec["official_order"] is False
    assert rec["images"] == [{"index": 12, "class": "frog"}, {"index": 1, "class": "truck"}]
    assert vis.input_images(labels, "official-archive", 12, CLASS_NAMES)["official_order"] is True
    assert vis.input_images(labels, "keras", 12, CLASS_NAMES)["official_order"] is True


def test_channel_extremes():
    act = np.zeros((4, 4, 3), np.float32)
    act[..., 1] = 2.0
    act[0, 0, 2] = -8.0
    facts = vis.channel_extremes(act)
    assert facts["most_active"] == {"channel": 1, "mean": 2.0}
    assert facts["least_active"] == {"channel": 2, "mean": -0.5}
    assert facts["median_channel_mean"] == 0.0


def test_second_image_figures_are_tagged(tmp_path):
    path = tmp_path / "m.keras"
    models.build_baseline().save(path)
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = vis.visualize_model(path, "baseline", image, 3, 7, CLASS_NAMES, tmp_path / "fig",
                              layers=["conv1", "relu1"], tag="second", filters=False)
    assert [f["id"] for f in out["figures"]] == ["input-baseline-second", "act-baseline-conv1-second",
                                                 "act-baseline-relu1-second"]
    assert all((tmp_path / "fig" / f["path"]).exists() for f in out["figures"])
    assert (tmp_path / "fig" / "visuals-baseline-second.json").exists()
    assert set(out["facts"]["relu1"]) >= {"most_active", "least_active", "median_channel_mean"}


# --- the cached step --------------------------------------------------------------------------

ANALYSED = {"baseline": [(0.30, 0.4)], "aug_flip": [(0.35, 0.4)], "vgg": [(0.20, 0.3)]}


def _publish(settings, results, seed=0):
    for name, metrics in results.items():
        folder = settings.results / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metrics.json").write_text(json.dumps(metrics))
        keras.utils.set_random_seed(seed)
        models.BUILDERS[config.EXPERIMENTS[name]["model"]]().save(folder / "model.keras")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, tiny_archive):
    build_dir = tmp_path_factory.mktemp("build")
    settings = Settings(profile="smoke", data=str(tiny_archive), build=build_dir, dist=build_dir / "dist")
    results = fake_results(ANALYSED)
    _publish(settings, results)
    source = DataSource(settings)
    return settings, results, source, build.make_analysis(settings, results, source)


def test_analysis_json_has_the_interface(analysed):
    settings, _, source, facts = analysed
    assert facts["models"] == ["baseline", "aug_flip", "vgg"]
    on_disk = json.loads((settings.build / "analysis" / "analysis.json").read_text())
    assert on_disk["models"] == facts["models"]
    for exp in facts["models"]:
        pc = facts["per_class"][exp]
        assert pc["classes"] == list(CLASS_NAMES) and len(pc["accuracy"]) == 10
        assert len(pc["most_confused"]) <= 3 and pc["best_class"] in CLASS_NAMES
    assert set(facts["layers"]) == {"baseline", "vgg"} == set(facts["totals"])
    row = facts["layers"]["baseline"][0]
    assert set(row) >= {"name", "type", "output_shape", "params", "trainable", "non_trainable",
                        "receptive_field", "macs"}
    assert facts["totals"]["vgg"]["non_trainable"] == 1536
    assert set(facts["inception"]) >= {"stages", "paper_results"}
    inputs = facts["inputs"]
    assert inputs["official_order"] is False and inputs["images"][0]["index"] == 12
    assert inputs["images"][0]["class"] != inputs["images"][1]["class"]
    ids = {"per-class-accuracy", "inception-v4", "confusion-ex1", "confusion-ex3"} | {
        f"misclassified-{e}" for e in facts["models"]}
    assert ids == set(facts["figures"])
    # Exercise 1's confusion matrices side by side (baseline, then the best augmented model).
    assert facts["figures"]["confusion-ex1"]["experiments"] == facts["models"][:2]
    assert facts["figures"]["confusion-ex3"]["experiments"] == facts["models"][2:]
    for rec in facts["figures"].values():
        assert (settings.figures / rec["path"]).read_bytes()[:4] == b"\x89PNG" and rec["caption"]


def test_confusion_rows_sum_to_the_class_counts_and_match_the_predictions(analysed):
    settings, _, _, facts = analysed
    for exp in facts["models"]:
        saved = np.load(settings.build / "analysis" / f"predictions-{exp}.npz")
        assert len(saved["predicted"]) == 500 and np.all((saved["probability"] > 0) & (saved["probability"] <= 1))
        cm = np.array(facts["per_class"][exp]["confusion"])
        assert cm.sum(axis=1).tolist() == np.bincount(saved["true"], minlength=10).tolist() == [50] * 10
        assert cm.sum(axis=0).tolist() == np.bincount(saved["predicted"], minlength=10).tolist()
        assert facts["evaluation"][exp]["test_accuracy"] == pytest.approx(np.mean(saved["predicted"] == saved["true"]))
        for m in facts["evaluation"][exp]["mistakes"]:
            assert m["true"] != m["pred"]


def test_noop_rebuild_skips_without_tensorflow_and_a_changed_model_reruns(analysed):
    settings, results, source, facts = analysed
    pred = settings.build / "analysis" / "predictions-baseline.npz"
    before = pred.stat().st_mtime_ns
    code = (
        "import sys, json; from experiments import build; from experiments.runs import DataSource; from experiments.settings import Settings; "
        f"s = Settings(profile='smoke', data={str(settings.data)!r}, build={str(settings.build)!r}, "
        f"dist={str(settings.dist)!r}); "
        f"r = json.loads({json.dumps(json.dumps(results))}); "
        "f = build.make_analysis(s, r, DataSource(s)); "
        "assert f['models'] == ['baseline', 'aug_flip', 'vgg']; "
        "assert not {'tensorflow', 'keras'} & set(sys.modules), 'imported TensorFlow'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)
    assert pred.stat().st_mtime_ns == before
    _publish(settings, {"baseline": results["baseline"]}, seed=1)  # new weights
    again = build.make_analysis(settings, results, source)
    assert pred.stat().st_mtime_ns != before
    assert again["per_class"]["vgg"] == facts["per_class"]["vgg"]


def test_the_report_gets_analysis_and_its_figures(results_one_seed, tmp_path):
    """`analysis=` reaches the prose's context, and its figure records are numbered like the others."""
    import shutil

    from experiments import report
    from test_report import fake_figures, fake_provenance, fake_visuals

    prose = tmp_path / "report_src"
    shutil.copytree(report.PROSE, prose)
    with open(prose / "ex4_inception.md", "a") as fh:
        fh.write('\n\nAnalysed: {{ analysis.models | join("+") }}.\n')  # the prose itself places the figure
    visuals = fake_visuals(results_one_seed)
    records = fake_figures(results_one_seed, visuals)
    # 1 a) places the baseline's and the best augmented model's confusion matrices, side by side.
    records["confusion-ex1"] = {"id": "confusion-ex1", "path": "analysis/confusion-ex1.png", "kind": "confusion",
                                "experiments": ["baseline", "aug_shift"], "caption": "Counts."}
    page, _ = report.render_html(results_one_seed, {}, records, visuals, fake_provenance(results_one_seed), "smoke",
                                 prose_dir=prose, analysis={"models": ["baseline", "aug_shift", "vgg_aug"]})
    assert "Analysed: baseline+aug_shift+vgg_aug." in page
    assert 'src="figures/analysis/confusion-ex1.png" style="width:100%"' in page


# --- test-time mirror averaging ---------------------------------------------------------------

class _SidedModel:
    """Stands in for a trained network: an image brighter on its left half leans towards class 0,
    one that is not leans towards class 1, and neither is sure."""

    def predict(self, x, batch_size=None, verbose=0):
        left, right = x[:, :, :16].mean(axis=(1, 2, 3)), x[:, :, 16:].mean(axis=(1, 2, 3))
        p = np.full((len(x), 10), 0.02)
        p[:, 0] += np.where(left > right, 0.50, 0.10)
        p[:, 1] += np.where(left > right, 0.18, 0.58)
        return p / p.sum(axis=1, keepdims=True)


def test_mirror_accuracy_averages_each_image_with_its_left_right_mirror():
    from experiments import train

    images = np.zeros((3, 32, 32, 3), dtype="float32")
    images[0, :, :16] = 1.0   # bright on the left: class 0 as it is, class 1 mirrored
    images[1, :, 16:] = 1.0   # bright on the right: class 1 as it is, class 0 mirrored
    images[2, :8] = 1.0       # a band along the top, the same mirrored: class 1
    eye = np.eye(10, dtype="float32")
    model = _SidedModel()
    assert model.predict(images).argmax(1).tolist() == [0, 1, 1]
    # Averaged with its mirror, images 0 and 1 score (0.52 + 0.12) / 2 for class 0 and
    # (0.20 + 0.60) / 2 for class 1 (before normalising): class 1. Mirroring up-down instead
    # would leave all three predictions as they are, and the first accuracy at 2/3.
    assert train.mirror_accuracy(model, images, eye[[1, 1, 1]]) == 1.0
    assert train.mirror_accuracy(model, images, eye[[0, 1, 1]]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("name, rate", [("vgg", 0.2), ("vgg_aug", 0.1)])
def test_the_built_vgg_net_drops_at_its_experiments_rate(name, rate):
    model = models.build_model(config.resolve(name, "smoke"), seed=0)
    rates = [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"]
    assert rates == [rate] * 5
