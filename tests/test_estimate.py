"""Time-to-accuracy plumbing: the Exercise-3 recipe, the plan and its estimates, the quiet terminal."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from experiments import config, console, estimate

from conftest import ROOT
RATES = {probe: {"train_images_per_s": 100.0, "eval_images_per_s": 1000.0, "startup_s": 5.0,
                 **estimate.conditions(model)} for probe, (model, _) in estimate.PROBES.items()}


# --- the recipes ------------------------------------------------------------------------


def test_exercise1_keeps_the_assignment_settings_and_exercise3_gets_the_fast_recipe():
    base = config.resolve("aug_shift", "full")
    assert (base["optimizer"], base["learning_rate"], base["batch_size"], base["epochs"]) == ("adam", 1e-3, 128, 10)
    assert (base["schedule"], base["label_smoothing"], base["weight_decay"]) == ("constant", 0.0, 0.0)
    deep = config.resolve("vgg_aug", "full")
    assert deep["recipe"] == "fast" and deep["optimizer"] == "adamw" and deep["schedule"] == "warmup_cosine"
    assert deep["epochs"] <= 15 and deep["label_smoothing"] > 0 and deep["weight_decay"] > 0
    # The VGG net keeps the assignment's dropout without augmentation and gets less with flips;
    # the baseline has no Dropout layer and names no rate.
    assert (config.resolve("vgg", "full")["dropout"], deep["dropout"]) == (0.2, 0.1)
    assert "dropout" not in base
    # the recipe is part of the run key: changing it retrains
    changed = dict(deep, learning_rate=deep["learning_rate"] / 2)
    assert config.config_hash(changed) != config.config_hash(deep)


def test_warmup_cosine_schedule_rises_to_the_peak_then_decays_to_zero():
    from experiments import models

    cfg = config.resolve("vgg", "full")
    steps = 100
    lr = models.learning_rate(cfg, steps)
    total = cfg["epochs"] * steps
    at = lambda step: float(lr(step))  # noqa: E731
    assert at(0) == pytest.approx(0.0)
    assert at(steps // 2) == pytest.approx(cfg["learning_rate"] / 2, rel=1e-3)
    assert at(steps) == pytest.approx(cfg["learning_rate"], rel=1e-3)
    assert at(steps) > at(total // 2) > at(total - 1) >= 0.0
    assert at(total) == pytest.approx(0.0, abs=1e-9)
    assert models.learning_rate(config.resolve("baseline", "full"), steps) == 1e-3  # Exercise 1: constant


# --- estimates and the plan ---------------------------------------------------------------


def test_estimate_counts_training_per_epoch_evaluation_final_evaluation_and_startup():
    cfg = config.resolve("vgg", "full")
    # The final evaluation reads the training and test images, then the test images twice more
    # for mirror averaging.
    expected = 5.0 + cfg["epochs"] * (50_000 / 100.0 + 10_000 / 1000.0) + 80_000 / 1000.0
    assert estimate.seconds(cfg, RATES) == pytest.approx(expected)
    smoke = config.resolve("vgg", "smoke")
    assert estimate.seconds(smoke, RATES) < estimate.seconds(cfg, RATES) / 50


def test_each_run_is_estimated_with_its_own_augmentation():
    # On an H200 under PyTorch the VGG net trained at 3,250 images/s plain and 550 with
    # flips and shifts: one rate per network would promise vgg_aug six times too soon.
    assert set(estimate.PROBES) == {estimate.probe_for(config.resolve(n, "full")) for n in config.experiment_names()}
    augmented_vgg = estimate.probe_for(config.resolve("vgg_aug", "full"))
    assert augmented_vgg != "vgg"
    rates = dict(RATES, **{"vgg": dict(RATES["vgg"], train_images_per_s=3250.0),
                           augmented_vgg: dict(RATES["vgg"], train_images_per_s=550.0)})
    plain, augmented = (estimate.seconds(config.resolve(n, "full"), rates) for n in ("vgg", "vgg_aug"))
    assert augmented - plain == pytest.approx(config.resolve("vgg_aug", "full")["epochs"] * (50_000 / 550 - 50_000 / 3250))


def test_calibration_times_every_probe_and_evaluates_each_network_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PW09_CACHE", str(tmp_path))
    calls = []

    def probe(model, augmentation, policy, plain=None):
        calls.append((model, augmentation, plain is not None))
        return {"train_images_per_s": 1.0, "eval_images_per_s": 2.0, "startup_s": 3.0, "eval_startup_s": 1.0}

    rates = estimate.calibrate("tensorflow", log=lambda _: None, probe=probe)
    assert set(estimate.PROBES) <= set(rates) and len(calls) == len(estimate.PROBES)
    # augmentation is an identity at evaluation: only the plain networks are evaluated, and first
    assert [(m, a) for m, a, reused in calls if not reused] == [("baseline", None), ("vgg", None)]
    assert calls[:2] == [("baseline", None, False), ("vgg", None, False)]
    assert estimate.cached("tensorflow") == rates


def _timed_fits(seconds: list[float]):
    """A model whose fits take `seconds` in turn on a fake clock, and the sizes it was fitted on."""
    clock, sizes = [0.0], []
    durations = iter(seconds)

    class Model:
        def fit(self, x, y, **kwargs):
            sizes.append(len(x))
            clock[0] += next(durations)

    return Model(), sizes, lambda: clock[0]


def test_a_rate_is_the_fastest_of_repeated_fits_after_the_tracing_one():
    # Tracing 7 s; fits of CAL_STEPS batches in 5, 2 and 4 s, all longer than MIN_FIT_SECONDS.
    model, sizes, now = _timed_fits([7.0, 5.0, 2.0, 4.0])
    x = list(range(64 * estimate.CAL_MAX_STEPS))
    startup, rate = estimate.fit_rate(model, x, x, 64, repeats=3, now=now)
    assert startup == 7.0 and sizes == [64] + [64 * estimate.CAL_STEPS] * 3
    assert rate == 64 * estimate.CAL_STEPS / 2.0


def test_short_fits_are_timed_again_with_more_steps():
    # A fit pays a fixed time besides its steps (here 0.05 s, against 0.02 s a step), which a
    # short fit's rate would count as the steps': CAL_STEPS steps take 0.11 s. The fits are
    # timed again with as many steps as would fill MIN_FIT_SECONDS at that pace, and no more
    # than `x` holds.
    step, fixed = 0.02, 0.05
    x = list(range(64 * estimate.CAL_MAX_STEPS))
    clock, sizes = [0.0], []

    class Model:
        def fit(self, x, y, batch_size, **kwargs):
            sizes.append(len(x))
            clock[0] += fixed + step * len(x) / batch_size

    _, rate = estimate.fit_rate(Model(), x, x, 64, repeats=2, now=lambda: clock[0])
    steps = sizes[-1] // 64
    assert sizes[1:3] == [64 * estimate.CAL_STEPS] * 2 and len(sizes) == 5 and steps <= estimate.CAL_MAX_STEPS
    short = fixed + step * estimate.CAL_STEPS
    assert steps == min(math.ceil(estimate.CAL_STEPS * estimate.MIN_FIT_SECONDS / short), estimate.CAL_MAX_STEPS) > 10
    assert rate == pytest.approx(64 / (step + fixed / steps)) and rate > 0.9 * 64 / step
    # Where `x` holds fewer batches, the fits use them all.
    sizes.clear()
    estimate.fit_rate(Model(), x[:64 * 8], x[:64 * 8], 64, repeats=2, now=lambda: clock[0])
    assert sizes[-1] == 64 * 8


@pytest.mark.slow
def test_the_real_probe_times_a_network_and_adds_an_augmentation_block_to_it():
    # The tests above give `calibrate` a stand-in; this runs the measuring code itself (the
    # baseline only: the VGG net takes the same path, at half a minute of tracing).
    import math

    plain = estimate.probe("baseline", None, "float32")
    strong = estimate.probe("baseline", "strong", "float32", plain=plain)
    for rates in (plain, strong):
        assert all(math.isfinite(v) and v > 0 for v in rates.values()), rates
    block = strong["augmentation_images_per_s"]
    assert strong["train_images_per_s"] == pytest.approx(1 / (1 / plain["train_images_per_s"] + 1 / block))
    # evaluation is the plain network's (augmentation is an identity there); start-up adds the block's tracing
    assert strong["eval_images_per_s"] == plain["eval_images_per_s"] and strong["startup_s"] > plain["startup_s"]


def test_each_network_is_timed_at_its_recipes_batch_size():
    assert estimate.probe_batch("baseline") == config.resolve("baseline", "full")["batch_size"] == 128
    assert estimate.probe_batch("vgg") == config.resolve("vgg_aug", "full")["batch_size"] == 64


def test_a_calibration_at_another_batch_size_or_by_another_method_is_measured_again(tmp_path, monkeypatch):
    # A calibration from before entries recorded their batch timed everything at 128; so does one
    # from before a recipe changed its batch. Either misprices the VGG net on a GPU. One from
    # before entries recorded their method timed short fits whole, which priced the baseline low.
    monkeypatch.setenv("PW09_CACHE", str(tmp_path))
    key = estimate.machine_key("tensorflow")
    unrecorded = {k: v for k, v in RATES["vgg"].items() if k not in estimate.OLD_CONDITIONS}
    for vgg_entry in (unrecorded, {**unrecorded, "batch_size": 64}, {**RATES["vgg"], "batch_size": 128},
                      {**RATES["vgg"], "method": 1}):
        (tmp_path / "calibration.json").write_text(json.dumps({key: {**RATES, "vgg": vgg_entry}}))
        assert estimate.cached("tensorflow") is None
    (tmp_path / "calibration.json").write_text(json.dumps({key: RATES}))
    assert estimate.cached("tensorflow") == RATES
    calls = []
    def probe(model, augmentation, policy, plain=None):
        calls.append(model)
        return {"train_images_per_s": 1.0, "eval_images_per_s": 2.0, "startup_s": 3.0}
    (tmp_path / "calibration.json").write_text(json.dumps({key: {**RATES, "vgg": vgg_entry}}))
    rates = estimate.calibrate("tensorflow", log=lambda _: None, probe=probe)
    assert len(calls) == len(estimate.PROBES) and rates["vgg+flip"]["batch_size"] == 64 == rates["vgg"]["batch_size"]
    assert all(rates[name]["method"] == estimate.CAL_METHOD for name in estimate.PROBES)
    assert estimate.cached("tensorflow") == rates


def test_a_calibration_without_every_probe_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PW09_CACHE", str(tmp_path))
    old = {"baseline": RATES["baseline"], "baseline_plain": RATES["baseline"], "vgg": RATES["vgg"]}  # no augmented VGG probe
    (tmp_path / "calibration.json").write_text(json.dumps({estimate.machine_key("tensorflow"): old}))
    assert estimate.cached("tensorflow") is None


def _planned(profile):
    return [(name, seed, config.resolve(name, profile), 0, estimate.seconds(config.resolve(name, profile), RATES))
            for name in config.experiment_names() for seed in config.seeds_for(profile)]


def test_a_resumed_run_is_planned_with_the_epochs_it_has_left():
    cfg = config.resolve("vgg", "full")
    per_epoch = 50_000 / 100.0 + 10_000 / 1000.0
    assert estimate.seconds(cfg, RATES) - estimate.seconds(cfg, RATES, epochs_done=4) == pytest.approx(4 * per_epoch)
    assert estimate.seconds(cfg, RATES, epochs_done=cfg["epochs"]) == pytest.approx(5.0 + 80_000 / 1000.0)
    fresh, resumed = (("vgg", 1234, cfg, done, estimate.seconds(cfg, RATES, done)) for done in (0, 4))
    lines = estimate.plan_lines([fresh, resumed], "full", on_gpu=True)
    assert "10 epochs x" in lines[1] and "resumes" not in lines[1]
    assert " 6 epochs x" in lines[2] and lines[2].endswith("(resumes after epoch 4 of 10)")
    assert estimate.human(fresh[-1] + resumed[-1]) in lines[0]


def test_plan_lists_every_run_and_the_total_and_warns_about_long_cpu_builds():
    planned = _planned("full")
    lines = estimate.plan_lines(planned, "full", on_gpu=False)
    assert lines[0].startswith(f"Plan: {len(planned)} runs to train, about ")
    assert len([line for line in lines if "epochs x" in line]) == len(planned) == 18
    assert estimate.human(sum(s for *_, s in planned)) in lines[0]
    note = [line for line in lines if "note:" in line]
    assert len(note) == 1 and "--profile quick" in note[0] and "GPU" in note[0]
    assert "these runs of the full profile need about" in note[0]
    one = [line for line in estimate.plan_lines(planned[-1:], "full", on_gpu=False) if "note:" in line]
    assert planned[-1][-1] > estimate.LONG_CPU_BUILD and "this run of the full profile needs about" in one[0]
    assert not [line for line in estimate.plan_lines(planned, "full", on_gpu=True) if "note:" in line]
    assert not [line for line in estimate.plan_lines(_planned("smoke"), "smoke", on_gpu=False) if "note:" in line]


def test_calibration_is_read_back_per_machine_without_measuring(tmp_path, monkeypatch):
    monkeypatch.setenv("PW09_CACHE", str(tmp_path))
    assert estimate.cached("tensorflow") is None
    key = estimate.machine_key("tensorflow", "float32")
    (tmp_path / "calibration.json").write_text(json.dumps({key: RATES}))
    assert estimate.cached("tensorflow") == RATES
    assert estimate.calibrate("tensorflow", log=lambda _: pytest.fail("measured again")) == RATES
    assert estimate.cached("tensorflow", "mixed_bfloat16") is None  # another policy is another entry
    (tmp_path / "calibration.json").write_text("{garbled")
    assert estimate.cached("tensorflow") is None


def test_invoke_list_shows_the_cached_estimates_without_tensorflow(tmp_path, tiny_archive):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "calibration.json").write_text(json.dumps({estimate.machine_key("tensorflow"): RATES}))
    env = dict(os.environ, PW09_CACHE=str(cache), PW09_BUILD_DIR=str(tmp_path / "b"),
               PW09_DIST_DIR=str(tmp_path / "d"), PW09_DATA=str(tiny_archive), KERAS_BACKEND="tensorflow")
    code = ("import runpy, sys; sys.argv = ['invoke', 'list', '--profile', 'smoke']\n"
            "try:\n    runpy.run_module('invoke', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('TF', 'tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "TF False" in proc.stdout
    smoke = config.resolve("vgg", "smoke")
    assert estimate.human(estimate.seconds(smoke, RATES)) in proc.stdout
    assert "still to train: about" in proc.stdout


def test_each_run_is_planned_at_the_precision_it_will_train_with(tmp_path, monkeypatch):
    from experiments import runs
    from experiments.settings import Settings

    monkeypatch.setenv("PW09_CACHE", str(tmp_path))
    # mixed precision twice as fast for the VGG net, half as fast for the baseline
    mixed = {probe: dict(r, train_images_per_s=200.0 if probe.startswith("vgg") else 50.0) for probe, r in RATES.items()}
    (tmp_path / "calibration.json").write_text(json.dumps({estimate.machine_key("tensorflow"): RATES,
                                                           estimate.machine_key("tensorflow", estimate.MIXED): mixed}))
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    table = estimate.machine_rates("tensorflow", [config.resolve("vgg", "full")], measure=False)
    assert estimate.policy_for(config.resolve("vgg", "full"), table) == estimate.MIXED
    assert estimate.policy_for(config.resolve("baseline", "full"), table) == "float32"
    s = Settings(profile="full", build=tmp_path / "b", dist=tmp_path / "d", n_seeds=1)
    todo = runs.pending_runs(s, ["baseline", "vgg"], "sha256:aa")
    assert runs.estimates(s, todo, measure=False) == [estimate.seconds(todo[0].cfg, RATES),
                                                       estimate.seconds(todo[1].cfg, mixed)]
    # --no-mixed-precision plans (and trains) everything in float32
    f32 = Settings(profile="full", build=tmp_path / "b", dist=tmp_path / "d", n_seeds=1, mixed_precision=False)
    todo = runs.pending_runs(f32, ["baseline", "vgg"], "sha256:aa")
    assert runs.estimates(f32, todo, measure=False) == [estimate.seconds(r.cfg, RATES) for r in todo]
    assert todo[1].key != runs.pending_runs(s, ["vgg"], "sha256:aa")[0].key  # cached separately


# --- a quiet terminal ------------------------------------------------------------------------


NOISY = """
import os, sys
from experiments import console
console.quiet({verbose})
os.write(2, b"I0000 00:00:1795810449.896617    6816 cudart_stub.cc:31] Could not find cuda drivers\\n")
os.write(2, b"E0000 00:00:1795810212.504187    3378 cuda_platform.cc:52] failed call to cuInit\\n")
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
os.write(2, b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.\\n")
import warnings; warnings.warn("a warning the user must see")
print("error: one sentence", file=sys.stderr)
import tensorflow as tf
tf.get_logger().warning("5 out of the last 9 calls to <function f at 0x1> triggered tf.function retracing. Tracing is expensive")
tf.get_logger().warning("a TensorFlow warning the user must see")
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_backend_chatter_is_filtered_but_warnings_and_errors_pass(verbose):
    env = {k: v for k, v in os.environ.items() if k != console.VERBOSE_ENV}
    proc = subprocess.run([sys.executable, "-c", NOISY.format(verbose=verbose)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "a warning the user must see" in proc.stderr and "error: one sentence" in proc.stderr
    assert "a TensorFlow warning the user must see" in proc.stderr
    chatter = ("cudart_stub", "cuInit", "absl::InitializeLog", "rebuild TensorFlow", "tf.function retracing")
    assert all((c in proc.stderr) == verbose for c in chatter), proc.stderr


def test_a_finished_run_corrects_a_calibration_taken_under_load(tmp_path, monkeypatch):
    monkeypatch.setenv("PW09_CACHE", str(tmp_path))
    loaded = {probe: dict(r, train_images_per_s=10.0) for probe, r in RATES.items()}  # measured while busy
    (tmp_path / "calibration.json").write_text(json.dumps({estimate.machine_key("tensorflow"): loaded}))
    cfg = config.resolve("vgg", "full")
    # real epochs of 50,000 images at 100 images/s plus 10,000 test images at 1,000/s
    estimate.observe("tensorflow", "float32", cfg, [510.0, 510.0, 900.0])
    assert estimate.cached("tensorflow")["vgg"]["train_images_per_s"] == pytest.approx(100.0)
    assert estimate.cached("tensorflow")["baseline"]["train_images_per_s"] == 10.0  # other networks untouched
    estimate.observe("tensorflow", "float32", config.resolve("vgg", "smoke"), [1.0])  # too small to say
    assert estimate.cached("tensorflow")["vgg"]["train_images_per_s"] == pytest.approx(100.0)


def _two_policy_cache(tmp_path, monkeypatch, float32_rate, mixed_rate):
    monkeypatch.setenv("PW09_CACHE", str(tmp_path))
    table = {estimate.machine_key("tensorflow", p): {probe: dict(r, train_images_per_s=rate) for probe, r in RATES.items()}
             for p, rate in (("float32", float32_rate), (estimate.MIXED, mixed_rate))}
    (tmp_path / "calibration.json").write_text(json.dumps(table))


def test_a_run_far_from_its_calibration_times_both_policies_again(tmp_path, monkeypatch):
    # The calibration ran during a slowdown: both policies at 50 images/s, a tie, so float32.
    _two_policy_cache(tmp_path, monkeypatch, 50.0, 50.0)
    cfg = config.resolve("vgg_aug", "full")
    assert estimate.policy_for(cfg, estimate.machine_rates("tensorflow", [cfg], measure=False)) == "float32"
    timed, said = [], []

    def probe(model, augmentation, policy):  # now, on a quiet machine, mixed is 1.5 times faster
        timed.append((model, augmentation, policy))
        return {"train_images_per_s": 150.0 if policy == estimate.MIXED else 100.0}

    # Its real epochs: 50,000 images at 100 images/s plus 10,000 test images at 1,000/s.
    estimate.observe("tensorflow", "float32", cfg, [510.0] * 3, probe=probe, log=said.append)
    assert sorted(timed) == [("vgg", "flip", "float32"), ("vgg", "flip", estimate.MIXED)]
    assert said == ["vgg+flip trained at 100 images/s in float32 where the calibration said 50; "
                    "timing float32 and mixed_bfloat16 again to choose between them ..."]
    rates = estimate.machine_rates("tensorflow", [cfg], measure=False)
    assert rates["float32"]["vgg+flip"]["train_images_per_s"] == pytest.approx(100.0)
    assert rates[estimate.MIXED]["vgg+flip"]["train_images_per_s"] == pytest.approx(150.0)
    assert rates[estimate.MIXED]["vgg"]["train_images_per_s"] == 50.0  # other probes untouched
    assert estimate.policy_for(cfg, rates) == estimate.MIXED  # the next seed trains faster


@pytest.mark.parametrize("case", ["close to the calibration", "float32 only", "no mixed calibration"])
def test_the_policies_are_timed_again_only_where_it_can_change_a_choice(tmp_path, monkeypatch, case):
    _two_policy_cache(tmp_path, monkeypatch, 90.0 if case == "close to the calibration" else 50.0, 80.0)
    cfg = config.resolve("vgg", "full", {"mixed_precision": case != "float32 only"})
    if case == "no mixed calibration":
        table = json.loads((tmp_path / "calibration.json").read_text())
        del table[estimate.machine_key("tensorflow", estimate.MIXED)]
        (tmp_path / "calibration.json").write_text(json.dumps(table))

    def probe(*args):
        raise AssertionError("timed again")

    estimate.observe("tensorflow", "float32", cfg, [510.0] * 3, probe=probe, log=print)  # 100 images/s
    assert estimate.cached("tensorflow")["vgg"]["train_images_per_s"] == pytest.approx(100.0)
    mixed = estimate.cached("tensorflow", estimate.MIXED)
    assert mixed is None if case == "no mixed calibration" else mixed["vgg"]["train_images_per_s"] == 80.0


def test_a_resumed_run_is_planned_at_the_policy_it_started_with(tmp_path, monkeypatch):
    from experiments import runs, train
    from experiments.settings import Settings

    _two_policy_cache(tmp_path, monkeypatch, 100.0, 200.0)  # mixed is faster now
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    s = Settings(profile="full", build=tmp_path / "b", dist=tmp_path / "d", n_seeds=1)
    run = runs.pending_runs(s, ["vgg"], "sha256:aa")[0]
    (run.dir / "checkpoint").mkdir(parents=True)
    (run.dir / "checkpoint" / "epoch-0004.keras").write_bytes(b"model")
    history = [{"epoch": e, "seconds": 1.0} for e in range(1, 5)]
    (run.dir / "checkpoint" / "state.json").write_text(json.dumps(
        {"epoch": 4, "model": "epoch-0004.keras", "history": history, "seed_states": [], "policy": "float32"}))
    assert train.checkpoint_state(run.dir) == "partial"
    run = runs.pending_runs(s, ["vgg"], "sha256:aa")[0]  # as a build finds it
    assert runs.estimates(s, [run], measure=False) == [estimate.seconds(run.cfg, RATES, epochs_done=4)]


def test_the_cpu_is_named_with_its_family_and_model_so_one_vendor_line_is_not_one_machine(tmp_path):
    # A cloud VM may call its CPU just "AMD EPYC"; Zen 3 and Zen 4 are then told apart by the
    # numbers, and so is their calibration (cached per machine_key).
    info = tmp_path / "cpuinfo"
    block = "processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: {model}\nmodel name\t: AMD EPYC\n"
    info.write_text(block.format(n=0, model=17) + "\n" + block.format(n=1, model=1) + "\n")
    assert estimate.cpu_model(info) == "AMD EPYC (family 25, model 17)"
    info.write_text(block.format(n=0, model=1))
    assert estimate.cpu_model(info) == "AMD EPYC (family 25, model 1)"
    info.write_text("processor\t: 0\nmodel name\t: Some ARM core\n")
    assert estimate.cpu_model(info) == "Some ARM core"
    assert estimate.cpu_model(tmp_path / "missing")  # falls back to the platform's name
