"""End to end: `invoke all --profile smoke` on a tiny fixture archive, then a no-op
rebuild and a single-experiment rerun. Trains for real (tiny), about two minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ["baseline", "aug_flip", "aug_shift", "aug_strong", "vgg", "vgg_aug"]


def invoke(args, build: Path, dist: Path, timeout=900):
    env = dict(os.environ, PW09_BUILD_DIR=str(build), PW09_DIST_DIR=str(dist))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    proc.seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def smoke_build(tmp_path_factory, tiny_archive):
    build, dist = tmp_path_factory.mktemp("build"), tmp_path_factory.mktemp("dist")
    first = invoke(["all", "--profile", "smoke", "--data", str(tiny_archive), "--strict"], build, dist)
    return build, dist, tiny_archive, first


@pytest.mark.slow
def test_all_artifacts_exist(smoke_build):
    build, dist, _, first = smoke_build
    for name in EXPERIMENTS:
        folder = build / "results" / name
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["experiment"] == name and metrics["profile"] == "smoke"
        assert metrics["data_fingerprint"].startswith("sha256:")
        assert 0.0 <= metrics["test_accuracy"] <= 1.0
        rows = (folder / "history.csv").read_text().strip().splitlines()
        assert len(rows) == 1 + metrics["epochs"]
        assert (folder / "model.keras").stat().st_size > 10_000
        assert f"Training {name} " in first.stdout
    assert (build / "report" / "report.html").stat().st_size > 10_000
    assert (build / "report" / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert list((build / "figures").glob("*.png"))


@pytest.mark.slow
def test_model_loads_with_plain_keras(smoke_build):
    build = smoke_build[0]
    code = ("import keras, sys; m = keras.models.load_model(sys.argv[1]); "
            "assert m.output_shape == (None, 10), m.output_shape")
    subprocess.run([sys.executable, "-c", code, str(build / "results" / "baseline" / "model.keras")],
                   check=True, timeout=120)


@pytest.mark.slow
def test_pdf_holds_the_headings_and_the_measured_accuracy(smoke_build):
    from pypdf import PdfReader

    from experiments.formats import pct

    build = smoke_build[0]
    text = " ".join(page.extract_text() for page in PdfReader(build / "report" / "report.pdf").pages)
    text = " ".join(text.split())
    for heading in ("Data augmentation", "Visualisation of activations", "Deeper models",
                    "Inception-v4", "Review questions"):
        assert heading in text
    baseline = json.loads((build / "results" / "baseline" / "metrics.json").read_text())
    assert pct(baseline["test_accuracy"]) in text


@pytest.mark.slow
def test_zip_holds_report_and_sources_only(smoke_build):
    _, dist, _, _ = smoke_build
    with zipfile.ZipFile(dist / "pw09-submission.zip") as zf:
        names = zf.namelist()
    assert "report/report.pdf" in names and "report/report.html" in names
    assert any(n.startswith("report/figures/") and n.endswith(".png") for n in names)
    for required in ("source/tasks.py", "source/pyproject.toml", "source/README.md",
                     "source/experiments/train.py", "source/templates/report.html.j2",
                     "source/report_src/ex1_augmentation.md"):
        assert required in names
    for n in names:
        assert not n.startswith("/") and ".." not in n.split("/")
        assert not n.endswith((".keras", ".npz", ".tar.gz", ".pyc")) and ".git/" not in n


@pytest.mark.slow
def test_second_run_trains_nothing_and_single_experiment_reruns_alone(smoke_build):
    build, dist, archive, _ = smoke_build
    stamp = {n: (build / "results" / n / "metrics.json").stat().st_mtime_ns for n in EXPERIMENTS}
    again = invoke(["all", "--profile", "smoke", "--data", str(archive)], build, dist)
    assert "Training" not in again.stdout and "all 6 cached" in again.stdout
    assert again.seconds < 30, again.seconds
    assert stamp == {n: (build / "results" / n / "metrics.json").stat().st_mtime_ns for n in EXPERIMENTS}

    rerun = invoke(["experiment", "--name", "vgg_aug", "--profile", "smoke", "--data", str(archive)], build, dist)
    trained = [line for line in rerun.stdout.splitlines() if line.startswith("Training ")]
    assert len(trained) == 1 and trained[0].startswith("Training vgg_aug ")
    after = {n: (build / "results" / n / "metrics.json").stat().st_mtime_ns for n in EXPERIMENTS}
    assert all(after[n] == stamp[n] for n in EXPERIMENTS if n != "vgg_aug")
    assert after["vgg_aug"] != stamp["vgg_aug"]
