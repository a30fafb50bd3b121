"""Shared fixtures: fake results in the exact format the build publishes (no training),
and a tiny CIFAR-shaped image-folder archive for end-to-end runs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from experiments import config, estimate
from experiments.results import aggregate
from experiments.runs import CURVES

ROOT = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


def fake_run_metrics(name: str, seed: int, test_acc: float, train_acc: float, epochs: int = 3,
                     profile: str = "smoke", mirror_gain: float | None = None) -> tuple[dict, list[dict]]:
    """One seed's metrics.json and history rows, as train.train_run writes them. Mirror
    averaging adds `mirror_gain` to the test accuracy (by default 0.7-0.9 points, by seed)."""
    if mirror_gain is None:
        mirror_gain = 0.007 + 0.001 * ((seed - 1234) % 3)
    cfg = config.resolve(name, profile)
    history = []
    # The test loss of a net that overfits (train well above test) turns up after 2/3 of the epochs.
    turn = max(2, (2 * epochs) // 3) if train_acc - test_acc > 0.04 else epochs
    for e in range(1, epochs + 1):
        history.append({
            "epoch": e, "loss": 2.0 / e, "accuracy": train_acc * e / epochs,
            "test_loss": 2.1 / e + (0.05 * (e - turn) if e > turn else 0.0), "test_accuracy": test_acc * e / epochs,
            "seconds": 1.5,
        })
    full = profile == "full"
    metrics = {
        "experiment": name, "profile": profile, "epochs": epochs, "batch_size": cfg["batch_size"], "seed": seed,
        "train_size": 50000 if full else 1000, "test_size": 10000 if full else 500,
        "train_accuracy": train_acc, "train_loss": 0.9,
        "test_accuracy": test_acc, "test_loss": 1.1, "test_accuracy_mirror": test_acc + mirror_gain,
        "train_seconds": 4.5, "resumed_from_epoch": 0,
        "params": 39882 if cfg["model"] == "baseline" else 479434,
        "environment": {"python": "3.11", "keras": "3", "backend": "tensorflow", "backend_version": "2",
                        "devices": ["cpu"], "machine": "x86_64", "cpu_model": "Test CPU 9000",
                        "cpu_count": 2},
        "data_fingerprint": "sha256:" + "ab" * 32, "data_source": "fixture", "config_hash": config.config_hash(cfg),
        "code_hash": "c0de", "run_key": f"{name}-{seed}",
    }
    return metrics, history


def fake_results(accuracies: dict[str, list[tuple[float, float]]], profile: str = "smoke") -> dict:
    """{experiment: [(test_acc, train_acc[, mirror_gain]) per seed]} -> published results dict."""
    results = {}
    for name, per_seed in accuracies.items():
        runs, hists = [], []
        epochs = config.resolve(name, profile)["epochs"] if profile == "full" else 3
        for i, (test_acc, train_acc, *gain) in enumerate(per_seed):
            m, h = fake_run_metrics(name, 1234 + i, test_acc, train_acc, epochs, profile, *gain)
            runs.append(m)
            hists.append(h)
        metrics, mean_history = aggregate(runs, hists, config.resolve(name, profile))
        metrics["history"] = {c: [row[c] for row in mean_history] for c in ("epoch", *CURVES)}
        metrics["history_std"] = {c: [row[f"{c}_std"] for row in mean_history] for c in CURVES}
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


# Shaped like a full build (the "done when"): 3 seeds, baseline near 69 %, VGG near
# 85 %, augmentation moving test accuracy by 1-2 points and shrinking the gap from ~7 to 1-2.
FULL_ACCURACIES = {
    "baseline": [(0.688, 0.760), (0.693, 0.762), (0.685, 0.757)],
    "aug_flip": [(0.703, 0.722), (0.706, 0.726), (0.698, 0.717)],
    "aug_shift": [(0.709, 0.722), (0.700, 0.716), (0.706, 0.719)],
    "aug_strong": [(0.689, 0.700), (0.696, 0.702), (0.679, 0.698)],
    "vgg": [(0.848, 0.930), (0.852, 0.934), (0.846, 0.927)],
    "vgg_aug": [(0.861, 0.890), (0.866, 0.893), (0.858, 0.887)],
}


@pytest.fixture
def results_full():
    return fake_results(FULL_ACCURACIES, profile="full")


def fake_analysis(results: dict) -> dict:
    """The analysis step's artifacts in the agreed format (per class, layers, totals, inputs)."""
    from experiments.data import CLASS_NAMES

    models = [m for m in ("baseline", "aug_shift", "vgg_aug") if m in results]
    per_class = {}
    for k, exp in enumerate(models):
        base = results[exp]["test_accuracy"]
        acc = [min(0.99, max(0.3, base + d)) for d in (0.06, 0.09, -0.12, -0.18, -0.04, -0.08, 0.08, 0.04, 0.1, 0.05)]
        conf = [[0] * 10 for _ in range(10)]
        for i in range(10):
            conf[i][i] = int(1000 * acc[i])
            conf[i][(i + 2) % 10] = 1000 - conf[i][i]
        per_class[exp] = {
            "classes": list(CLASS_NAMES), "accuracy": acc, "confusion": conf,
            "most_confused": [{"true": "cat", "pred": "dog", "count": 180 - 30 * k, "share": 0.18 - 0.03 * k},
                              {"true": "dog", "pred": "cat", "count": 120 - 20 * k, "share": 0.12 - 0.02 * k},
                              {"true": "truck", "pred": "automobile", "count": 70, "share": 0.07}],
            "best_class": CLASS_NAMES[acc.index(max(acc))], "worst_class": CLASS_NAMES[acc.index(min(acc))],
        }

    def row(name, kind, shape, params, nt, rf, macs):
        return {"name": name, "type": kind, "output_shape": shape, "params": params, "trainable": params - nt,
                "non_trainable": nt, "receptive_field": rf, "macs": macs}

    baseline = [row("conv1", "conv", "32×32×32", 896, 0, 3, 884736), row("relu1", "relu", "32×32×32", 0, 0, 3, 0),
                row("conv2", "conv", "32×32×32", 9248, 0, 5, 9437184), row("relu2", "relu", "32×32×32", 0, 0, 5, 0),
                row("pool1", "pool", "16×16×32", 0, 0, 6, 0), row("conv3", "conv", "16×16×32", 9248, 0, 10, 2359296),
                row("relu3", "relu", "16×16×32", 0, 0, 10, 0), row("pool2", "pool", "8×8×32", 0, 0, 12, 0),
                row("flatten", "flatten", "2048", 0, 0, None, 0), row("dense", "dense", "10", 20490, 0, None, 20480)]
    vgg = [row("conv1_1", "conv", "32×32×64", 1792, 0, 3, 1769472), row("bn1_1", "bn", "32×32×64", 256, 128, 3, 0),
           row("pool4", "pool", "2×2×64", 0, 0, 106, 0), row("dense", "dense", "256", 65792, 0, None, 65536),
           row("out", "dense", "10", 2570, 0, None, 2560)]
    return {
        "models": models, "per_class": per_class, "layers": {"baseline": baseline, "vgg": vgg},
        "totals": {"baseline": {"trainable": 39882, "non_trainable": 0, "macs": 12702208},
                   "vgg": {"trainable": 477898, "non_trainable": 1536, "macs": 38000000}},
        "inception": {"stages": [], "paper_results": [
            {"model": "Inception-v3", "top1": 21.2, "top5": 5.6, "table": "Table 2"},
            {"model": "Inception-v4", "top1": 20.0, "top5": 5.0, "table": "Table 2"}]},
        "inputs": {"official_order": False, "images": [{"index": 12, "class": "horse"}, {"index": 3, "class": "ship"}]},
    }


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


def calibration_table(train_images_per_s: dict, backends=("tensorflow",)) -> dict:
    """A calibration cache's contents: every probe at the given training rate per policy."""
    return {estimate.machine_key(b, policy): {
        probe: {"train_images_per_s": rate, "eval_images_per_s": 5 * rate, "startup_s": 2.0,
                **estimate.conditions(model)} for probe, (model, _) in estimate.PROBES.items()}
            for b in backends for policy, rate in train_images_per_s.items()}


@pytest.fixture(scope="session", autouse=True)
def calibration_cache(tmp_path_factory):
    """A calibration for this machine, so that test builds print their plan without
    spending a minute measuring (test_estimate measures for real, once). Mixed precision
    is slower in it, so test builds train in float32 unless a test says otherwise."""
    folder = tmp_path_factory.mktemp("pw09-cache")
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    (folder / "calibration.json").write_text(json.dumps(calibration_table(
        {"float32": 200.0, estimate.MIXED: 100.0}, backends={backend, "tensorflow", "torch", "jax"})))
    os.environ["PW09_CACHE"] = str(folder)
    return folder


def invoke(args: list[str], build: Path | None = None, dist: Path | None = None, timeout: int = 900,
           **env: str) -> subprocess.CompletedProcess:
    """`python -m invoke ARGS` in the checkout, with the build and dist folders given (and
    any other environment variables); its wall time is in `.seconds`. Not checked: see ok()."""
    env = dict(os.environ, **env)
    if build is not None:
        env["PW09_BUILD_DIR"] = str(build)
    if dist is not None:
        env["PW09_DIST_DIR"] = str(dist)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    proc.seconds = time.perf_counter() - t0
    return proc


@dataclass(frozen=True)
class SmokeProject:
    """A finished `invoke all --profile smoke` of the tiny archive: every run, result,
    figure, the report and the zip, and the first build's output."""
    build: Path
    dist: Path
    archive: Path
    first: subprocess.CompletedProcess

    def copy(self, folder: Path) -> "SmokeProject":
        """A copy in `folder` to change freely (a copied build keeps its stamps, so it is up to date)."""
        shutil.copytree(self.build, folder / "build", symlinks=True)
        shutil.copytree(self.dist, folder / "dist", symlinks=True)
        return SmokeProject(folder / "build", folder / "dist", self.archive, self.first)

    def invoke(self, *args: str, timeout: int = 900, **env: str) -> subprocess.CompletedProcess:
        """`invoke ARGS --profile smoke --data ARCHIVE` in this project's folders, checked."""
        return ok(invoke([*args, "--profile", "smoke", "--data", str(self.archive)], self.build, self.dist,
                         timeout=timeout, **env))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist's `--dist loadgroup` a worker runs whole groups. Every test that
    reads the shared smoke build (directly, or through `smoke_copy`) is one group, run
    first, so that the build is made once; every other test goes with its file, so that a
    file's module-scoped fixtures are made once too."""
    def group(item):
        return "smoke_project" if "smoke_project" in getattr(item, "fixturenames", ()) else item.path.name

    items.sort(key=lambda item: group(item) != "smoke_project")  # stable: files keep their order
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group(item)))


@pytest.fixture(scope="session")
def smoke_project(tmp_path_factory, tiny_archive) -> SmokeProject:
    """One real smoke build (it trains, a few minutes), shared by the whole test run.
    Read it, never change it: a test that changes a build works on `smoke_copy`."""
    folder = tmp_path_factory.mktemp("smoke-project")
    first = ok(invoke(["all", "--profile", "smoke", "--data", str(tiny_archive)], folder / "build", folder / "dist",
                      timeout=1800))
    return SmokeProject(folder / "build", folder / "dist", tiny_archive, first)


@pytest.fixture
def smoke_copy(smoke_project, tmp_path) -> SmokeProject:
    """A private copy of the shared smoke build."""
    return smoke_project.copy(tmp_path)


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under `folders` by its sha256: compare two to see that nothing changed."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """A command that must have succeeded (its output tail on failure)."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a failed command, with no traceback."""
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]
