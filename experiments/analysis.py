"""Section 4's evidence, computed from the saved models and the data: per-class accuracy,
confusion matrices, the most confidently wrong test images and the per-layer costs,
written to build/analysis/ (analysis.json, predictions-<exp>.npz) with their figures.

Which models: the baseline, the best augmented Exercise-1 model and the best VGG model,
"best" meaning the highest mean test accuracy over seeds among the published results.
Importing this module is cheap: Keras and pandas are imported only inside the functions
that need them, which the build calls only when something has to be computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from . import atomic, config

TOP_CONFUSED = 3
EVAL_BATCH = 500


def ranking(means: Mapping[str, float], higher: bool = True) -> list[str]:
    """The names of `means` from best to worst: highest mean first (lowest with
    higher=False); on a tie the one listed first leads. The one rule by which the build,
    the report's sentences and its checked claims call an experiment the best."""
    return sorted(means, key=means.__getitem__, reverse=higher)  # stable: ties keep their order


def best_experiment(results: Mapping, names) -> str | None:
    """The experiment among `names` with the highest mean test accuracy in `results`
    (the first one in `names` on a tie); None when none of them has results."""
    order = ranking({n: results[n]["test_accuracy"] for n in names if n in results})
    return order[0] if order else None


def analysed_models(results: dict) -> list[str]:
    """The experiments section 4 analyses, in report order: baseline, the best augmented
    Exercise-1 model, the best VGG model (those with results)."""
    ex = config.EXPERIMENTS
    picks = [best_experiment(results, ["baseline"]),
             best_experiment(results, [n for n, e in ex.items() if e["exercise"] == 1 and e["augmentation"]]),
             best_experiment(results, [n for n, e in ex.items() if e["exercise"] == 3])]
    return [p for p in picks if p is not None]


# --- per-class results (pure) -----------------------------------------------------------

def confusion(y_true, y_pred, n_classes: int) -> "pd.DataFrame":
    """Counts, rows the true class and columns the predicted one (all classes present)."""
    import pandas as pd

    labels = range(n_classes)
    table = pd.crosstab(pd.Series(np.asarray(y_true), name="true"), pd.Series(np.asarray(y_pred), name="pred"))
    return table.reindex(index=labels, columns=labels, fill_value=0).astype(int)


def per_class(y_true, y_pred, classes) -> dict:
    """Per-class accuracy, the confusion matrix and the most-confused (true -> predicted)
    pairs with their count and share of the true class."""
    cm = confusion(y_true, y_pred, len(classes))
    totals = cm.sum(axis=1)
    accuracy = (np.diag(cm) / totals.where(totals > 0)).fillna(0.0)
    pairs = cm.stack().rename("n").reset_index()
    pairs = pairs[pairs["true"] != pairs["pred"]].sort_values(["n", "true", "pred"],
                                                            ascending=[False, True, True], kind="stable")
    top = [{"true": classes[r.true], "pred": classes[r.pred], "count": int(r.n),
            "share": float(r.n / totals[r.true])} for r in pairs.head(TOP_CONFUSED).itertuples() if r.n]
    return {
        "classes": list(classes),
        "accuracy": [float(a) for a in accuracy],
        "confusion": cm.values.tolist(),
        "most_confused": top,
        "best_class": classes[int(np.argmax(accuracy.values))],
        "worst_class": classes[int(np.argmin(accuracy.values))],
    }


def confident_mistakes(y_true, predicted, probability, n: int) -> np.ndarray:
    """Positions of the `n` wrong predictions with the highest probability, highest first."""
    wrong = np.flatnonzero(np.asarray(predicted) != np.asarray(y_true))
    order = np.argsort(-np.asarray(probability)[wrong], kind="stable")
    return wrong[order[:n]]


# --- computing with Keras ------------------------------------------------------------------

def evaluate(model_path: Path, x_uint8: np.ndarray) -> np.ndarray:
    """Softmax probabilities (N, classes) of a saved model on uint8 images, scaled as in
    training (`data.model_input`), in inference mode (augmentation and dropout off)."""
    import keras

    from .data import model_input

    model = keras.models.load_model(model_path, compile=False)
    probs = [keras.ops.convert_to_numpy(model(model_input(x_uint8[i:i + EVAL_BATCH]), training=False))
             for i in range(0, len(x_uint8), EVAL_BATCH)]
    return np.concatenate(probs).astype(np.float32)


def network_costs() -> tuple[dict, dict]:
    """Per-layer table rows and totals of both networks, built untrained."""
    from . import layer_table, models

    return layer_table.network_tables({"baseline": models.build_baseline, "vgg": models.build_vgg})


# --- the step's work -----------------------------------------------------------------------

def run(exps: list[str], results: dict, results_dir: Path, dataset, test_subset: tuple[int | None, int],
        image_index: int, out_dir: Path, fig_dir: Path, grid: tuple[int, int] = (2, 6)) -> dict:
    """Evaluate each model once on the run's test subset, write predictions-<exp>.npz and
    the figures, and return what analysis.json holds (the caller writes it)."""
    from . import analysis_figures, inception, visualize
    from .data import CLASS_NAMES, stratified_subset

    n, seed = test_subset
    test_idx, y = stratified_subset(np.arange(len(dataset.y_test)), dataset.y_test, n, seed)
    x = dataset.x_test[test_idx]
    out = {"models": exps, "per_class": {}, "evaluation": {}, "figures": {}}
    preds = {}
    for exp in exps:
        probs = evaluate(Path(results_dir) / exp / "model.keras", x)
        pred = probs.argmax(axis=1)
        prob = probs[np.arange(len(pred)), pred]
        with atomic.atomic_path(Path(out_dir) / f"predictions-{exp}.npz") as tmp:
            np.savez_compressed(tmp, test_index=test_idx, true=y, predicted=pred, probability=prob)
        preds[exp] = (pred, prob)
        out["per_class"][exp] = per_class(y, pred, CLASS_NAMES)
        out["evaluation"][exp] = {
            "test_images": int(len(y)), "test_accuracy": float(np.mean(pred == y)),
            "recorded_test_accuracy": float(results[exp]["per_seed"]["test_accuracy"][0]),
            "seed": int(results[exp]["seeds"][0]),
        }
    vmax = max(max(max(row) for row in pc["confusion"]) for pc in out["per_class"].values())
    for exp in exps:
        pred, prob = preds[exp]
        picks = confident_mistakes(y, pred, prob, grid[0] * grid[1])
        out["evaluation"][exp]["mistakes"] = [
            {"test_index": int(test_idx[i]), "true": CLASS_NAMES[y[i]], "pred": CLASS_NAMES[pred[i]],
             "probability": float(prob[i])} for i in picks]
        rec = analysis_figures.plot_mistakes(x[picks], out["evaluation"][exp]["mistakes"], exp,
                                             results[exp]["title"], len(y), grid, fig_dir)
        out["figures"][rec["id"]] = rec
    titles = {e: results[e]["title"] for e in exps}
    for fig_id, group in analysis_figures.confusion_groups(exps).items():
        rec = analysis_figures.plot_confusion(out["per_class"], group, titles, vmax, fig_dir, fig_id)
        out["figures"][rec["id"]] = rec
    rec = analysis_figures.plot_class_accuracy(out["per_class"], titles, fig_dir)
    out["figures"][rec["id"]] = rec
    out["layers"], out["totals"] = network_costs()
    out["inception"] = inception.facts()
    rec = inception.plot_schema(fig_dir)
    out["figures"][rec["id"]] = rec
    out["inputs"] = visualize.input_images(dataset.y_train, dataset.kind, image_index, CLASS_NAMES)
    return out
