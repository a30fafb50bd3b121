"""`invoke bench`: how fast the build trains and rebuilds, as one table and `bench.json`.

Sections (keys of `bench.json`; `--only` picks some): training (`train.train_run` against a
bare `model.fit`, interleaved rounds, throughput from the median step), augmentation (its
cost per Exercise-1 strategy), flops (achieved GFLOP/s against the CPU's fp32 peak),
precision (per policy, from `estimate.calibrate`, and the test accuracy of runs the build
holds in both float32 and mixed precision), data (first decode against the cached
load), build (no-op `invoke all`, `invoke report` from cached runs), estimate (each
profile's training time as the build's plan projects it) and, opt-in, tta (time for the
full vgg_aug run to reach 80 % and 85 % test accuracy: the build's own run, trained unless
cached and reused by `invoke all`). `--smoke` checks the plumbing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import atomic, config, estimate
from .errors import ConfigError, Pw09Error
from .keras_env import keras_backend
from .settings import ROOT, Settings, shown_path

BATCH, WARMUP = 128, 3
# Steps of the one epoch each measurement trains (128 x steps images: a multiple of 5 splits
# evenly over the 10 classes) and rounds of each comparison.
REAL = {"baseline": 105, "vgg": 35, "aug": 65, "reps": 3, "test_size": 1000}
SMOKE = {"baseline": 5, "vgg": 5, "aug": 5, "reps": 1, "test_size": 100}
DEFAULT_SECTIONS = ["data", "training", "augmentation", "flops", "precision", "build", "estimate"]
SECTIONS = DEFAULT_SECTIONS + ["tta"]
TTA_TARGETS = (0.80, 0.85)
TARGETS = {"noop_all_s": ("<", 3.0), "report_from_cache_s": ("<", 20.0), "augmented_over_plain": ("<=", 1.10),
           "project_over_plain": (">=", 1.0), "quick_profile_s": ("<", 1800.0), "full_profile_s": ("<=", 4 * 3600.0),
           "abs_difference_points": ("<=", 0.5)}


def timed(fn, now=time.perf_counter):
    """(seconds `fn()` took, its value)."""
    t0 = now()
    value = fn()
    return now() - t0, value


def clock(now=time.perf_counter):
    """A Keras callback recording, per epoch, each training step's start and the last
    step's end (it runs after the project's checkpoint and log line)."""
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps = []  # per epoch: ([step starts], last step's end)

        def on_epoch_begin(self, epoch, logs=None):
            self.steps.append(([], math.nan))

        def on_train_batch_begin(self, batch, logs=None):
            self.steps[-1][0].append(now())

        def on_train_batch_end(self, batch, logs=None):
            self.steps[-1] = (self.steps[-1][0], now())

    return Clock()


def step_seconds(epochs: list[tuple[list[float], float]], warmup: int = WARMUP) -> list[float]:
    """Seconds per step after the first `warmup`, from its start to the next one's (the
    epoch's last step to its end), given per epoch (step starts, last step's end)."""
    starts = [(b, (begins + [end])[i + 1]) for begins, end in epochs for i, b in enumerate(begins)]
    return [nxt - b for b, nxt in starts[warmup:]]


def time_to_accuracy(rows: list[tuple[float, float]], targets=TTA_TARGETS) -> dict:
    """Seconds until test accuracy first reaches each target (None if never), given per
    epoch (wall seconds, test accuracy)."""
    out, elapsed = {f"{t:.0%}": None for t in targets}, 0.0
    for seconds, acc in rows:
        elapsed += seconds
        for t in targets:
            if acc >= t and out[f"{t:.0%}"] is None:
                out[f"{t:.0%}"] = elapsed
    return out


def images_per_s(c) -> float:
    """Throughput from the median step: robust to what another process steals."""
    steps = step_seconds(c.steps)
    return BATCH / statistics.median(steps) if steps else math.nan


def timed_fit(cfg: dict, dataset, *, plain=False, seed=1234, now=time.perf_counter):
    """Train `cfg` once under a step `clock`: through `train.train_run` in a scratch run
    folder, or (`plain`) as a bare `model.fit(x, y, batch_size=128)` on the project's
    network and arrays. Returns (the clock, train_run's metrics or None)."""
    import keras

    from . import train
    from .models import build_model

    c = clock(now)
    if plain:
        x, y, _, _ = train.prepare_arrays(cfg, dataset)
        train.seed_everything(seed)  # as train_run does: the same (deterministic) kernels on both paths
        keras.mixed_precision.set_global_policy("float32")
        build_model(cfg, seed=seed).fit(x, y, batch_size=BATCH, epochs=cfg["epochs"], verbose=0, callbacks=[c])
        return c, None
    with tempfile.TemporaryDirectory(prefix="pw09-bench-run-") as d, \
            contextlib.redirect_stdout(io.StringIO()):
        return c, train.train_run(cfg, seed, dataset, Path(d) / "run", callbacks=(c,))


def interleave(fns: dict, reps: int, log) -> dict[str, list[float]]:
    """Each {label: fn} in turn for `reps` rounds, so load drift hits all alike."""
    out = {label: [] for label in fns}
    for r in range(reps):
        for label, fn in fns.items():
            out[label].append(fn())
            log(f"    {label:<10} round {r + 1}/{reps}: {out[label][-1]:7.1f} images/s")
    return out


def ratio(num: list[float], den: list[float]) -> float:
    """Median over rounds of round i's ratio."""
    return statistics.median(a / b for a, b in zip(num, den))


def bench_training(fit, sizes, log) -> dict:
    """Per network: images/s of a bare `model.fit` and of `train_run`, and their ratio."""
    out = {}
    for name in ("baseline", "vgg"):
        log(f"  training {name}: {sizes[name] - WARMUP} timed steps of {BATCH}, plain model.fit vs train_run")
        runs = interleave({"plain": lambda: fit(name, sizes[name], plain=True), "project": lambda: fit(name, sizes[name])},
                          sizes["reps"], log)
        out[name] = {**{f"{k}_images_per_s": statistics.median(v) for k, v in runs.items()}, "rounds": runs,
                     "project_over_plain": ratio(runs["project"], runs["plain"])}
    return out


def bench_augmentation(fit, sizes, log) -> dict:
    """Seconds per augmented epoch over plain ones: the plain rate over the augmented."""
    names = {e["augmentation"] or "none": n for n, e in config.EXPERIMENTS.items() if e["model"] == "baseline"}
    log(f"  augmentation: {', '.join(names)}, {sizes['aug'] - WARMUP} timed steps each")
    runs = interleave({s: (lambda n=n: fit(n, sizes["aug"])) for s, n in names.items()}, sizes["reps"], log)
    return {s: {"experiment": names[s], "images_per_s": statistics.median(runs[s]),
                "augmented_over_plain": ratio(runs["none"], runs[s])} for s in names if s != "none"}


def count_macs(model) -> dict:
    """Multiply-adds per image by layer (`layer_table`'s Conv2D and Dense) and per training image."""
    from .layer_table import layer_table

    per_layer = {row.name: int(row.macs) for row in layer_table(model).itertuples() if row.macs}
    forward = sum(per_layer.values())
    # Training: forward + weight gradients (same MACs) + input gradients (all but the first layer).
    train = 3 * forward - next(iter(per_layer.values()), 0)
    return {"forward_macs": forward, "train_macs": train, "train_flop": 2 * train, "per_layer": per_layer}


def cpu_peak() -> dict:
    """Theoretical fp32 peak: cores x nominal clock x FLOP per cycle, and how it was derived."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    field = estimate.cpu_fields()
    if not field:
        return {"cores": cores, "gflops": None, "derivation": "no /proc/cpuinfo: peak unknown on this OS"}
    flags, mhz = set(field.get("flags", "").split()), float(field.get("cpu MHz") or 0) or None
    zen4 = field.get("vendor_id") == "AuthenticAMD" and field.get("cpu family") == "25"
    per_cycle, why = next((n, why) for fits, n, why in [  # the widest FMA the flags show
        ("avx512f" in flags and zen4, 32, "Zen 4 runs AVX-512 as two 256-bit halves: 2 FMA pipes x 8 lanes x 2"),
        ("avx512f" in flags, 64, "AVX-512: 2 FMA units x 16 lanes x 2 (one-FMA-unit parts reach half)"),
        ({"avx2", "fma"} <= flags, 32, "AVX2+FMA: 2 FMA units x 8 lanes x 2"),
        ("avx" in flags, 16, "AVX: 8-lane add + 8-lane multiply"), (True, 8, "SSE: 4 + 4 lanes")] if fits)
    return {"cores": cores, "model_name": field.get("model name"), "mhz": mhz, "flop_per_cycle_per_core": per_cycle,
            "gflops": cores * mhz / 1000 * per_cycle if mhz else None,
            "derivation": f"{cores} cores x {(mhz or math.nan) / 1000:.3f} GHz (nominal cpu MHz, no boost) x "
                          f"{per_cycle} fp32 FLOP/cycle ({why})"}


def gflops(name: str, rate: float, peak: dict) -> dict:
    """Achieved training GFLOP/s of experiment `name` at `rate` images/s, and its share of `peak`."""
    import keras

    from .models import build_model

    keras.mixed_precision.set_global_policy("float32")
    flop = count_macs(build_model(config.resolve(name, "quick"), seed=0))["train_flop"]
    return {"train_flop_per_image": flop, "images_per_s": rate, "achieved_gflops": rate * flop / 1e9,
            "fraction_of_peak": rate * flop / 1e9 / peak["gflops"] if peak.get("gflops") else None}


def bench_precision(settings: Settings, log, profile: str = "full") -> dict:
    """Training images/s per policy and network, from this machine's calibration cache, and
    the accuracy check: `precision_accuracy` of `profile`'s runs."""
    from .train import gpu_visible

    backend = keras_backend()
    rates = {p: estimate.calibrate(backend, p, log=log)
             for p in list(estimate.POLICIES) + (["mixed_float16"] if gpu_visible() else [])}
    per = {p: {net: {"images_per_s": r[net]["train_images_per_s"],
                     "over_float32": r[net]["train_images_per_s"] / rates["float32"][net]["train_images_per_s"]}
               for net in estimate.PROBES} for p, r in rates.items()}
    accuracy = precision_accuracy(settings, profile)
    for name, a in accuracy.items():
        log(f"  precision: {name} test accuracy {a['float32']:.2%} float32, {a[estimate.MIXED]:.2%} {estimate.MIXED}")
    return {"cpu_model": estimate.cpu_model(), "backend": backend, "policies": per,
            "measured": {p: r.get("measured") for p, r in rates.items()}, "accuracy": accuracy}


def precision_accuracy(settings: Settings, profile: str) -> dict:
    """Test accuracy of every run of `profile` that the build holds twice, trained in float32
    (`--no-mixed-precision`) and in mixed precision, by experiment and seed: whether mixed
    precision costs accuracy. Read from `runs/`; nothing is trained."""
    from dataclasses import replace

    from .runs import DataSource, plan_runs

    pairs: dict = {}
    if not settings.runs.is_dir():  # nothing trained: no need to find and fingerprint the data
        return pairs
    fingerprint = DataSource(settings).fingerprint
    for name in config.experiment_names():
        found: dict = {}
        for mixed in (False, True):
            these = replace(settings, profile=profile, n_seeds=None, mixed_precision=mixed)
            for run in plan_runs(these, name, fingerprint):
                if run.done:
                    m = atomic.read_json(run.dir / "metrics.json")
                    found.setdefault(run.seed, {})[m.get("precision_policy", "float32")] = m["test_accuracy"]
        for seed, acc in found.items():
            if set(estimate.POLICIES) <= set(acc):
                diff = 100 * (acc[estimate.MIXED] - acc["float32"])
                pairs[f"{name} seed {seed}"] = {**acc, "difference_points": diff, "abs_difference_points": abs(diff)}
    return pairs


def bench_data(source, log, now=time.perf_counter) -> tuple[dict, object]:
    """First decode into an empty cache, then the cached load; returns (figures, dataset)."""
    from . import data

    with tempfile.TemporaryDirectory(prefix="pw09-bench-data-") as cache:
        first, _ = timed(lambda: data.load_cifar10(source, Path(cache)), now)
        cached, dataset = timed(lambda: data.load_cifar10(source, Path(cache)), now)
    log(f"  data: first decode {first:.2f} s, cached load {cached:.3f} s")
    return {"source": dataset.source, "first_decode_s": first, "cached_load_s": cached,
            "first_over_cached": first / cached}, dataset


# `invoke ARGS` in a fresh interpreter; at exit it reports which heavy modules it imported.
_PROBE = r"""
import atexit, json, sys
HEAVY = ("tensorflow", "keras", "jax", "torch", "matplotlib", "weasyprint", "scipy", "pandas", "jinja2")
atexit.register(lambda: sys.stderr.write("PW09_PROBE " + json.dumps([m for m in HEAVY if m in sys.modules]) + "\n"))
from invoke.main import program
program.run(["invoke", *sys.argv[1:]])
"""


def run_invoke(args: list[str], env: dict, now=time.perf_counter) -> dict:
    """`invoke ARGS` in a fresh process: wall seconds, heavy modules imported, output tail."""
    wall, proc = timed(lambda: subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=ROOT, env=env,
                                              capture_output=True, text=True, timeout=3600), now)
    if proc.returncode != 0:
        raise Pw09Error(f"`invoke {' '.join(args)}` failed during the benchmark (exit {proc.returncode}): "
                        f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    imported = [json.loads(line[11:]) for line in proc.stderr.splitlines() if line.startswith("PW09_PROBE ")]
    return {"wall_s": wall, "imported": imported[-1] if imported else None,
            "stdout_tail": proc.stdout.strip().splitlines()[-4:]}


def bench_build(settings: Settings, build_from: str | None, reps: int, log, now=time.perf_counter) -> dict:
    """On a scratch copy of `build_from`'s runs (else a fresh smoke build): `invoke report`
    from cached runs, `invoke all` (must train nothing), then the no-op `invoke all`."""
    profile = settings.profile if build_from else "smoke"
    if build_from and not (Path(build_from) / "runs").is_dir():
        raise ConfigError(f"--build-from {build_from} holds no runs/ folder; point it at a build folder.")
    with tempfile.TemporaryDirectory(prefix="pw09-bench-build-") as scratch:
        build = Path(scratch) / "build"
        env = dict(os.environ, PW09_BUILD_DIR=str(build), PW09_DIST_DIR=str(Path(scratch) / "dist"),
                   **({"PW09_DATA": str(settings.data)} if settings.data else {}))
        args = ["--profile", profile] + (["--seeds", str(settings.n_seeds)] if settings.n_seeds else [])
        invoke = lambda *a: run_invoke([*a, *args], env, now)  # noqa: E731
        for sub in ("runs", "data") if build_from else ():
            if (Path(build_from) / sub).is_dir():
                shutil.copytree(Path(build_from) / sub, build / sub, ignore=shutil.ignore_patterns(".lock", "checkpoint"))
        if not build_from:
            log("  build: training a smoke build from scratch (no --build-from)")
            invoke("all")
            for sub in ("results", "figures", "report", ".stamps"):  # what `invoke clean` deletes
                shutil.rmtree(build / sub, ignore_errors=True)
        out = {"profile": profile, "report_from_cache_s": invoke("report")["wall_s"],
               "first_all_trained": any(x.startswith("Training ") for x in invoke("all")["stdout_tail"])}
        noop = [invoke("all") for _ in range(max(reps, 3))]
    out.update(noop_all_s=statistics.median(r["wall_s"] for r in noop), noop_imported=noop[-1]["imported"],
               noop_imports_tensorflow=any({"tensorflow", "keras"} & set(r["imported"] or ()) for r in noop))
    log(f"  build: no-op `invoke all` {out['noop_all_s']:.2f} s, imported {out['noop_imported']}")
    return out


def bench_estimate(log) -> dict:
    """Each profile's training time over its default seeds, by the build plan's projection:
    each run at the precision policy the build would choose for it here, and all in float32."""
    rates = {p: estimate.calibrate(keras_backend(), p, log=log) for p in estimate.POLICIES}
    out = {"cpu_model": estimate.cpu_model()}
    for profile in ("quick", "full"):
        seeds = len(config.seeds_for(profile))
        cfgs = {n: config.resolve(n, profile) for n in config.experiment_names()}
        policies = {n: estimate.policy_for(cfg, rates) for n, cfg in cfgs.items()}
        per = {n: seeds * estimate.seconds(cfg, rates[policies[n]]) for n, cfg in cfgs.items()}
        f32 = {n: seeds * estimate.seconds(cfg, rates["float32"]) for n, cfg in cfgs.items()}
        out.update({profile: {"seeds": seeds, "per_experiment_s": per, "policies": policies,
                              "float32_per_experiment_s": f32},
                    f"{profile}_profile_s": sum(per.values()), f"{profile}_profile_float32_s": sum(f32.values())})
    return out


def bench_tta(settings: Settings, profile: str, peak: dict, log) -> dict:
    """vgg_aug as `profile` trains it, with the profile's first seed: the build's own run in
    `runs/`, trained here unless the build already has it (resumable after Ctrl-C, and reused
    by `invoke all`). The seconds to 80 % and 85 % test accuracy add up its epochs' wall
    times as training recorded them (`history.csv`, test evaluation included); they count
    single-view accuracy, measured after every epoch. The final accuracy is given single-view
    and mirror-averaged (`train.mirror_accuracy`), which is measured only after the last epoch."""
    from dataclasses import replace

    from .runs import DataSource, plan_runs, train_runs
    from .settings import build_lock

    s = replace(settings, profile=profile, n_seeds=1)
    source = DataSource(s)
    with build_lock(s):
        trained = train_runs(s, ["vgg_aug"], source)
    run = plan_runs(s, "vgg_aug", source.fingerprint)[0]
    history, metrics = atomic.read_csv(run.dir / "history.csv"), atomic.read_json(run.dir / "metrics.json")
    where = "trained now" if trained else "the build's cached run"
    log(f"  tta: vgg_aug ({profile} profile, seed {run.seed}), {where}: {shown_path(run.dir)}")
    epochs = [(row["seconds"], row["test_accuracy"]) for row in history]
    n_train = run.cfg["train_size"] or estimate.TRAIN_IMAGES
    return {"profile": profile, "seed": run.seed, "run": str(run.dir.relative_to(s.build)), "trained_now": bool(trained),
            "resumed_from_epoch": metrics.get("resumed_from_epoch", 0),
            "precision_policy": metrics.get("precision_policy", "float32"),
            "time_to_accuracy_s": time_to_accuracy(epochs), "epoch_s": [t for t, _ in epochs],
            "test_accuracy": [a for _, a in epochs], "final_test_accuracy": metrics["test_accuracy"],
            "final_test_accuracy_mirror": metrics["test_accuracy_mirror"],
            # Images/s over the median epoch, its test evaluation included.
            **gflops("vgg_aug", n_train / statistics.median(t for t, _ in epochs), peak)}


def verdict(key: str, value) -> str:
    if not isinstance(value, (int, float)) or math.isnan(value):
        return "n/a"
    op, target = TARGETS[key]
    ok = value < target if op == "<" else value <= target if op == "<=" else value >= target
    return f"{'ok' if ok else 'MISSED'} ({op} {target:g})"


# Figures the printed table shows, as paths into the result (`*` matches any key).
SHOWN = ["training.*_images_per_s", "training.*.project_over_plain", "augmentation.*.augmented_over_plain",
         "flops.peak.gflops", "flops.models.*.achieved_gflops", "flops.models.*.fraction_of_peak",
         "precision.policies.*.images_per_s", "precision.accuracy.*.abs_difference_points", "data.*_s",
         "build.noop_all_s", "build.noop_imports_tensorflow",
         "build.report_from_cache_s", "estimate.*_profile_s", "tta.time_to_accuracy_s.*", "tta.final_test_accuracy*",
         "tta.achieved_gflops"]


def table(r: dict) -> list[str]:
    """One line per figure of SHOWN: its path in bench.json, value, verdict against its target."""
    def leaves(d, path=""):
        for k, v in d.items():
            yield from leaves(v, f"{path}{k}.") if isinstance(v, dict) else [(f"{path}{k}", v)]

    def show(v):
        return (f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}") if isinstance(v, float) else "-" if v is None else str(v)

    rows = [f"{p:<56} {show(v):>10}  " + (verdict(p.rsplit('.', 1)[-1], v) if p.rsplit('.', 1)[-1] in TARGETS else "")
            for p, v in leaves(r) if any(fnmatch.fnmatchcase(p, pattern) for pattern in SHOWN)]
    return [f"{'figure (path in bench.json)':<56} {'value':>10}  target", *rows,
            f"load {r['load_before']} -> {r['load_after']} on {r['cpu_count']} CPUs ({r['cpu_model']})"]


def jsonable(obj):
    """Floats JSON can hold (NaN -> None), dict keys as strings."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return None if isinstance(obj, float) and not math.isfinite(obj) else obj


def run_bench(settings: Settings, *, smoke=False, build_from=None, sections=None, out=None, reps=None,
              sizes: dict | None = None, now=time.perf_counter, log=print) -> dict:
    """Run the chosen sections, print the table, write `bench.json`; returns the result.
    `sizes` replaces the step counts of REAL / SMOKE; `now` is the clock every timing reads."""
    from . import data

    sizes = dict(sizes or (SMOKE if smoke else REAL))
    if reps is not None:
        if not str(reps).strip().isdecimal() or int(reps) < 1:
            raise ConfigError(f"--reps must be a positive whole number, got {reps!r}.")
        sizes["reps"] = int(reps)
    sections = sections or DEFAULT_SECTIONS
    if set(sections) - set(SECTIONS):
        raise ConfigError(f"unknown bench section(s) {', '.join(sorted(set(sections) - set(SECTIONS)))}; "
                          f"choose from {', '.join(SECTIONS)}.")
    out, source, t_start = Path(out) if out else settings.build / "bench.json", data.resolve_source(settings.data), now()
    r: dict = {"mode": "smoke" if smoke else "real", "sizes": sizes, "cpu_count": os.cpu_count(), "section_s": {},
               "cpu_model": estimate.cpu_model(), "load_before": [round(x, 2) for x in os.getloadavg()]}
    log(f"Benchmark ({r['mode']}): {', '.join(sections)}")
    held, peak = {}, cpu_peak()  # held: the dataset, loaded once (the data section's load, if it ran)

    def dataset():
        if "ds" not in held:
            held["ds"] = data.load_cifar10(source, settings.data_cache)
        return held["ds"]

    def data_section():
        figures, held["ds"] = bench_data(source, log, now)
        return figures

    def fit(name, steps, plain=False):  # images/s over one epoch of `steps` batches of the quick configuration
        cfg = {**config.resolve(name, "quick"), "epochs": 1, "train_size": BATCH * steps, "test_size": sizes["test_size"]}
        return images_per_s(timed_fit(cfg, dataset(), plain=plain, now=now)[0])

    run = {"data": data_section, "training": lambda: bench_training(fit, sizes, log),
           "augmentation": lambda: bench_augmentation(fit, sizes, log),
           "flops": lambda: {"peak": peak, "models": {n: gflops(n, t["project_images_per_s"], peak)
                                                      for n, t in r["training"].items()}},
           "precision": lambda: bench_precision(settings, log, "smoke" if smoke else "full"),
           "estimate": lambda: bench_estimate(log),
           "build": lambda: (bench_build(settings, build_from, sizes["reps"], log, now) if build_from or not smoke
                             else {"skipped": "smoke mode without --build-from (a cold smoke build takes minutes)"}),
           "tta": lambda: bench_tta(settings, "smoke" if smoke else "full", peak, log)}
    for name in SECTIONS:  # in this order: flops reads the training section's rates
        if name in sections or (name == "training" and "flops" in sections):
            r["section_s"][name], r[name] = timed(run[name], now)
    r["load_after"] = [round(x, 2) for x in os.getloadavg()]
    atomic.write_json(out, jsonable(r))
    for line in table(r):
        log(line)
    log(f"Wrote {out} ({now() - t_start:.0f} s)")
    return r
