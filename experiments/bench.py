"""`invoke bench`: how fast the build is, every ratio measured side by side in one run.

Sections (each a key of `bench.json`):

training      images/s of the project's own training path (`train.train_run`: its
              `model.fit` with shuffling, validation, the per-epoch checkpoint and
              progress line) against a bare `model.fit(x, y, batch_size=128)` on the
              same network and the same numpy arrays, in this process, interleaved
              (plain, project, plain, project, ...). Each step is timed from its start
              to the next step's start, after a warm-up; throughput is the batch over
              the median step (robust to a shared CPU; the mean is kept beside it).
              Validation and the per-epoch checkpoint are reported separately.
augmentation  one augmented epoch against one plain epoch of the baseline net, for each
              Exercise-1 strategy, both through the project's path.
flops         achieved GFLOP/s (multiply-adds counted from the model's layers) against
              the CPU's theoretical fp32 peak, and how that peak was derived.
data          the first decode of the data source into an empty cache against the
              cached load.
build         a no-op `invoke all` (everything cached; TensorFlow must stay unimported)
              and `invoke report` re-rendering everything from cached training runs,
              each in a fresh Python process.
knobs         CPU settings tried on the same arrays: the precision policy (float32,
              mixed_bfloat16, mixed_float16) and the evaluation batch size.
estimate      the `quick` profile's training time projected from the measured rates.

Smoke mode (`--smoke`, CI) runs each section with a handful of steps in about a minute;
it checks the plumbing, not the speed. TensorFlow is imported here, never by
the build itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import atomic, config
from .errors import ConfigError, Pw09Error
from .pipeline import ROOT, Settings

BATCH = 128
WARMUP_STEPS = 3

# Real (on demand) and smoke (CI) sizes: steps of the one epoch each measurement trains
# (the first WARMUP_STEPS untimed; a multiple of 5, so the stratified subset of
# 128 x steps images splits evenly over the 10 classes), and rounds of each comparison.
REAL = {"baseline_steps": 105, "vgg_steps": 35, "aug_steps": 65, "knob_steps": 45, "reps": 3,
        "test_size": 1000, "eval_images": 5000}
SMOKE = {"baseline_steps": 5, "vgg_steps": 5, "aug_steps": 5, "knob_steps": 5, "reps": 1,
         "test_size": 100, "eval_images": 500}

TARGETS = {
    "noop_all_s": ("<", 3.0),
    "report_from_cache_s": ("<", 20.0),
    "augmented_over_plain": ("<=", 1.10),
    "project_over_plain": (">=", 1.0),
    "quick_profile_s": ("<", 1800.0),
}


# =====================================================================================
# Timing instruments
# =====================================================================================

def _now() -> float:
    return time.perf_counter()


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Clock:
    """Step timestamps from Keras callback hooks; shared by both paths, so the
    instrument costs the same on each."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.steps: list[tuple[int, float, float]] = []  # (epoch, begin, end)
        self.validation: list[float] = []
        self.epoch_end: list[float] = []
        self.epoch = 0
        self._b = self._v = 0.0

    def intervals(self) -> list[float]:
        """Seconds per timed step: from one step's start to the next one's (so data
        fetching and per-step callbacks count), the last step of an epoch to its end."""
        out = []
        for i, (epoch, begin, end) in enumerate(self.steps):
            if i < self.warmup:
                continue
            nxt = self.steps[i + 1] if i + 1 < len(self.steps) else None
            out.append(nxt[1] - begin if nxt is not None and nxt[0] == epoch else end - begin)
        return out

    def timed(self) -> tuple[int, float]:
        """(timed steps, seconds): per epoch, from the first timed step's start to the
        last step's end, so data fetching and per-step callbacks count, validation not."""
        n, seconds = 0, 0.0
        for epoch in sorted({e for e, _, _ in self.steps}):
            rows = [(b, e) for i, (ep, b, e) in enumerate(self.steps) if ep == epoch and i >= self.warmup]
            if rows:
                n += len(rows)
                seconds += rows[-1][1] - rows[0][0]
        return n, seconds

    def callback(self):
        import keras

        clock = self

        class ClockCallback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                clock.epoch = epoch

            def on_train_batch_begin(self, batch, logs=None):
                clock._b = _now()

            def on_train_batch_end(self, batch, logs=None):
                clock.steps.append((clock.epoch, clock._b, _now()))

            def on_test_begin(self, logs=None):
                clock._v = _now()

            def on_test_end(self, logs=None):
                clock.validation.append(_now() - clock._v)

        return ClockCallback()

    def wrap(self, callback):
        """Make the project's own callback also record timings (same object, same behaviour)."""
        clock = self
        base = type(callback)

        class Timed(base):
            def on_epoch_begin(self, epoch, logs=None):
                clock.epoch = epoch
                super().on_epoch_begin(epoch, logs)

            def on_train_batch_begin(self, batch, logs=None):
                clock._b = _now()
                super().on_train_batch_begin(batch, logs)

            def on_train_batch_end(self, batch, logs=None):
                super().on_train_batch_end(batch, logs)
                clock.steps.append((clock.epoch, clock._b, _now()))

            def on_test_begin(self, logs=None):
                clock._v = _now()
                super().on_test_begin(logs)

            def on_test_end(self, logs=None):
                super().on_test_end(logs)
                clock.validation.append(_now() - clock._v)

            def on_epoch_end(self, epoch, logs=None):
                t0 = _now()
                super().on_epoch_end(epoch, logs)  # the project's checkpoint + progress line
                clock.epoch_end.append(_now() - t0)

        callback.__class__ = Timed
        return callback


def _rate(clock: _Clock, wall: float, cpu: float, **extra) -> dict:
    """Throughput from the median step: robust to the seconds another process steals
    from a shared CPU (the mean, from the total time, is kept beside it)."""
    n, seconds = clock.timed()
    steps = clock.intervals()
    median = statistics.median(steps) if steps else float("nan")
    return {
        "images_per_s": BATCH / median if steps and median > 0 else float("nan"),
        "images_per_s_mean": BATCH * n / seconds if seconds > 0 else float("nan"),
        "timed_steps": n,
        "step_ms": 1000 * median,
        "validation_s": sum(clock.validation),
        "epoch_end_s": sum(clock.epoch_end),
        "wall_s": wall,
        "cpu_share": cpu / wall if wall > 0 else float("nan"),  # cores this process got
        **extra,
    }


# =====================================================================================
# The two training paths
# =====================================================================================

def _bench_cfg(name: str, steps: int, test_size: int, epochs: int = 1) -> dict:
    """The experiment's quick-profile configuration, resized to `steps` full batches."""
    if steps % 5 or steps <= WARMUP_STEPS:
        raise ConfigError(f"bench steps must be a multiple of 5 above {WARMUP_STEPS}, got {steps}.")
    cfg = config.resolve(name, "quick")
    n = BATCH * steps
    cfg.update(epochs=epochs, train_size=n, test_size=test_size)
    return cfg


def _arrays(cfg: dict, dataset):
    from .train import prepare_arrays

    return prepare_arrays(cfg, dataset)


def plain_fit(cfg: dict, dataset, seed: int = 1234) -> dict:
    """A bare `model.fit(x, y, batch_size=128)` on the project's network and arrays."""
    import keras

    from .models import build_model

    x, y, _, _ = _arrays(cfg, dataset)
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(cfg, seed=seed)
    clock = _Clock(WARMUP_STEPS)
    w0, c0 = _now(), _cpu_seconds()
    model.fit(x, y, batch_size=BATCH, epochs=cfg["epochs"], verbose=0, callbacks=[clock.callback()])
    return _rate(clock, _now() - w0, _cpu_seconds() - c0, path="plain model.fit")


def project_fit(cfg: dict, dataset, seed: int = 1234) -> dict:
    """`train.train_run` itself, in a scratch run folder, its callback instrumented."""
    from . import train

    clock = _Clock(WARMUP_STEPS)
    original = train._progress_callback
    with tempfile.TemporaryDirectory(prefix="pw09-bench-run-") as run_dir:
        train._progress_callback = lambda *a, **k: clock.wrap(original(*a, **k))
        w0, c0 = _now(), _cpu_seconds()
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # not a tty: verbose=0, as in CI/logs
                metrics = train.train_run(cfg, seed, dataset, Path(run_dir) / "run")
        finally:
            train._progress_callback = original
        wall, cpu = _now() - w0, _cpu_seconds() - c0
    n_val = cfg["test_size"] * cfg["epochs"]
    val = sum(clock.validation)
    return _rate(clock, wall, cpu, path="train.train_run",
                 validation_images_per_s=n_val / val if val > 0 else float("nan"),
                 params=metrics["params"])


def _interleave(pairs: list[tuple[str, callable]], reps: int, log) -> dict[str, list[dict]]:
    """Run each (label, fn) in turn, `reps` rounds, so load drift hits all alike."""
    out: dict[str, list[dict]] = {label: [] for label, _ in pairs}
    for r in range(reps):
        for label, fn in pairs:
            res = fn()
            out[label].append(res)
            log(f"    {label:<22} round {r + 1}/{reps}: {res['images_per_s']:8.1f} images/s "
                f"(step {res['step_ms']:.1f} ms, {res['cpu_share']:.2f} cores)")
    return out


def _ratio(num: list[dict], den: list[dict]) -> dict:
    """Per-round ratios of throughput (round i against round i) and their median."""
    rs = [a["images_per_s"] / b["images_per_s"] for a, b in zip(num, den)]
    return {"ratio": statistics.median(rs), "rounds": rs}


def bench_training(dataset, sizes: dict, log) -> dict:
    out = {}
    for name, steps in (("baseline", sizes["baseline_steps"]), ("vgg", sizes["vgg_steps"])):
        cfg = _bench_cfg(name, steps, sizes["test_size"])
        log(f"  training: {name}, {steps - WARMUP_STEPS} timed steps of {BATCH} after {WARMUP_STEPS} warm-up steps")
        runs = _interleave([("plain model.fit", lambda: plain_fit(cfg, dataset)),
                            ("project train_run", lambda: project_fit(cfg, dataset))], sizes["reps"], log)
        plain, project = runs["plain model.fit"], runs["project train_run"]
        out[name] = {
            "plain_images_per_s": statistics.median(r["images_per_s"] for r in plain),
            "project_images_per_s": statistics.median(r["images_per_s"] for r in project),
            "project_over_plain": _ratio(project, plain),
            "validation_images_per_s": statistics.median(r["validation_images_per_s"] for r in project),
            "checkpoint_and_log_s_per_epoch": statistics.median(r["epoch_end_s"] for r in project),
            "params": project[0]["params"],
            "runs": runs,
        }
    return out


def bench_augmentation(dataset, sizes: dict, log) -> dict:
    """Each Exercise-1 strategy against the same net without augmentation."""
    strategies = {e["augmentation"]: n for n, e in config.EXPERIMENTS.items()
                  if e["model"] == "baseline" and e["augmentation"]}
    plain_name = next(n for n, e in config.EXPERIMENTS.items() if e["model"] == "baseline" and not e["augmentation"])
    steps = sizes["aug_steps"]
    log(f"  augmentation: {', '.join(strategies)} against {plain_name}, {steps - WARMUP_STEPS} timed steps each")
    pairs = [(plain_name, lambda: project_fit(_bench_cfg(plain_name, steps, sizes["test_size"]), dataset))]
    for s, name in strategies.items():
        pairs.append((name, lambda name=name: project_fit(_bench_cfg(name, steps, sizes["test_size"]), dataset)))
    runs = _interleave(pairs, sizes["reps"], log)
    out = {}
    for s, name in strategies.items():
        # seconds per image, augmented over plain = plain rate over augmented rate
        r = _ratio(runs[plain_name], runs[name])
        out[s] = {"experiment": name, "augmented_over_plain": r,
                  "plain_images_per_s": statistics.median(x["images_per_s"] for x in runs[plain_name]),
                  "augmented_images_per_s": statistics.median(x["images_per_s"] for x in runs[name])}
    return {"strategies": out, "runs": runs}


# =====================================================================================
# FLOPs and the CPU's peak
# =====================================================================================

def count_macs(model) -> dict:
    """Multiply-adds per image of the forward pass, by layer (Conv2D and Dense only:
    everything else -- ReLU, pooling, batch norm, augmentation -- is a rounding error)."""
    import keras

    per_layer, first = {}, None

    def walk(layer):
        nonlocal first
        if isinstance(layer, keras.Model):
            for sub in layer.layers:
                walk(sub)
            return
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            per_layer[layer.name] = int(h * w * kh * kw * c_in * c_out)
        elif isinstance(layer, keras.layers.Dense):
            c_in, c_out = layer.kernel.shape
            per_layer[layer.name] = int(c_in * c_out)
        else:
            return
        first = first or layer.name

    walk(model)
    forward = sum(per_layer.values())
    # Training = forward + gradient w.r.t. the weights (same MACs) + gradient w.r.t. the
    # inputs (same MACs, except for the first layer, whose input needs no gradient).
    train = 3 * forward - (per_layer[first] if first else 0)
    return {"forward_macs": forward, "train_macs": train, "train_flop": 2 * train, "per_layer": per_layer}


def cpu_peak() -> dict:
    """Theoretical fp32 peak: cores x clock x FLOP per cycle, and how it was derived."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {"cores": cores, "machine": platform.machine()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {**info, "gflops": None, "derivation": "no /proc/cpuinfo: peak unknown on this OS"}

    def field(name):
        m = re.search(rf"^{name}\s*:\s*(.+)$", text, re.M)
        return m.group(1).strip() if m else ""

    flags = set(field("flags").split())
    vendor, family, model_name = field("vendor_id"), field("cpu family"), field("model name")
    mhz = float(field("cpu MHz") or 0) or None
    if mhz is None:
        m = re.search(r"@\s*([\d.]+)\s*GHz", model_name)
        mhz = float(m.group(1)) * 1000 if m else None
    if "avx512f" in flags and vendor == "AuthenticAMD" and family == "25":
        per_cycle, why = 32, "Zen 4 runs AVX-512 as two 256-bit halves: 2 FMA pipes x 8 fp32 lanes x 2 FLOP"
    elif "avx512f" in flags:
        per_cycle, why = 64, "AVX-512: 2 FMA units x 16 fp32 lanes x 2 FLOP (parts with one 512-bit FMA unit reach half)"
    elif "avx2" in flags and "fma" in flags:
        per_cycle, why = 32, "AVX2+FMA: 2 FMA units x 8 fp32 lanes x 2 FLOP"
    elif "avx" in flags:
        per_cycle, why = 16, "AVX without FMA: 8-lane add + 8-lane multiply per cycle"
    else:
        per_cycle, why = 8, "SSE: 4-lane add + 4-lane multiply per cycle"
    gflops = cores * (mhz / 1000) * per_cycle if mhz else None
    return {
        **info, "vendor": vendor, "family": family, "model_name": model_name, "mhz": mhz,
        "flop_per_cycle_per_core": per_cycle, "gflops": gflops,
        "bf16_instructions": sorted(f for f in flags if "bf16" in f),
        "derivation": (f"{cores} cores x {mhz / 1000 if mhz else float('nan'):.3f} GHz (cpu MHz of /proc/cpuinfo: "
                       f"the nominal clock a VM reports; boost not counted) x {per_cycle} fp32 FLOP/cycle ({why})"),
    }


def bench_flops(training: dict, log) -> dict:
    import keras

    from .models import build_model

    peak = cpu_peak()
    out = {"peak": peak, "models": {}}
    for name, res in training.items():
        keras.mixed_precision.set_global_policy("float32")
        macs = count_macs(build_model(config.resolve(name, "quick"), seed=0))
        rate = res["project_images_per_s"]
        achieved = rate * macs["train_flop"] / 1e9
        out["models"][name] = {
            **{k: macs[k] for k in ("forward_macs", "train_macs", "train_flop")},
            "images_per_s": rate, "achieved_gflops": achieved,
            "fraction_of_peak": achieved / peak["gflops"] if peak.get("gflops") else None,
        }
    return out


# =====================================================================================
# Data loading
# =====================================================================================

def bench_data(source, log) -> tuple[dict, object]:
    """First decode into an empty cache, then the cached load; returns (figures, dataset)."""
    from . import data

    with tempfile.TemporaryDirectory(prefix="pw09-bench-data-") as cache:
        cache = Path(cache)
        t0 = _now()
        fingerprint = data.source_fingerprint(source, cache)
        t_hash = _now() - t0
        t0 = _now()
        first = data.load_cifar10(source, cache)
        t_first = _now() - t0
        t0 = _now()
        data.source_fingerprint(source, cache)
        t_memo = _now() - t0
        t0 = _now()
        cached = data.load_cifar10(source, cache)
        t_cached = _now() - t0
    log(f"  data: first decode {t_first:.2f} s, cached load {t_cached:.3f} s")
    return {
        "source": first.source, "fingerprint": fingerprint,
        "images": int(len(first.x_train) + len(first.x_test)),
        "hash_s": t_hash, "memoised_hash_s": t_memo,
        "first_decode_s": t_first, "cached_load_s": t_cached,
        "first_over_cached": t_first / t_cached if t_cached > 0 else float("nan"),
    }, cached


# =====================================================================================
# The build: no-op `invoke all`, `invoke report` from cached runs
# =====================================================================================

# Runs `invoke ARGS` in a fresh interpreter and reports, at exit, how long the process
# lived and which heavy modules it imported.
_PROBE = r"""
import atexit, json, sys, time
t0 = time.perf_counter()
HEAVY = ("tensorflow", "keras", "jax", "torch", "matplotlib", "weasyprint", "scipy", "pandas", "jinja2")
def _report():
    sys.stderr.write("PW09_PROBE " + json.dumps({
        "in_process_s": time.perf_counter() - t0,
        "imported": [m for m in HEAVY if m in sys.modules]}) + "\n")
atexit.register(_report)
from invoke.main import program
program.run(["invoke", *sys.argv[1:]])
"""


def run_invoke(args: list[str], env: dict) -> dict:
    """`invoke ARGS` in a subprocess: wall seconds (interpreter start included), exit
    code, heavy modules it imported, and the tail of its output."""
    t0 = _now()
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3600)
    wall = _now() - t0
    probe = {}
    for line in proc.stderr.splitlines():
        if line.startswith("PW09_PROBE "):
            probe = json.loads(line.removeprefix("PW09_PROBE "))
    if proc.returncode != 0:
        raise Pw09Error(f"`invoke {' '.join(args)}` failed during the benchmark (exit {proc.returncode}): "
                        f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return {"args": args, "wall_s": wall, "returncode": proc.returncode, **probe,
            "stdout_tail": proc.stdout.strip().splitlines()[-4:]}


def bench_build(settings: Settings, build_from: Path | None, profile: str, reps: int, log) -> dict:
    """Time the build's cached paths on a scratch copy of a build folder.

    With `build_from`, that folder's runs and data cache are copied (it is never
    written); without, a `smoke` build is trained first in the scratch folder. Then:
    `invoke report` with every training run cached and nothing else (what `invoke clean`
    leaves), `invoke all` (it must train nothing), and the no-op `invoke all` and
    `invoke report` with everything cached.
    """
    out: dict = {"profile": profile}
    with tempfile.TemporaryDirectory(prefix="pw09-bench-build-") as scratch:
        build, dist = Path(scratch) / "build", Path(scratch) / "dist"
        env = dict(os.environ, PW09_BUILD_DIR=str(build), PW09_DIST_DIR=str(dist))
        if settings.data:
            env["PW09_DATA"] = str(settings.data)
        base = ["--profile", profile] + (["--seeds", str(settings.n_seeds)] if settings.n_seeds else [])
        if build_from is not None:
            build_from = Path(build_from)
            if not (build_from / "runs").is_dir():
                raise ConfigError(f"--build-from {build_from} holds no runs/ folder; point it at a build folder.")
            log(f"  build: copying the runs and data cache of {build_from}")
            for sub in ("runs", "data"):
                if (build_from / sub).is_dir():
                    shutil.copytree(build_from / sub, build / sub, ignore=shutil.ignore_patterns(".lock", "checkpoint"))
            out["source_build"] = str(build_from)
        else:
            log(f"  build: training a {profile} build from scratch (no --build-from)")
            out["cold_all_s"] = run_invoke(["all", *base], env)["wall_s"]
            for sub in ("results", "figures", "report", ".stamps"):  # what `invoke clean` deletes
                shutil.rmtree(build / sub, ignore_errors=True)
            shutil.rmtree(dist, ignore_errors=True)

        rep = run_invoke(["report", *base], env)
        out["report_from_cache"] = rep
        out["report_from_cache_s"] = rep["wall_s"]
        log(f"  build: `invoke report` from cached runs {rep['wall_s']:.1f} s")
        first = run_invoke(["all", *base], env)
        out["first_all_s"] = first["wall_s"]
        out["first_all_trained"] = any(line.startswith("Training ") for line in first["stdout_tail"])

        noop = [run_invoke(["all", *base], env) for _ in range(max(reps, 3))]
        out["noop_all"] = noop[-1]
        out["noop_all_s"] = statistics.median(r["wall_s"] for r in noop)
        out["noop_all_in_process_s"] = statistics.median(r.get("in_process_s", float("nan")) for r in noop)
        out["noop_imports_tensorflow"] = any(m in r.get("imported", []) for r in noop for m in ("tensorflow", "keras"))
        log(f"  build: no-op `invoke all` {out['noop_all_s']:.2f} s, heavy imports {noop[-1].get('imported')}")
        out["noop_report_s"] = run_invoke(["report", *base], env)["wall_s"]
    return out


# =====================================================================================
# CPU knobs
# =====================================================================================

def _fit_rate(cfg, dataset, *, policy="float32") -> dict:
    import keras

    from .models import build_model

    x, y, _, _ = _arrays(cfg, dataset)
    keras.utils.set_random_seed(1234)
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model(cfg, seed=1234)
        clock = _Clock(WARMUP_STEPS)
        w0, c0 = _now(), _cpu_seconds()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[clock.callback()])
        return _rate(clock, _now() - w0, _cpu_seconds() - c0, policy=policy)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _eval_rates(name: str, dataset, n_images: int, batch_sizes: list[int], rounds: int) -> dict:
    """Forward (evaluation) images/s by batch size; every batch shape traced beforehand,
    rounds interleaved, the best round per batch size (interference only slows)."""
    import keras

    from .models import build_model

    cfg = config.resolve(name, "quick")
    cfg.update(train_size=None, test_size=n_images)
    _, _, x, y = _arrays(cfg, dataset)
    keras.utils.set_random_seed(1234)
    model = build_model(cfg, seed=1234)
    for bs in batch_sizes:
        model.evaluate(x, y, batch_size=bs, verbose=0)  # traces the full and the remainder batch
    rates: dict[int, list[float]] = {bs: [] for bs in batch_sizes}
    for _ in range(rounds):
        for bs in batch_sizes:
            t0 = _now()
            model.evaluate(x, y, batch_size=bs, verbose=0)
            rates[bs].append(len(x) / (_now() - t0))
    return {bs: max(r) for bs, r in rates.items()}


def bench_knobs(dataset, sizes: dict, log, models=("baseline", "vgg"), with_float16: bool = True) -> dict:
    """The precision policy (what `--mixed-precision` picks: mixed_bfloat16 on CPUs with
    AVX512_BF16 or AMX, float16 only on GPUs, where it is native) and the evaluation batch
    size. XLA is not among them: Keras refuses `jit_compile` for
    these models ("Model doesn't support jit_compile=True") and trains without it."""
    from .train import EVAL_BATCH_SIZE

    out = {}
    for name in models:
        cfg = _bench_cfg(name, sizes["knob_steps"] if name == "baseline" else sizes["vgg_steps"], sizes["test_size"])
        variants = [("float32", lambda: _fit_rate(cfg, dataset)),
                    ("mixed_bfloat16", lambda: _fit_rate(cfg, dataset, policy="mixed_bfloat16"))]
        if name == "baseline" and with_float16:
            variants.append(("mixed_float16", lambda: _fit_rate(cfg, dataset, policy="mixed_float16")))
        log(f"  knobs: {name}: {', '.join(v for v, _ in variants)}")
        runs = _interleave(variants, sizes["reps"], log)
        out[name] = {v: {"images_per_s": statistics.median(r["images_per_s"] for r in runs[v]),
                         "over_float32": _ratio(runs[v], runs["float32"])} for v, _ in variants}
    batch_sizes = sorted({128, 256, EVAL_BATCH_SIZE, 1000, 2000})
    for name in models:
        n = sizes["eval_images"] if name == "baseline" else max(sizes["eval_images"] // 2, 500)
        batch_sizes_here = [b for b in batch_sizes if b <= n]
        rates = _eval_rates(name, dataset, n, batch_sizes_here, rounds=1 if sizes["reps"] < 2 else 3)
        out[f"eval_{name}"] = {"images": n, "images_per_s_by_batch": rates, "current_batch": EVAL_BATCH_SIZE}
        log(f"  knobs: {name} evaluation images/s by batch size: "
            + ", ".join(f"{b}: {r:.0f}" for b, r in rates.items()))
    return out


# =====================================================================================
# Projection of the quick profile
# =====================================================================================

def quick_estimate(training: dict, augmentation: dict, knobs: dict | None) -> dict:
    """Seconds the `quick` profile's training would take at the measured rates."""
    from .train import EVAL_BATCH_SIZE

    shallow = training["baseline"]["project_images_per_s"]
    deep = training["vgg"]["project_images_per_s"]
    slow = {s: v["augmented_over_plain"]["ratio"] for s, v in augmentation["strategies"].items()}

    def eval_rate(model):
        if knobs and f"eval_{model}" in knobs:
            rates = knobs[f"eval_{model}"]["images_per_s_by_batch"]
            return rates.get(EVAL_BATCH_SIZE) or max(rates.values())
        return training[model]["validation_images_per_s"]

    total, rows = 0.0, {}
    for name in config.experiment_names():
        cfg = config.resolve(name, "quick")
        rate = shallow if cfg["model"] == "baseline" else deep
        if cfg["augmentation"]:
            rate /= slow.get(cfg["augmentation"], 1.0)
        n_train = cfg["train_size"] or 50000
        n_test = cfg["test_size"] or 10000
        ev = eval_rate(cfg["model"])
        seconds = cfg["epochs"] * (n_train / rate + n_test / ev) + (n_train + n_test) / ev
        rows[name] = seconds
        total += seconds
    return {"per_experiment_s": rows, "quick_profile_s": total,
            "note": "training steps + per-epoch validation + final evaluation at the measured rates; "
                    "tracing, checkpoints, figures and report (about a minute) not included"}


# =====================================================================================
# Driver
# =====================================================================================

def _verdict(key: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    op, target = TARGETS[key]
    ok = value < target if op == "<" else value <= target if op == "<=" else value >= target
    return f"{'ok' if ok else 'MISSED'} (target {op} {target:g})"


def table(result: dict) -> list[str]:
    """The printed summary: one line per figure, with its target where it has one."""
    lines = [f"{'figure':<52} {'value':>12}  target", "-" * 90]

    def row(label, value, fmt="{:.2f}", key=None):
        text = fmt.format(value) if isinstance(value, (int, float)) and value is not None else str(value)
        lines.append(f"{label:<52} {text:>12}  {_verdict(key, value) if key else ''}")

    tr = result.get("training", {})
    for name, r in tr.items():
        row(f"{name}: plain model.fit images/s", r["plain_images_per_s"], "{:.1f}")
        row(f"{name}: project train_run images/s", r["project_images_per_s"], "{:.1f}")
        row(f"{name}: project / plain throughput", r["project_over_plain"]["ratio"], key="project_over_plain")
        row(f"{name}: validation images/s (batch {result.get('eval_batch', '')})", r["validation_images_per_s"], "{:.0f}")
        row(f"{name}: checkpoint + log per epoch, s", r["checkpoint_and_log_s_per_epoch"], "{:.2f}")
    for s, r in result.get("augmentation", {}).get("strategies", {}).items():
        row(f"augmented / plain epoch: {s}", r["augmented_over_plain"]["ratio"], key="augmented_over_plain")
    fl = result.get("flops")
    if fl:
        peak = fl["peak"].get("gflops")
        row("CPU fp32 peak GFLOP/s", peak, "{:.1f}")
        for name, r in fl["models"].items():
            row(f"{name}: achieved GFLOP/s (fraction of peak)", r["achieved_gflops"], "{:.1f}")
            if r["fraction_of_peak"] is not None:
                row(f"{name}: fraction of peak", r["fraction_of_peak"], "{:.1%}")
    da = result.get("data")
    if da:
        row("data: first decode, s", da["first_decode_s"])
        row("data: cached load, s", da["cached_load_s"], "{:.3f}")
        row("data: first / cached", da["first_over_cached"], "{:.0f}x")
    kn = result.get("knobs")
    if kn:
        for name in ("baseline", "vgg"):
            for v, r in kn.get(name, {}).items():
                if v != "float32":
                    row(f"knob {name}: {v} / float32 throughput", r["over_float32"]["ratio"])
        for name in ("baseline", "vgg"):
            ev = kn.get(f"eval_{name}")
            if ev:
                best = max(ev["images_per_s_by_batch"].items(), key=lambda kv: kv[1])
                cur = ev["images_per_s_by_batch"].get(ev["current_batch"])
                row(f"knob {name}: eval best batch {best[0]} / batch {ev['current_batch']}",
                    best[1] / cur if cur else None)
    bu = result.get("build")
    if bu and "noop_all_s" in bu:
        row(f"no-op `invoke all --profile {bu['profile']}`, s", bu["noop_all_s"], key="noop_all_s")
        row("  ... imports TensorFlow", bu["noop_imports_tensorflow"], "{}")
        row("no-op `invoke report`, s", bu["noop_report_s"])
        row("`invoke report` from cached runs, s", bu["report_from_cache_s"], "{:.1f}", key="report_from_cache_s")
        if "cold_all_s" in bu:
            row(f"cold `invoke all --profile {bu['profile']}`, s", bu["cold_all_s"], "{:.1f}")
    elif bu:
        row("build", bu.get("skipped", "skipped"), "{}")
    es = result.get("estimate")
    if es:
        row("quick profile training, projected s", es["quick_profile_s"], "{:.0f}", key="quick_profile_s")
    lines.append("-" * 90)
    lines.append(f"load average {result['load_before']} -> {result['load_after']} on {result['cpu_count']} CPUs; "
                 "ratios are side by side, absolute rates depend on what else runs")
    return lines


def run_bench(settings: Settings, *, smoke: bool = False, build_from: str | None = None,
              sections: list[str] | None = None, out: Path | None = None, reps: int | None = None,
              log=print) -> dict:
    """Run the benchmark, print its table, write `bench.json`; returns the result dict."""
    from . import data
    from .train import EVAL_BATCH_SIZE

    sizes = dict(SMOKE if smoke else REAL)
    if reps is not None:
        if int(reps) < 1:
            raise ConfigError(f"--reps must be at least 1, got {reps}.")
        sizes["reps"] = int(reps)
    all_sections = ["data", "training", "augmentation", "flops", "knobs", "build"]
    sections = sections or all_sections
    unknown = set(sections) - set(all_sections)
    if unknown:
        raise ConfigError(f"unknown bench section(s) {', '.join(sorted(unknown))}; choose from {', '.join(all_sections)}.")
    out = Path(out) if out else settings.build / "bench.json"
    source = data.resolve_source(settings.data)
    t_start = _now()
    result: dict = {
        "mode": "smoke" if smoke else "real", "sizes": sizes, "batch_size": BATCH, "eval_batch": EVAL_BATCH_SIZE,
        "warmup_steps": WARMUP_STEPS, "cpu_count": os.cpu_count(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "targets": {k: list(v) for k, v in TARGETS.items()},
    }
    log(f"Benchmark ({result['mode']}): {', '.join(sections)}")
    data_res, dataset = bench_data(source, log)
    result["data"] = data_res
    section_s = result["section_s"] = {"data": _now() - t_start}
    result["dataset"] = {"train": int(len(dataset.x_train)), "test": int(len(dataset.x_test))}
    need_train = {"training", "augmentation", "flops", "knobs"} & set(sections)
    if need_train:
        import keras

        from .train import environment

        result["environment"] = environment()
        log(f"  backend {keras.backend.backend()}, devices {result['environment']['devices']}")

    def timed(name, fn):
        t0 = _now()
        result[name] = fn()
        section_s[name] = _now() - t0

    if "training" in sections or "flops" in sections:
        timed("training", lambda: bench_training(dataset, sizes, log))
    if "augmentation" in sections:
        timed("augmentation", lambda: bench_augmentation(dataset, sizes, log))
    if "flops" in sections:
        timed("flops", lambda: bench_flops(result["training"], log))
    if "knobs" in sections:
        timed("knobs", lambda: bench_knobs(dataset, sizes, log, models=("baseline",) if smoke else ("baseline", "vgg"),
                                           with_float16=not smoke))
    if "training" in result and "augmentation" in result:
        result["estimate"] = quick_estimate(result["training"], result["augmentation"], result.get("knobs"))
    if "build" in sections:
        if smoke and build_from is None:
            result["build"] = {"skipped": "smoke mode without --build-from (a cold smoke build takes minutes)"}
        else:
            timed("build", lambda: bench_build(settings, Path(build_from) if build_from else None,
                                               settings.profile if build_from else "smoke", sizes["reps"], log))
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["bench_s"] = _now() - t_start
    atomic.write_json(out, _jsonable(result))
    lines = table(result)
    for line in lines:
        log(line)
    log(f"Wrote {out} ({result['bench_s']:.0f} s)")
    return result


def _jsonable(obj):
    """Floats that JSON can hold (NaN -> None), dict keys as strings."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return _jsonable(obj.item())
    return obj
