"""End to end: the shared smoke build of a tiny fixture archive (conftest's
`smoke_project`), then `--strict`, a no-op rebuild and a single-experiment rerun on a copy."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

EXPERIMENTS = ["baseline", "aug_flip", "aug_shift", "aug_strong", "vgg", "vgg_aug"]


@pytest.mark.slow
def test_all_artifacts_exist(smoke_project):
    build, first = smoke_project.build, smoke_project.first
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
def test_model_loads_with_plain_keras(smoke_project):
    build = smoke_project.build
    code = ("import keras, sys; m = keras.models.load_model(sys.argv[1]); "
            "assert m.output_shape == (None, 10), m.output_shape")
    subprocess.run([sys.executable, "-c", code, str(build / "results" / "baseline" / "model.keras")],
                   check=True, timeout=120)


@pytest.mark.slow
def test_pdf_holds_the_headings_and_the_measured_accuracy(smoke_project):
    from pypdf import PdfReader

    from experiments.formats import pct

    build = smoke_project.build
    text = " ".join(page.extract_text() for page in PdfReader(build / "report" / "report.pdf").pages)
    text = " ".join(text.split())
    for heading in ("Data augmentation", "Visualisation of activations", "Deeper models",
                    "Inception-v4", "Review questions"):
        assert heading in text
    baseline = json.loads((build / "results" / "baseline" / "metrics.json").read_text())
    assert pct(baseline["test_accuracy"]) in text


@pytest.mark.slow
def test_zip_holds_report_and_sources_only(smoke_project):
    dist = smoke_project.dist
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
def test_strict_smoke_build_passes_without_training(smoke_copy):
    out = smoke_copy.invoke("all", "--strict").stdout
    assert "Training" not in out and "all 6 cached" in out, out


@pytest.mark.slow
def test_second_run_trains_nothing_and_single_experiment_reruns_alone(smoke_copy):
    build = smoke_copy.build
    stamp = {n: (build / "results" / n / "metrics.json").stat().st_mtime_ns for n in EXPERIMENTS}
    again = smoke_copy.invoke("all")
    assert "Training" not in again.stdout and "all 6 cached" in again.stdout
    assert again.seconds < 30, again.seconds
    assert stamp == {n: (build / "results" / n / "metrics.json").stat().st_mtime_ns for n in EXPERIMENTS}

    rerun = smoke_copy.invoke("experiment", "--name", "vgg_aug")
    trained = [line for line in rerun.stdout.splitlines() if line.startswith("Training ")]
    assert len(trained) == 1 and trained[0].startswith("Training vgg_aug ")
    after = {n: (build / "results" / n / "metrics.json").stat().st_mtime_ns for n in EXPERIMENTS}
    assert all(after[n] == stamp[n] for n in EXPERIMENTS if n != "vgg_aug")
    assert after["vgg_aug"] != stamp["vgg_aug"]
