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

from experiments import bench, config, estimate
from experiments.keras_env import keras_backend

from conftest import ROOT


def _env(build: Path, dist: Path, data: Path) -> dict:
    return dict(os.environ, PW09_BUILD_DIR=str(build), PW09_DIST_DIR=str(dist), PW09_DATA=str(data))


@pytest.fixture
def cached_build(smoke_copy):
    """A copy of the shared smoke build (conftest's `smoke_project`)."""
    return smoke_copy.build, smoke_copy.dist, smoke_copy.archive


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
    # The precision and estimate sections read this machine's calibration through
    # `estimate.calibrate`; a cache with known rates (PW09_CACHE) makes them exact and
    # spares a smoke run the minutes of measuring mixed_bfloat16 on a CPU without it.
    rates = {"float32": (400.0, 50.0), "mixed_bfloat16": (200.0, 100.0), "mixed_float16": (800.0, 200.0)}
    def probe(name, base, vgg):  # the plain baseline twice as fast as an augmented one
        rate = vgg if name.startswith("vgg") else base * (2 if name == "baseline" else 1)
        return {"train_images_per_s": rate, "eval_images_per_s": 4 * rate,
                **estimate.conditions(estimate.PROBES[name][0])}

    calibration = {estimate.machine_key(keras_backend(), policy): {
        **{name: probe(name, base, vgg) for name in estimate.PROBES}, "measured": "test"}
        for policy, (base, vgg) in rates.items()}
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "calibration.json").write_text(json.dumps(calibration))
    env = dict(_env(tmp_path / "b", tmp_path / "d", archive), PW09_CACHE=str(tmp_path / "cache"))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "invoke", "bench", "--smoke", "--build-from", str(build),
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["mode"] == "smoke"
    assert set(result["section_s"]) == set(bench.DEFAULT_SECTIONS) and "tta" not in result

    def positive(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0

    for name in ("baseline", "vgg"):
        t = result["training"][name]
        assert positive(t["plain_images_per_s"]) and positive(t["project_images_per_s"])
        assert positive(t["project_over_plain"])
        assert positive(result["flops"]["models"][name]["achieved_gflops"])
    assert set(result["augmentation"]) == {"flip", "shift", "strong"}
    for s in result["augmentation"].values():
        assert positive(s["augmented_over_plain"])
    assert positive(result["data"]["first_over_cached"])
    precision = result["precision"]
    assert precision["cpu_model"] and {"float32", "mixed_bfloat16"} <= set(precision["policies"])
    assert precision["policies"]["float32"]["vgg"] == {"images_per_s": 50.0, "over_float32": 1.0}
    assert precision["policies"]["mixed_bfloat16"]["vgg"]["over_float32"] == 2.0
    assert precision["policies"]["mixed_bfloat16"]["baseline"]["over_float32"] == 0.5
    b = result["build"]
    assert positive(b["noop_all_s"]) and positive(b["report_from_cache_s"])
    assert b["noop_imports_tensorflow"] is False and b["first_all_trained"] is False
    assert precision["accuracy"] == {}  # the smoke build holds no run twice, in float32 and mixed
    est = result["estimate"]
    f32, mixed = (calibration[estimate.machine_key(keras_backend(), p)] for p in estimate.POLICIES)
    for profile in ("quick", "full"):  # the build plan's projection, for every run of the profile's default seeds
        # mixed precision is twice float32's speed for the VGG net here and half of it for the baseline
        assert est[profile]["policies"] == {n: estimate.MIXED if n.startswith("vgg") else "float32"
                                            for n in config.experiment_names()}
        seeds = len(config.seeds_for(profile))
        expected = {n: seeds * estimate.seconds(config.resolve(n, profile), mixed if n.startswith("vgg") else f32)
                    for n in config.experiment_names()}
        assert est[profile]["per_experiment_s"] == pytest.approx(expected)
        assert est[f"{profile}_profile_s"] == pytest.approx(sum(expected.values())) and positive(sum(expected.values()))
        all_f32 = sum(seeds * estimate.seconds(config.resolve(n, profile), f32) for n in config.experiment_names())
        assert est[f"{profile}_profile_float32_s"] == pytest.approx(all_f32) and all_f32 > est[f"{profile}_profile_s"]
    assert "training.vgg.project_over_plain" in proc.stdout and "Wrote" in proc.stdout
    print(f"invoke bench --smoke: {seconds:.0f} s, sections {result['section_s']}")


def test_bad_reps_is_one_sentence_not_a_traceback(tmp_path):
    env = dict(os.environ, PW09_BUILD_DIR=str(tmp_path / "b"))
    for reps in ("three", "0"):
        proc = subprocess.run([sys.executable, "-m", "invoke", "bench", "--smoke", "--reps", reps,
                               "--out", str(tmp_path / "b.json")], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert lines[0].startswith("error: --reps must be a ") and "whole number" in lines[0] and f"{reps!r}" in lines[0] \
            or lines[0].startswith("error: --reps must be a positive whole number"), lines[0]
    assert not (tmp_path / "b.json").exists()


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


def test_step_seconds_skip_the_warmup_and_end_each_epoch_at_its_last_step():
    # epoch 0: steps start at t = 0..4 (1 s each), its last step ends at 5; epoch 1 at 10, 12, ends at 15.
    epochs = [([0.0, 1.0, 2.0, 3.0, 4.0], 5.0), ([10.0, 12.0], 15.0)]
    assert bench.step_seconds(epochs, warmup=2) == [1.0, 1.0, 1.0, 2.0, 3.0]  # gap 5 -> 10 (validation) not counted
    assert bench.step_seconds(epochs, warmup=7) == []


def test_the_clock_is_a_parameter():
    ticks = iter([1.0, 2.0, 3.0, 4.5]).__next__  # a fake clock, read in order
    c = bench.clock(now=ticks)
    c.on_epoch_begin(0)
    for step in range(2):  # steps start at 1.0 and 3.0, end at 2.0 and 4.5
        c.on_train_batch_begin(step)
        c.on_train_batch_end(step)
    assert c.steps == [([1.0, 3.0], 4.5)]
    assert bench.step_seconds(c.steps, warmup=0) == [2.0, 1.5]
    assert bench.timed(lambda: "value", now=iter([2.0, 4.5]).__next__) == (2.5, "value")


def test_time_to_accuracy_is_the_first_crossing():
    rows = [(100.0, 0.55), (90.0, 0.81), (90.0, 0.79), (95.0, 0.86), (95.0, 0.88)]
    assert bench.time_to_accuracy(rows) == {"80%": 190.0, "85%": 375.0}
    assert bench.time_to_accuracy(rows[:3]) == {"80%": 190.0, "85%": None}
    assert bench.time_to_accuracy([], targets=(0.5,)) == {"50%": None}
    assert "tta" not in bench.DEFAULT_SECTIONS and "tta" in bench.SECTIONS  # opt-in only


@pytest.mark.slow
def test_tta_reads_the_builds_own_run_and_trains_nothing_when_it_is_cached(cached_build, tmp_path):
    """`--only tta` is the build's vgg_aug run: cached here by the smoke build, so it is read, not retrained."""
    from experiments import atomic
    from experiments.settings import Settings

    build, dist, archive = cached_build
    settings = Settings(profile="smoke", data=str(archive), build=build, dist=dist)
    (run_dir,) = (build / "runs" / "vgg_aug").iterdir()
    before = {f.name: f.stat().st_mtime_ns for f in run_dir.iterdir()}
    lines = []
    r = bench.run_bench(settings, smoke=True, sections=["tta"], out=tmp_path / "bench.json", log=lines.append)["tta"]
    assert {f.name: f.stat().st_mtime_ns for f in run_dir.iterdir()} == before  # nothing retrained or rewritten
    assert r["trained_now"] is False and r["run"] == f"runs/vgg_aug/{run_dir.name}" and r["seed"] == 1234
    history = atomic.read_csv(run_dir / "history.csv")
    assert r["epoch_s"] == [row["seconds"] for row in history]
    assert r["test_accuracy"] == [row["test_accuracy"] for row in history]
    assert r["final_test_accuracy"] == atomic.read_json(run_dir / "metrics.json")["test_accuracy"]
    assert r["final_test_accuracy_mirror"] == atomic.read_json(run_dir / "metrics.json")["test_accuracy_mirror"]
    assert r["precision_policy"] == atomic.read_json(run_dir / "metrics.json")["precision_policy"]
    assert r["time_to_accuracy_s"] == bench.time_to_accuracy(list(zip(r["epoch_s"], r["test_accuracy"])))
    assert any("the build's cached run" in line for line in lines)


def _finished_run(run, policy: str, test_accuracy: float) -> None:
    """A run folder as training leaves it, with made-up numbers."""
    from experiments import atomic
    from experiments.runs import CURVES, METRICS

    run.dir.mkdir(parents=True)
    atomic.write_json(run.dir / "metrics.json", {**{m: 0.5 for m in METRICS}, "test_accuracy": test_accuracy,
                                                  "precision_policy": policy})
    atomic.write_csv(run.dir / "history.csv", [{"epoch": 1, **{c: 0.5 for c in CURVES}}], ["epoch", *CURVES])
    (run.dir / "model.keras").write_bytes(b"model")


def test_precision_accuracy_pairs_the_float32_and_mixed_runs_of_each_seed(tmp_path, tiny_archive):
    from dataclasses import replace

    from experiments.runs import DataSource, plan_runs
    from experiments.settings import Settings

    missing = Settings(profile="smoke", data=str(tmp_path / "no-such-data"), build=tmp_path / "b", dist=tmp_path / "d")
    assert bench.precision_accuracy(missing, "smoke") == {}  # no runs: the data is not even looked for
    mixed = Settings(profile="smoke", data=str(tiny_archive), build=tmp_path / "b", dist=tmp_path / "d")
    f32 = replace(mixed, mixed_precision=False)
    fingerprint = DataSource(mixed).fingerprint
    assert bench.precision_accuracy(mixed, "smoke") == {}  # nothing trained
    _finished_run(plan_runs(f32, "vgg", fingerprint)[0], "float32", 0.8000)
    _finished_run(plan_runs(mixed, "vgg", fingerprint)[0], estimate.MIXED, 0.7938)
    # a run allowed mixed precision that this machine's calibration trained in float32 is no pair
    _finished_run(plan_runs(f32, "baseline", fingerprint)[0], "float32", 0.60)
    _finished_run(plan_runs(mixed, "baseline", fingerprint)[0], "float32", 0.61)
    pairs = bench.precision_accuracy(mixed, "smoke")
    assert list(pairs) == ["vgg seed 1234"]
    pair = pairs["vgg seed 1234"]
    assert (pair["float32"], pair[estimate.MIXED]) == (0.8000, 0.7938)
    assert pair["difference_points"] == pytest.approx(-0.62) and pair["abs_difference_points"] == pytest.approx(0.62)
    assert bench.verdict("abs_difference_points", pair["abs_difference_points"]).startswith("MISSED")
    assert bench.verdict("abs_difference_points", 0.3).startswith("ok")


def test_verdicts_against_targets():
    assert bench.verdict("noop_all_s", 0.4).startswith("ok")
    assert bench.verdict("noop_all_s", 3.5).startswith("MISSED")
    assert bench.verdict("augmented_over_plain", 1.10).startswith("ok")
    assert bench.verdict("project_over_plain", 0.97).startswith("MISSED")
    assert bench.verdict("report_from_cache_s", None) == "n/a"


def test_json_has_no_nan():
    assert bench.jsonable({"a": float("nan"), 1: [float("inf"), 2.0]}) == {"a": None, "1": [None, 2.0]}


def test_table_shows_the_headline_figures_with_their_verdicts():
    result = {"training": {"vgg": {"plain_images_per_s": 70.0, "project_images_per_s": 66.5, "project_over_plain": 0.95,
                                   "rounds": {"plain": [70.0]}}},
              "estimate": {"quick_profile_s": 1500.0, "full_profile_s": 16000.0, "quick": {"seeds": 1}},
              "precision": {"accuracy": {"vgg_aug seed 1234": {"float32": 0.8328, "mixed_bfloat16": 0.8303,
                                                               "abs_difference_points": 0.25}}},
              "load_before": [1.0], "load_after": [1.0], "cpu_count": 2, "cpu_model": "test CPU"}
    lines = bench.table(result)
    assert any("training.vgg.project_over_plain" in x and "MISSED (>= 1)" in x for x in lines)
    assert any("estimate.quick_profile_s" in x and "ok (< 1800)" in x for x in lines)
    assert any("estimate.full_profile_s" in x and "MISSED (<= 14400)" in x for x in lines)
    assert any("precision.accuracy.vgg_aug seed 1234.abs_difference_points" in x and "ok (<= 0.5)" in x for x in lines)
    assert not any("rounds" in x or "seeds" in x for x in lines)


def test_unknown_section_is_a_user_error(tmp_path):
    from experiments.errors import ConfigError
    from experiments.settings import Settings

    with pytest.raises(ConfigError, match="unknown bench section"):
        bench.run_bench(Settings(profile="smoke", build=tmp_path), sections=["warp"], out=tmp_path / "b.json")
