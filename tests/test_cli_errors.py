"""Every bad input through the real command line: one `error:` line that names the problem
and the fix, a non-zero exit code, no traceback, and nothing already built touched.

Each case runs `python -m invoke ...` in a subprocess against a temporary build folder
that already holds "built" files (results, report, zip); none of these commands gets as
far as importing TensorFlow, so each takes about a second.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from experiments.config import EXPERIMENTS, PROFILES
from experiments.data import CLASS_NAMES

import conftest
from conftest import ROOT, snapshot


def cli(args: list[str], build: Path, dist: Path, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "PW09_DATA"}
    full_env.update(PW09_BUILD_DIR=str(build), PW09_DIST_DIR=str(dist), KERAS_HOME=str(build.parent / "keras"), **env)
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a failed command, which says what is wrong; what to do."""
    line = conftest.error_line(proc)
    assert "; " in line and line.endswith("."), line  # what is wrong; what to do.
    return line


@pytest.fixture
def built(tmp_path):
    """A build folder and a dist folder holding earlier results, as a finished build would."""
    build, dist = tmp_path / "build", tmp_path / "dist"
    for rel, content in {
        "results/baseline/metrics.json": b'{"experiment": "baseline"}\n',
        "results/baseline/history.csv": b"epoch,loss\n1,2.0\n",
        "results/baseline/model.keras": b"weights",
        "report/report.html": b"<html>earlier report</html>",
        "report/report.pdf": b"%PDF-1.7 earlier",
    }.items():
        (build / rel).parent.mkdir(parents=True, exist_ok=True)
        (build / rel).write_bytes(content)
    dist.mkdir()
    (dist / "pw09-submission.zip").write_bytes(b"PK earlier zip")
    before = snapshot(build, dist)
    yield build, dist
    after = snapshot(build, dist)
    assert {k: v for k, v in after.items() if k in before} == before, "a bad input changed what was built"


# --- data builders -----------------------------------------------------------------------


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def image_archive(path: Path, skip: tuple[str, str] | None = None,
                  odd: dict[tuple[str, str], np.ndarray] | None = None) -> Path:
    """A small image-folder .tar.gz; `skip` leaves out one (split, class), `odd` replaces
    the first image of a (split, class) by another array."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for cls in CLASS_NAMES:
                if (split, cls) == skip:
                    continue
                for i in range(2):
                    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                    if i == 0 and odd and (split, cls) in odd:
                        image = odd[split, cls]
                    data = _png(image)
                    info = tarfile.TarInfo(f"cifar/{split}/{cls}/{i:03d}.png")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return path


def official_folder(root: Path, bad: str | None = None) -> Path:
    """An official-layout cifar-10-batches-py/ with tiny batches, optionally broken."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)

    def batch(n, labels=None):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        return {b"data": data, b"labels": [int(x) for x in (labels if labels is not None else np.arange(n) % 10)]}

    for i in range(1, 6):
        b = batch(10)
        if bad == "shape" and i == 2:
            b[b"data"] = b[b"data"][:, :3000]
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(b, protocol=4))
    test = batch(10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 12] if bad == "labels" else None)
    (folder / "test_batch").write_bytes(pickle.dumps(test, protocol=4))
    meta = {b"label_names": [c.encode() for c in CLASS_NAMES]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=4))
    return folder


# --- names and profiles -------------------------------------------------------------------


def test_unknown_experiment_lists_the_valid_ones(built):
    line = error_line(cli(["experiment", "--name", "resnet", "--profile", "smoke"], *built))
    assert "unknown experiment 'resnet'" in line
    for name in EXPERIMENTS:
        assert name in line


@pytest.mark.parametrize("name", ["../baseline", "baseline/../vgg", "runs/baseline", "..", "/etc/passwd"])
def test_experiment_name_with_path_parts_is_refused(built, name):
    line = error_line(cli(["experiment", "--name", name, "--profile", "smoke"], *built))
    assert f"unknown experiment {name!r}" in line and "choose one of: baseline" in line
    line = error_line(cli(["visualize", "--experiment", name, "--profile", "smoke"], *built))
    assert f"unknown experiment {name!r}" in line
    assert not (built[0] / "runs").exists() and not (built[0].parent / "runs").exists()


@pytest.mark.parametrize("command", [["all"], ["list"], ["report"], ["experiment", "--name", "baseline"]])
def test_unknown_profile(built, command):
    line = error_line(cli([*command, "--profile", "huge"], *built))
    assert "unknown profile 'huge'" in line
    for profile in PROFILES:
        assert profile in line


def test_bad_seed_count(built):
    assert "--seeds must be at least 1" in error_line(cli(["all", "--profile", "smoke", "--seeds", "0"], *built))


# --- data ----------------------------------------------------------------------------------


def test_data_path_that_does_not_exist(built, tmp_path):
    missing = tmp_path / "nowhere" / "cifar.tar.gz"
    line = error_line(cli(["all", "--profile", "smoke", "--data", str(missing)], *built))
    assert f"the data source {missing} does not exist" in line and "--data PATH" in line
    # the same through the environment variable
    proc = cli(["experiment", "--name", "baseline", "--profile", "smoke"], *built, PW09_DATA=str(missing))
    assert "does not exist" in error_line(proc)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_truncated_or_corrupt_archive(built, tmp_path, damage):
    good = image_archive(tmp_path / "good.tar.gz").read_bytes()
    bad = tmp_path / "cifar.tar.gz"
    bad.write_bytes(good[: len(good) * 2 // 3] if damage == "truncated" else b"\x1f\x8b" + os.urandom(2000))
    line = error_line(cli(["all", "--profile", "smoke", "--data", str(bad)], *built))
    assert f"the archive {bad} is truncated or corrupt" in line and "copy or download it again" in line
    line = error_line(cli(["experiment", "--name", "baseline", "--profile", "smoke", "--data", str(bad)], *built))
    assert "truncated or corrupt" in line


@pytest.mark.parametrize("as_folder", [False, True])
def test_image_folder_missing_a_class(built, tmp_path, as_folder):
    archive = image_archive(tmp_path / "cifar.tar.gz", skip=("test", "frog"))
    source = archive
    if as_folder:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp_path / "tree", filter="data")
        source = tmp_path / "tree" / "cifar"
    line = error_line(cli(["all", "--profile", "smoke", "--data", str(source)], *built))
    assert "no images of class frog in test/frog/" in line and "all ten classes" in line


@pytest.mark.parametrize("odd, shown", [
    (np.zeros((32, 33, 3), np.uint8), "33x32 RGB"),
    (np.zeros((32, 32), np.uint8), "32x32 L"),
    (np.zeros((32, 32, 4), np.uint8), "32x32 RGBA"),
])
def test_image_that_is_not_32x32_rgb(built, tmp_path, odd, shown):
    archive = image_archive(tmp_path / "cifar.tar.gz", odd={("train", "ship"): odd})
    line = error_line(cli(["all", "--profile", "smoke", "--data", str(archive)], *built))
    assert "train/ship/000.png" in line and f"is {shown}, not 32x32 RGB" in line and "re-export or remove it" in line


@pytest.mark.parametrize("bad, expected", [
    ("shape", "data_batch_2 is not a CIFAR-10 batch"),
    ("labels", "test_batch has labels from 0 to 12, outside CIFAR-10's 0..9"),
])
def test_official_batches_with_wrong_shapes_or_labels(built, tmp_path, bad, expected):
    folder = official_folder(tmp_path / "official", bad)
    line = error_line(cli(["all", "--profile", "smoke", "--data", str(folder)], *built))
    assert expected in line
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    assert expected.split(" ", 1)[1] in error_line(cli(["all", "--profile", "smoke", "--data", str(archive)], *built))


# --- output folders ---------------------------------------------------------------------------


def test_build_folder_below_a_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    archive = image_archive(tmp_path / "cifar.tar.gz")
    for command in (["all"], ["list"], ["report"], ["experiment", "--name", "baseline"]):
        proc = cli([*command, "--profile", "smoke", "--data", str(archive)], blocker / "build", tmp_path / "dist")
        line = error_line(proc)
        assert f"cannot create the output folder {blocker / 'build'}" in line and "writable location" in line
    assert blocker.read_text() == "not a folder"


def test_build_folder_that_cannot_be_created(tmp_path):
    """/proc refuses new folders even to root (chmod would not stop root)."""
    archive = image_archive(tmp_path / "cifar.tar.gz")
    proc = cli(["all", "--profile", "smoke", "--data", str(archive)], Path("/proc/pw09-test/build"), tmp_path / "dist")
    assert "cannot create the output folder /proc/pw09-test/build" in error_line(proc)


def test_dist_folder_not_writable_is_caught_before_training(built, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    archive = image_archive(tmp_path / "cifar.tar.gz")
    proc = cli(["all", "--profile", "smoke", "--data", str(archive)], built[0], blocker / "dist")
    assert f"cannot create the output folder {blocker / 'dist'}" in error_line(proc)
    assert "Training" not in proc.stdout


def test_a_reader_that_stops_early_ends_the_listing_quietly(tmp_path):
    # `invoke list | head -3`: the reader goes away before the listing is written.
    env = dict(os.environ, PW09_BUILD_DIR=str(tmp_path / "build"), PW09_DIST_DIR=str(tmp_path / "dist"))
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "list", "--profile", "smoke"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=300)
    assert "Traceback" not in err.decode() and "BrokenPipeError" not in err.decode(), err.decode()[-3000:]
    assert proc.returncode == 141  # as a Unix tool stopped by SIGPIPE: the listing did not all arrive
