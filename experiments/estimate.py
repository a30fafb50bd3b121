"""How long each run of a build will take here: a short calibration, cached per machine.

`calibrate()` times a few training steps (in batches of the network's recipe) and one
evaluation of each network, and a few steps of each augmentation an experiment gives it,
on random arrays (about a minute on two CPU cores, once per machine, backend and precision
policy), and caches the rates in `~/.cache/pw09/calibration.json` (`PW09_CACHE` moves it).
`policy_for()` picks the precision policy a run trains with from those rates.
`observe()` corrects a rate from a finished run's real epochs, and times the policies
again where those epochs show that the calibration ran under other conditions. `seconds()` turns a
resolved run configuration into an estimate from those rates, and
`plan_lines()` prints the plan that `invoke all` shows before it trains. Reading the
cache needs no TensorFlow, so `invoke list` shows the same estimates for free.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from importlib import metadata
from pathlib import Path

from . import atomic, config

TRAIN_IMAGES, TEST_IMAGES = 50_000, 10_000  # CIFAR-10's splits; a profile's None means all
CAL_STEPS, EVAL_IMAGES = 3, 1_000
# A timed fit of CAL_STEPS steps that takes less than MIN_FIT_SECONDS is timed again with more,
# at most CAL_MAX_STEPS (`fit_rate`).
MIN_FIT_SECONDS, CAL_MAX_STEPS = 1.0, 32
# How the rates were timed (`fit_rate`): 2, fits of about MIN_FIT_SECONDS or more (2026-12-05); 1,
# fits of CAL_STEPS steps whatever they lasted, which priced the baseline at 0.66 times the speed
# of its real epochs. Entries record it and their batch size (`conditions`), and an entry timed
# under other conditions than today's is measured again. Entries from before they recorded either
# were timed by method 1 in batches of 128.
CAL_METHOD = 2
OLD_CONDITIONS = {"batch_size": 128, "method": 1}
# Each rate is the best of this many timed fits. Other processes only ever slow a fit down, so
# the fastest is the machine's (timeit's minimum, for the same reason). One fit alone measured
# the VGG net in mixed_bfloat16 at 149 to 296 images/s on the same 2-core Zen 4 within an hour,
# and float32 at 148 to 208: enough to pick the slower policy.
CAL_REPEATS = 3


def probe_name(model: str, augmentation: str | None) -> str:
    return model if augmentation is None else f"{model}+{augmentation}"


# What is timed: every network with every augmentation an experiment gives it. The share
# of augmentation depends on the backend and device: on two CPU cores with TensorFlow it
# is small beside the VGG net's step, but on an H200 under PyTorch (Keras 3.15) the VGG
# net trained at 3,250 images/s without augmentation and at 550 with flips and shifts.
PROBES = {probe_name(e["model"], e["augmentation"]): (e["model"], e["augmentation"])
          for e in config.EXPERIMENTS.values()}
# The experiment whose settings a network is timed with: the first one that trains it.
NETWORK_EXPERIMENT = {e["model"]: name for name, e in reversed(config.EXPERIMENTS.items())}
LONG_CPU_BUILD = 3600.0  # above this, the plan suggests --profile quick or a GPU

# The precision policies a run may train with. The mixed one computes in bfloat16 and
# keeps float32 weights; it needs no loss scaling (float16 would), and it is the format this
# project has checked for accuracy on the full data (README, "Mixed precision").
MIXED = "mixed_bfloat16"
POLICIES = ("float32", MIXED)


def probe_batch(model_name: str) -> int:
    """The batch size a network trains with in its recipe, which is the one it is timed at: on a
    GPU a small batch runs fewer images per second than a large one."""
    return config.resolve(NETWORK_EXPERIMENT[model_name], "smoke")["batch_size"]


def conditions(model_name: str) -> dict:
    """What a network's calibrated rates depend on besides the machine: the batch it was timed
    at and how it was timed. Each cached entry records them."""
    return {"batch_size": probe_batch(model_name), "method": CAL_METHOD}


def cache_file() -> Path:
    root = os.environ.get("PW09_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pw09"
    return Path(root) / "calibration.json"


def cpu_fields(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo ("model name", "cpu family", "flags", ...);
    {} where there is no such file."""
    try:
        first = Path(cpuinfo).read_text().split("\n\n")[0]
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for key, _, value in (line.partition(":") for line in first.splitlines()):
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's name, with its family and model numbers where the kernel gives them: a cloud
    VM may name only the vendor's line ("AMD EPYC"), which spans generations of different speed,
    and the calibration is cached per CPU."""
    fields = cpu_fields(cpuinfo)
    name = fields.get("model name")
    if not name:
        return platform.processor() or platform.machine()
    if fields.get("cpu family") and fields.get("model"):
        return f"{name} (family {fields['cpu family']}, model {fields['model']})"
    return name


def machine_key(backend: str, policy: str = "float32") -> str:
    """What the rates depend on: the CPU, its cores, the backend and its version, the policy."""
    try:
        version = metadata.version({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend))
    except metadata.PackageNotFoundError:
        version = "?"
    return f"{cpu_model()} x{os.cpu_count()} | {backend} {version} | {policy}"


def cached(backend: str, policy: str = "float32") -> dict | None:
    """The cached rates of this machine, or None (never imports a backend)."""
    try:
        rates = json.loads(cache_file().read_text()).get(machine_key(backend, policy))
    except (OSError, ValueError, AttributeError):
        return None
    # A calibration that lacks a probe (an older version's, or a new experiment's) is none, and
    # so is one that timed a network at another batch size than its recipe's now, or otherwise.
    if not isinstance(rates, dict) or not set(PROBES) <= set(rates):
        return None
    stale = any({key: rates[name].get(key, old) for key, old in OLD_CONDITIONS.items()} != conditions(model)
                for name, (model, _) in PROBES.items())
    return None if stale else rates


def fit_rate(model, x, y, batch: int, repeats: int = CAL_REPEATS, now=time.perf_counter) -> tuple[float, float]:
    """(seconds of a first one-batch fit, which traces the step; images/s of the fastest of
    `repeats` fits), in batches of `batch`. `now` is the clock.

    A fit has CAL_STEPS steps. Where those take under MIN_FIT_SECONDS, the fits are timed
    again with as many steps as would fill MIN_FIT_SECONDS at their pace (at most what `x`
    holds): each `fit` call costs a fixed time besides its steps (its data adapter, iterator
    and callbacks, about 40 ms on two CPU cores), which an epoch of hundreds of steps pays
    once. Three of the baseline's steps take about 0.1 s, and they priced it at 0.66 times
    the speed of its real epochs in mixed_bfloat16."""
    def fastest(n: int) -> float:
        best = float("inf")
        for _ in range(repeats):
            t0 = now()
            model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0)
            best = min(best, now() - t0)
        return best

    t0 = now()
    model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)
    startup = now() - t0
    steps = CAL_STEPS
    seconds = fastest(steps * batch)
    if seconds < MIN_FIT_SECONDS and len(x) > steps * batch:
        steps = min(math.ceil(steps * MIN_FIT_SECONDS / max(seconds, 1e-9)), len(x) // batch)
        seconds = fastest(steps * batch)
    return startup, steps * batch / seconds


def _head_model(block=None):
    """A pooling and a dense layer, with `block` (an augmentation block) in front if given."""
    import keras

    from . import models

    inputs = keras.Input(models.INPUT_SHAPE)
    x = block(inputs) if block is not None else inputs
    outputs = keras.layers.Dense(models.NUM_CLASSES, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def probe(model_name: str, augmentation: str | None, policy: str, plain: dict | None = None) -> dict:
    """Training and evaluation rates of one network with one augmentation, on random arrays.

    A plain network is built and timed: a few training steps and one evaluation. An
    augmented one is its `plain` network plus the augmentation block: the block runs in
    the same step, before the network, and is an identity at evaluation. So only the block
    is timed, in front of a trivial head (a pooling and a dense layer), and its seconds
    per image are added to the plain network's: the network is not traced twice, which
    was half of the VGG net's calibration. The head alone is timed too and subtracted, so
    the fixed cost of a training step, already in the plain network's rate, is not counted
    twice: on two CPU cores that fixed cost priced flips and shifts at 40-50 % of the
    baseline's training step, where whole epochs measure 5-10 %."""
    import keras
    import numpy as np

    from . import models

    if augmentation and plain is None:
        plain = probe(model_name, None, policy)
    keras.mixed_precision.set_global_policy(policy)
    batch = probe_batch(model_name)
    rng = np.random.default_rng(0)
    x = rng.random((batch * CAL_MAX_STEPS, *models.INPUT_SHAPE), dtype="float32")
    y = np.eye(models.NUM_CLASSES, dtype="float32")[rng.integers(0, models.NUM_CLASSES, len(x))]
    try:
        if augmentation:
            (_, head_rate), (startup, with_block) = (
                fit_rate(_head_model(block), x, y, batch)
                for block in (None, models.augmentation_block(config.AUGMENTATIONS[augmentation], seed=0)))
            block_rate = 1 / max(1 / with_block - 1 / head_rate, 1e-7)  # timing noise can make it negative
            return {**plain, "train_images_per_s": 1 / (1 / plain["train_images_per_s"] + 1 / block_rate),
                    "startup_s": plain["startup_s"] + startup, "augmentation_images_per_s": block_rate}
        cfg = config.resolve(NETWORK_EXPERIMENT[model_name], "smoke")
        model = models.build_model(cfg, seed=0, steps_per_epoch=CAL_MAX_STEPS)
        startup, train = fit_rate(model, x, y, batch)
        xe, ye = np.resize(x, (EVAL_IMAGES, *models.INPUT_SHAPE)), np.resize(y, (EVAL_IMAGES, models.NUM_CLASSES))
        t0 = time.perf_counter()
        model.evaluate(xe[:500], ye[:500], batch_size=500, verbose=0)
        eval_startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.evaluate(xe, ye, batch_size=500, verbose=0)
        return {"train_images_per_s": train, "eval_images_per_s": EVAL_IMAGES / (time.perf_counter() - t0),
                "startup_s": startup + eval_startup, "eval_startup_s": eval_startup}
    finally:
        keras.mixed_precision.set_global_policy("float32")


def calibrate(backend: str, policy: str = "float32", log=print, probe=probe) -> dict:
    """Measure (or read back) this machine's training and evaluation rates; `probe`
    (model, augmentation, policy, plain=) times one of `PROBES`."""
    found = cached(backend, policy)
    if found:
        return found
    log(f"Calibrating: a few timed training steps of each network with each of its augmentations ({policy}), "
        "once per machine ...")
    t0 = time.perf_counter()
    rates: dict = {}
    for name, (model, aug) in sorted(PROBES.items(), key=lambda item: item[1][1] is not None):  # plain ones first
        rates[name] = {**probe(model, aug, policy, plain=rates.get(probe_name(model, None))), **conditions(model)}
    rates["measured"] = time.strftime("%Y-%m-%d %H:%M")
    rates["calibration_seconds"] = round(time.perf_counter() - t0, 1)
    path = cache_file()
    try:
        table = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        table = {}
    table[machine_key(backend, policy)] = rates
    try:
        atomic.write_json(path, table)
    except OSError:  # a read-only home: estimate this time, measure again next time
        pass
    return rates


# A finished run whose epochs are this far from its calibrated rate shows that the calibration
# ran under other conditions (another process loading the machine), and so did its comparison of
# the precision policies. One calibration on a 2-core Zen 4 timed the VGG net at 149 images/s in
# both policies, where its epochs ran at 200 in float32 and 300 in mixed_bfloat16: the tie chose
# float32, and only the chosen policy's rate was ever corrected, so the choice stuck.
RECHECK = 0.25


def observe(backend: str, policy: str, cfg: dict, epoch_seconds: list[float], probe=probe, log=print) -> None:
    """Correct the cached training rate with a finished run's real epochs: a calibration
    taken while something else loaded the machine would otherwise mislead every later
    plan. Runs under 5,000 images are too short to say more than the calibration.

    Where the run may train in either precision policy and its epochs are more than
    `RECHECK` away from the calibration, both policies are timed again now, one after the
    other (`probe`, as in `calibrate`), and the other policy's rate becomes the real one
    times their ratio: the next run then chooses from a fair comparison."""
    n_train = cfg["train_size"] or TRAIN_IMAGES
    rates = cached(backend, policy)
    if not rates or n_train < 5_000 or not epoch_seconds:
        return
    name = probe_for(cfg)
    rate = rates[name]
    n_test = cfg["test_size"] or TEST_IMAGES
    training = sorted(epoch_seconds)[len(epoch_seconds) // 2] - n_test / rate["eval_images_per_s"]
    if training <= 0:
        return
    calibrated, observed = rate["train_images_per_s"], n_train / training
    rate["train_images_per_s"] = observed
    corrected = {machine_key(backend, policy): rates}
    other = next(p for p in POLICIES if p != policy) if policy in POLICIES else None
    other_rates = cached(backend, other) if other and cfg.get("mixed_precision") else None
    if other_rates and abs(observed / calibrated - 1) > RECHECK:
        log(f"{name} trained at {observed:,.0f} images/s in {policy} where the calibration said {calibrated:,.0f}; "
            f"timing {' and '.join(POLICIES)} again to choose between them ...")
        fresh = {p: probe(cfg["model"], cfg["augmentation"], p)["train_images_per_s"] for p in (policy, other)}
        other_rates[name]["train_images_per_s"] = observed * fresh[other] / fresh[policy]
        corrected[machine_key(backend, other)] = other_rates
    try:
        table = json.loads(cache_file().read_text())
        table.update(corrected)
        atomic.write_json(cache_file(), table)
    except (OSError, ValueError):
        pass


def probe_for(cfg: dict) -> str:
    return probe_name(cfg["model"], cfg["augmentation"])


def policy_for(cfg: dict, rates: dict) -> str:
    """The precision policy of a run: mixed bfloat16 where its configuration allows mixed
    precision and this machine's calibration (`rates`: policy -> rates, or None when not
    measured) trains the run's network and augmentation faster with it; float32 otherwise.
    CPU flags do not decide it: on a 2-core Xeon with AVX512_BF16 (no AMX) mixed_bfloat16
    trained at 0.4-0.9x float32's speed, on a 2-core Zen 4 at 1.4-1.7x."""
    float32, mixed = rates.get("float32"), rates.get(MIXED)
    if not cfg.get("mixed_precision") or not float32 or not mixed:
        return "float32"
    probe = probe_for(cfg)
    return MIXED if mixed[probe]["train_images_per_s"] > float32[probe]["train_images_per_s"] else "float32"


def machine_rates(backend: str, cfgs: list[dict], measure: bool, log=print) -> dict:
    """policy -> this machine's rates (None where not cached) for the policies `cfgs` may
    train with: measured first when `measure` (that imports the backend), else the cache."""
    wanted = POLICIES if any(cfg.get("mixed_precision") for cfg in cfgs) else ("float32",)
    return {p: calibrate(backend, p, log=log) if measure else cached(backend, p) for p in wanted}


def seconds(cfg: dict, rates: dict, epochs_done: int = 0) -> float:
    """Estimated wall time of one run: building and tracing the model, the epochs it has
    left after `epochs_done` checkpointed ones (training plus the per-epoch test
    evaluation) and the final evaluation: the training and test images, then the test images
    twice more, as they are and mirrored (`train.mirror_accuracy`)."""
    r = rates[probe_for(cfg)]
    n_train = cfg["train_size"] or TRAIN_IMAGES
    n_test = cfg["test_size"] or TEST_IMAGES
    per_epoch = n_train / r["train_images_per_s"] + n_test / r["eval_images_per_s"]
    final = (n_train + 3 * n_test) / r["eval_images_per_s"]
    return r.get("startup_s", 0.0) + max(cfg["epochs"] - epochs_done, 0) * per_epoch + final


def human(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def plan_lines(planned: list[tuple[str, int, dict, int, float]], profile: str, on_gpu: bool) -> list[str]:
    """The plan printed before training: one line per run (name, seed, configuration,
    epochs already checkpointed, seconds), the total, and a hint when a CPU build of the
    full profile will take more than an hour."""
    total = sum(s for *_, s in planned)
    lines = [f"Plan: {len(planned)} run{'s' if len(planned) != 1 else ''} to train, about {human(total)} on this machine"]
    for i, (name, seed, cfg, done, secs) in enumerate(planned, 1):
        images = cfg["train_size"] or TRAIN_IMAGES
        left = cfg["epochs"] - done
        resumes = f"  (resumes after epoch {done} of {cfg['epochs']})" if done else ""
        lines.append(f"  {i:>2}. {name:<11} seed {seed}  {left:>2} {'epochs' if left != 1 else 'epoch '} x "
                     f"{images:>6,} images  ~{human(secs)}{resumes}")
    if profile == "full" and not on_gpu and total > LONG_CPU_BUILD:
        runs = "this run of the full profile needs" if len(planned) == 1 else "these runs of the full profile need"
        lines.append(f"  note: {runs} about {human(total)} on this CPU; `--profile quick` takes a "
                     "fraction of that, and README, 'GPUs', says what a GPU does. Going ahead.")
    return lines
