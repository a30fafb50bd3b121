"""`invoke bench` and the build's cached paths: a no-op `invoke all` that never imports
TensorFlow, and the benchmark's smoke mode end to end (plus its pure helpers)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import bench

ROOT = Path(__file__).resolve().parents[1]


def _env(build: Path, dist: Path, data: Path) -> dict:
    return dict(os.environ, PW09_BUILD_DIR=str(build), PW09_DIST_DIR=str(dist), PW09_DATA=str(data))


@pytest.fixture(scope="module")
def cached_build(tmp_path_factory, tiny_archive):
    """A complete smoke build of the tiny fixture archive (trains for real, ~2 min)."""
    build, dist = tmp_path_factory.mktemp("bench-build"), tmp_path_factory.mktemp("bench-dist")
    env = _env(build, dist, tiny_archive)
    proc = subprocess.run([sys.executable, "-m", "invoke", "all", "--profile", "smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return build, dist, tiny_archive


# --- the no-op build --------------------------------------------------------------------


@pytest.mark.slow
def test_noop_all_never_imports_tensorflow_and_is_fast(cached_build):
    build, dist, archive = cached_build
    env = _env(build, dist, archive)
    bench.run_invoke(["all", "--profile", "smoke"], env)  # settles anything the first build left
    runs = [bench.run_invoke(["all", "--profile", "smoke"], env) for _ in range(3)]
    for run in runs:
        assert "tensorflow" not in run["imported"] and "keras" not in run["imported"], run["imported"]
        assert any("all 6 cached" in line for line in run["stdout_tail"]), run["stdout_tail"]
        assert "Report: up to date" in run["stdout_tail"]
    # The target is 3 s (about 0.4 s measured on a 2-core CPU); 10 s tolerates a loaded CI machine.
    assert min(r["wall_s"] for r in runs) < 10, [r["wall_s"] for r in runs]


@pytest.mark.slow
def test_listing_imports_no_tensorflow(cached_build):
    build, dist, archive = cached_build
    run = bench.run_invoke(["list", "--profile", "smoke"], _env(build, dist, archive))
    assert "tensorflow" not in run["imported"] and "keras" not in run["imported"]


# --- invoke bench --smoke ------------------------------------------------------------------


@pytest.mark.slow
def test_bench_smoke_writes_positive_ratios(cached_build, tmp_path):
    build, _, archive = cached_build
    out = tmp_path / "bench.json"
    env = _env(tmp_path / "b", tmp_path / "d", archive)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "invoke", "bench", "--smoke", "--build-from", str(build),
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["mode"] == "smoke"
    for key in ("data", "training", "augmentation", "flops", "knobs", "build", "estimate", "section_s"):
        assert key in result, key

    def positive(x):
        return isinstance(x, (int, float)) and math.isfinite(x) and x > 0

    for name in ("baseline", "vgg"):
        t = result["training"][name]
        assert positive(t["plain_images_per_s"]) and positive(t["project_images_per_s"])
        assert positive(t["project_over_plain"]["ratio"])
        assert positive(result["flops"]["models"][name]["achieved_gflops"])
    assert set(result["augmentation"]["strategies"]) == {"flip", "shift", "strong"}
    for s in result["augmentation"]["strategies"].values():
        assert positive(s["augmented_over_plain"]["ratio"])
    assert positive(result["data"]["first_over_cached"])
    assert positive(result["knobs"]["baseline"]["mixed_bfloat16"]["over_float32"]["ratio"])
    b = result["build"]
    assert positive(b["noop_all_s"]) and positive(b["report_from_cache_s"])
    assert b["noop_imports_tensorflow"] is False and b["first_all_trained"] is False
    assert positive(result["estimate"]["quick_profile_s"])
    assert "project / plain throughput" in proc.stdout and "Wrote" in proc.stdout
    print(f"invoke bench --smoke: {seconds:.0f} s, sections {result['section_s']}")


# --- pure helpers ----------------------------------------------------------------------------


def test_count_macs_of_the_baseline_by_hand():
    from experiments import config
    from experiments.models import build_model

    macs = bench.count_macs(build_model(config.resolve("baseline", "smoke"), seed=0))
    conv1 = 32 * 32 * (3 * 3 * 3) * 32
    conv2 = 32 * 32 * (3 * 3 * 32) * 32
    conv3 = 16 * 16 * (3 * 3 * 32) * 32
    dense = 8 * 8 * 32 * 10
    assert macs["per_layer"] == {"conv1": conv1, "conv2": conv2, "conv3": conv3, "classifier": dense}
    assert macs["forward_macs"] == conv1 + conv2 + conv3 + dense
    assert macs["train_macs"] == 3 * macs["forward_macs"] - conv1
    assert macs["train_flop"] == 2 * macs["train_macs"]


def test_count_macs_sees_through_the_augmentation_block():
    from experiments import config
    from experiments.models import build_model

    plain = bench.count_macs(build_model(config.resolve("vgg", "smoke"), seed=0))
    augmented = bench.count_macs(build_model(config.resolve("vgg_aug", "smoke"), seed=0))
    assert plain["forward_macs"] == augmented["forward_macs"] > 100_000_000


def test_cpu_peak_says_how_it_was_derived():
    peak = bench.cpu_peak()
    assert peak["cores"] >= 1 and peak["derivation"]
    if peak["gflops"] is not None:
        assert peak["gflops"] > 0 and str(peak["flop_per_cycle_per_core"]) in peak["derivation"]


def test_clock_times_steps_after_the_warmup_per_epoch():
    clock = bench._Clock(warmup=2)
    # epoch 0: steps at t = 0..4 (1 s each); epoch 1: steps at t = 10..12
    clock.steps = [(0, float(t), t + 1.0) for t in range(5)] + [(1, float(t), t + 1.0) for t in range(10, 13)]
    n, seconds = clock.timed()
    assert n == 3 + 3  # steps 2, 3, 4 of epoch 0 and all of epoch 1
    assert seconds == (5.0 - 2.0) + (13.0 - 10.0)  # the gap between epochs (validation) is not counted


def test_verdicts_against_targets():
    assert bench._verdict("noop_all_s", 0.4).startswith("ok")
    assert bench._verdict("noop_all_s", 3.5).startswith("MISSED")
    assert bench._verdict("augmented_over_plain", 1.10).startswith("ok")
    assert bench._verdict("project_over_plain", 0.97).startswith("MISSED")
    assert bench._verdict("report_from_cache_s", None) == "n/a"


def test_json_has_no_nan():
    assert bench._jsonable({"a": float("nan"), 1: [float("inf"), 2.0]}) == {"a": None, "1": [None, 2.0]}


def test_unknown_section_is_a_user_error(tmp_path):
    from experiments.errors import ConfigError
    from experiments.pipeline import Settings

    with pytest.raises(ConfigError, match="unknown bench section"):
        bench.run_bench(Settings(profile="smoke", build=tmp_path), sections=["warp"], out=tmp_path / "b.json")
