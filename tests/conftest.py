"""Shared fixtures: fake results in the exact format the build publishes (no training),
and a tiny CIFAR-shaped image-folder archive for end-to-end runs."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from experiments import config, estimate, pipeline

ROOT = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


def fake_run_metrics(name: str, seed: int, test_acc: float, train_acc: float, epochs: int = 3) -> tuple[dict, list[dict]]:
    """One seed's metrics.json and history rows, as train.train_run writes them."""
    cfg = config.resolve(name, "smoke")
    history = []
    for e in range(1, epochs + 1):
        history.append({
            "epoch": e, "loss": 2.0 / e, "accuracy": train_acc * e / epochs,
            "test_loss": 2.1 / e + (0.05 * e if e > 2 else 0.0), "test_accuracy": test_acc * e / epochs,
            "seconds": 1.5,
        })
    metrics = {
        "experiment": name, "profile": "smoke", "epochs": epochs, "batch_size": 128, "seed": seed,
        "train_size": 1000, "test_size": 500, "train_accuracy": train_acc, "train_loss": 0.9,
        "test_accuracy": test_acc, "test_loss": 1.1, "train_seconds": 4.5, "resumed_from_epoch": 0,
        "params": 39882 if cfg["model"] == "baseline" else 479434,
        "environment": {"python": "3.11", "keras": "3", "backend": "tensorflow", "backend_version": "2",
                        "devices": ["cpu"], "machine": "x86_64", "cpu_count": 2},
        "data_fingerprint": "sha256:" + "ab" * 32, "data_source": "fixture", "config_hash": config.config_hash(cfg),
        "code_hash": "c0de", "run_key": f"{name}-{seed}",
    }
    return metrics, history


def fake_results(accuracies: dict[str, list[tuple[float, float]]]) -> dict:
    """{experiment: [(test_acc, train_acc) per seed]} -> published results dict."""
    results = {}
    for name, per_seed in accuracies.items():
        runs, hists = [], []
        for i, (test_acc, train_acc) in enumerate(per_seed):
            m, h = fake_run_metrics(name, 1234 + i, test_acc, train_acc)
            runs.append(m)
            hists.append(h)
        metrics, mean_history = pipeline.aggregate(runs, hists, config.resolve(name, "smoke"))
        metrics["history"] = {c: [row[c] for row in mean_history] for c in ("epoch", *pipeline.CURVES)}
        metrics["history_std"] = {c: [row[f"{c}_std"] for row in mean_history] for c in pipeline.CURVES}
        results[name] = metrics
    return results


@pytest.fixture
def results_one_seed():
    return fake_results({
        "baseline": [(0.60, 0.75)], "aug_flip": [(0.63, 0.70)], "aug_shift": [(0.64, 0.68)],
        "aug_strong": [(0.61, 0.64)], "vgg": [(0.78, 0.90)], "vgg_aug": [(0.82, 0.86)],
    })


@pytest.fixture
def results_three_seeds():
    return fake_results({
        "baseline": [(0.600, 0.75), (0.605, 0.76), (0.598, 0.74)],
        "aug_flip": [(0.630, 0.70), (0.634, 0.71), (0.628, 0.70)],
        "aug_shift": [(0.640, 0.68), (0.646, 0.69), (0.641, 0.68)],
        "aug_strong": [(0.610, 0.64), (0.590, 0.65), (0.630, 0.63)],
        "vgg": [(0.780, 0.90), (0.785, 0.91), (0.779, 0.90)],
        "vgg_aug": [(0.820, 0.86), (0.825, 0.87), (0.818, 0.86)],
    })


def write_image_folder_archive(path: Path, per_class_train: int = 100, per_class_test: int = 50, seed: int = 0) -> Path:
    """A tiny CIFAR-10-shaped image-folder .tar.gz (PNG, 32x32 RGB, class-dependent colour)."""
    from PIL import Image

    from experiments.data import CLASS_NAMES

    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("train", per_class_train), ("test", per_class_test)):
            for label, cls in enumerate(CLASS_NAMES):
                for i in range(n):
                    base = np.array([25 * label, 255 - 25 * label, (70 * label) % 256], dtype=np.int16)
                    img = np.clip(base + rng.integers(-40, 40, size=(32, 32, 3)), 0, 255).astype(np.uint8)
                    buf = io.BytesIO()
                    Image.fromarray(img).save(buf, format="PNG")
                    info = tarfile.TarInfo(f"tiny-cifar/{split}/{cls}/{i:04d}.png")
                    info.size = buf.tell()
                    buf.seek(0)
                    tar.addfile(info, buf)
    return path


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory) -> Path:
    return write_image_folder_archive(tmp_path_factory.mktemp("data") / "tiny-cifar.tar.gz")


@pytest.fixture(scope="session", autouse=True)
def calibration_cache(tmp_path_factory):
    """A calibration for this machine, so that test builds print their plan without
    spending a minute measuring (a real calibration runs in CI's smoke build)."""
    folder = tmp_path_factory.mktemp("pw09-cache")
    rates = {probe: {"train_images_per_s": 200.0, "eval_images_per_s": 1000.0, "startup_s": 2.0}
             for probe in estimate.PROBES}
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    (folder / "calibration.json").write_text(json.dumps({estimate.machine_key(b): rates
                                                      for b in {backend, "tensorflow", "torch", "jax"}}))
    os.environ["PW09_CACHE"] = str(folder)
    return folder
