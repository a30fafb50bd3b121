"""The same experiments on other Keras backends: the smoke baseline, end to end through
`invoke experiment`, under KERAS_BACKEND=torch (and jax where it is installed).

CI installs the CPU build of PyTorch with the `torch` extra: pip install -e ".[test,torch]".
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from experiments.estimate import PROBES


def _smoke_baseline(backend: str, tmp_path: Path, archive: Path) -> dict:
    build, dist = tmp_path / "build", tmp_path / "dist"
    env = dict(os.environ, KERAS_BACKEND=backend, PW09_BUILD_DIR=str(build), PW09_DIST_DIR=str(dist),
               PW09_DATA=str(archive))
    proc = subprocess.run([sys.executable, "-m", "invoke", "experiment", "--name", "baseline", "--profile", "smoke"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((build / "results" / "baseline" / "metrics.json").read_text())
    # The saved model loads back on the same backend and predicts ten class probabilities.
    check = ("import sys, numpy as np, keras; m = keras.models.load_model(sys.argv[1]); "
             "p = keras.ops.convert_to_numpy(m(np.zeros((2, 32, 32, 3), 'float32'))); "
             "assert p.shape == (2, 10) and np.allclose(p.sum(1), 1, atol=1e-4), p; print(keras.backend.backend())")
    loaded = subprocess.run([sys.executable, "-c", check, str(build / "results" / "baseline" / "model.keras")],
                            env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip().splitlines()[-1] == backend
    assert (build / "report" / "report.pdf").read_bytes()[:5] == b"%PDF-"
    return metrics


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason='PyTorch is not installed; CI installs it with pip install -e ".[test,torch]"')
def test_smoke_baseline_on_torch(tmp_path, tiny_archive):
    metrics = _smoke_baseline("torch", tmp_path, tiny_archive)
    (env,) = metrics["environments"]  # one machine trained it
    assert env["backend"] == "torch" and env["backend_version"].startswith("2.")
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["epochs"] == 2
    assert 0.0 <= metrics["test_accuracy_mirror"] <= 1.0  # mirrored test images reach PyTorch too


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install jax)")
def test_smoke_baseline_on_jax(tmp_path, tiny_archive):
    metrics = _smoke_baseline("jax", tmp_path, tiny_archive)
    assert [env["backend"] for env in metrics["environments"]] == ["jax"]
    assert 0.0 <= metrics["test_accuracy"] <= 1.0


# --- the precision policy: mixed bfloat16 where measured faster -------------------------


def _rates(**train_images_per_s):
    """A calibration table: policy -> the same rate for every probe."""
    return {policy: {probe: {"train_images_per_s": rate, "eval_images_per_s": 1.0} for probe in PROBES}
            for policy, rate in train_images_per_s.items()}


@pytest.mark.parametrize("measured, expected", [
    ({"mixed_bfloat16": 150.0, "float32": 100.0}, "mixed_bfloat16"),  # e.g. the Zen 4: 1.5x
    ({"mixed_bfloat16": 67.0, "float32": 100.0}, "float32"),          # e.g. the AVX512_BF16 Xeon: 0.67x
    ({"float32": 100.0}, "float32"),                                  # mixed not measured: no guess
])
def test_mixed_precision_is_the_measured_faster_policy(measured, expected):
    from experiments import config, train

    cfg = config.resolve("vgg", "smoke")  # the default allows mixed precision
    assert train.precision_policy(cfg, rates=_rates(**measured)) == expected
    # --no-mixed-precision: float32 whatever was measured
    f32 = config.resolve("vgg", "smoke", {"mixed_precision": False})
    assert train.precision_policy(f32, rates=_rates(**measured)) == "float32"
