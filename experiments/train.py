"""Train and evaluate one experiment with one seed, resumably.

`train_run()` is the only place that trains. It reads a resolved configuration
(`config.resolve`), a `data.Dataset` and a run folder, and leaves in that folder:

    history.csv   one row per epoch: loss, accuracy (running, on augmented batches),
                  test_loss, test_accuracy, seconds
    model.keras   the trained model (loads with plain keras.models.load_model)
    metrics.json  written last: its presence marks the run as complete; besides the
                  usual accuracies and losses it holds `test_accuracy_mirror`, the test
                  accuracy when each image's prediction is averaged with its mirror image's

While training, `checkpoint/` holds the model, history and random-generator states after
the last completed epoch; a run that is killed resumes from there to the same numbers, to
the last bit, as a run that was never stopped.
Only `keras.*` is used, so the same code runs on the TensorFlow, JAX or PyTorch backend.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import os
import platform
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from . import atomic, estimate
from .data import Dataset, model_input, stratified_subset

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "test_loss", "test_accuracy", "seconds"]
EVAL_BATCH_SIZE = 500


class TrainingInterrupted(Exception):
    """Ctrl-C during training; carries where the run stopped (checkpoint kept)."""

    def __init__(self, epochs_done: int, epochs: int):
        super().__init__(f"stopped after epoch {epochs_done} of {epochs}")
        self.epochs_done = epochs_done
        self.epochs = epochs


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend; ask for deterministic kernels where offered."""
    import keras

    keras.utils.set_random_seed(seed)
    if backend_info()["name"] == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


# How each backend lists its devices, given the backend's module (its import name is its Keras name).
_DEVICE_LISTS = {
    "tensorflow": lambda tf: [d.device_type for d in tf.config.list_physical_devices()],
    "jax": lambda jax: [d.platform for d in jax.devices()],
    "torch": lambda torch: ["cuda"] if torch.cuda.is_available() else ["cpu"],
}


@functools.lru_cache(maxsize=None)
def backend_info() -> dict:
    """Keras' backend in this process, asked once: {"name", "version", "devices" (sorted,
    lower case), "gpu" (an accelerator is visible)}. A backend whose runtime cannot list
    its devices counts as a CPU; one that cannot be imported has version "unknown"."""
    import keras

    name = keras.backend.backend()
    version, devices = "unknown", []
    try:
        module = importlib.import_module(name)
        version = str(module.__version__)
        devices = _DEVICE_LISTS[name](module)
    except Exception:  # device listing is informative only: no usable runtime means a CPU
        pass
    devices = sorted({str(d).lower() for d in devices})
    return {"name": name, "version": version, "devices": devices, "gpu": any(d != "cpu" for d in devices)}


def precision_policy(cfg: dict, rates: dict | None = None, resumed: str | None = None) -> str:
    """The Keras dtype policy of a run: the one its checkpoint started with (`resumed`), as
    the calibration may have changed since; else `estimate.policy_for` on this machine's
    calibration (`rates`, policy -> rates, measured here unless given). Weights stay float32."""
    if resumed in estimate.POLICIES:
        return resumed
    if rates is None:
        rates = estimate.machine_rates(backend_info()["name"], [cfg], measure=True)
    return estimate.policy_for(cfg, rates)


def gpu_visible() -> bool:
    return backend_info()["gpu"]


def prepare_arrays(cfg: dict, data: Dataset) -> tuple[np.ndarray, ...]:
    """The run's train/test arrays: a fixed stratified subset, scaled to [0, 1], one-hot.

    The subset is drawn with the profile's base seed, not the run's seed, so every seed
    of an experiment (and every experiment of a profile) sees the same images.
    """
    x_tr, y_tr = stratified_subset(data.x_train, data.y_train, cfg["train_size"], seed=cfg["base_seed"])
    x_te, y_te = stratified_subset(data.x_test, data.y_test, cfg["test_size"], seed=cfg["base_seed"])
    eye = np.eye(10, dtype="float32")
    return (
        model_input(x_tr), eye[y_tr],
        model_input(x_te), eye[y_te],
    )


def mirror_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy on `x` (one-hot labels `y`) when the class probabilities of each image and of
    its left-right mirror image are averaged: test-time augmentation with a transform that
    keeps every CIFAR-10 label true. Costs two predictions of `x`, as it is and mirrored."""
    p = np.asarray(model.predict(x, batch_size=EVAL_BATCH_SIZE, verbose=0), dtype="float64")
    mirrored = np.ascontiguousarray(x[:, :, ::-1, :])  # PyTorch refuses negative strides
    p += np.asarray(model.predict(mirrored, batch_size=EVAL_BATCH_SIZE, verbose=0), dtype="float64")
    return float(np.mean(np.argmax(p, axis=1) == np.argmax(y, axis=1)))


# --- checkpointing ---------------------------------------------------------------

# The variable of each `keras.random.SeedGenerator` (random augmentation layers, dropout).
SEED_STATE = "seed_generator_state"


def _seed_states(model) -> list:
    return [v for v in model.non_trainable_variables if v.name == SEED_STATE]


class Checkpoint:
    """Model, history and random-generator states after the last completed epoch, in
    `run_dir/checkpoint/`, so that a killed run resumes to the numbers, to the last bit,
    of a run that was never stopped.

    This is not `keras.callbacks.BackupAndRestore` because that cannot keep the promise
    (measured with Keras 3.15 on TensorFlow, 300 images, 3 epochs, kill -9 after epoch 1):
    - Keras' saving, `.keras` and `save_weights` alike, leaves out the state of each
      layer's `SeedGenerator`: the flip layer's [1335, 5] after an epoch loads back as
      [1335, 0], so a resumed run replays epoch 1's flips and dropout masks. aug_flip and
      vgg then ended with other losses than uninterrupted runs; the baseline (no random
      layer) did not. Here the states are saved with the model and put back on resume.
    - It writes the weights, then the epoch number, in place: a kill between the two
      resumes epoch k+1's weights as if after epoch k, and a half-written epoch file
      stops `fit` with an error instead of starting again.
    `state.json` is replaced atomically and names the model file it belongs to, so a
    kill at any moment leaves a consistent set (or the previous one).
    """

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir) / "checkpoint"
        self.state_path = self.dir / "state.json"

    def load(self) -> dict | None:
        """{"epoch", "model" (a file name in the folder), "history", "seed_states", "policy"
        (the precision policy it trains with; absent from older checkpoints)}, or None when
        there is none or it is garbled: training then starts again from epoch 1."""
        try:
            state = atomic.read_json(self.state_path)
            name = state["model"]  # a bare file name: a path read back never leaves the run folder
            if (isinstance(name, str) and Path(name).name == name and (self.dir / name).is_file()
                    and isinstance(state["history"], list) and state["epoch"] == len(state["history"])
                    and all(isinstance(s, list) and all(isinstance(i, int) for i in s) for s in state["seed_states"])):
                return state
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def state(self) -> str | None:
        """"partial" (training resumes from here), "damaged" (garbled: training starts
        again) or None (no checkpoint). Reads files only; imports no backend."""
        if not self.state_path.exists():
            return None
        return "partial" if self.load() is not None else "damaged"

    def save(self, model, history: list[dict], policy: str) -> None:
        epoch = len(history)
        name = f"epoch-{epoch:04d}.keras"
        with atomic.atomic_path(self.dir / name) as tmp:
            model.save(tmp)
        seed_states = [[int(i) for i in np.asarray(v).ravel()] for v in _seed_states(model)]
        atomic.write_json(self.state_path, {"epoch": epoch, "model": name, "history": history,
                                            "seed_states": seed_states, "policy": policy})
        for old in self.dir.glob("epoch-*.keras"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def restore(self, state: dict):
        """The checkpointed model with its random-generator states put back."""
        import keras

        model = keras.models.load_model(self.dir / state["model"])
        variables = _seed_states(model)
        if len(variables) != len(state["seed_states"]):
            raise ValueError(f"{len(state['seed_states'])} random-generator states for {len(variables)} generators")
        for variable, values in zip(variables, state["seed_states"]):
            variable.assign(np.asarray(values, dtype=variable.dtype).reshape(variable.shape))
        return model

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def checkpoint_state(run_dir: Path) -> str | None:
    """"partial", "damaged" or None: what an interrupted run left in `run_dir` (no backend import)."""
    return Checkpoint(run_dir).state()


def _progress_callback(total_epochs: int, history: list[dict], checkpoint: Checkpoint, label: str,
                       policy: str, progress: dict | None = None):
    import keras

    progress = progress or {}

    class EpochLog(keras.callbacks.Callback):
        """Record each epoch, checkpoint it, and print one progress line with time left."""

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            row = {
                "epoch": epoch + 1,
                "loss": float(logs["loss"]),
                "accuracy": float(logs["accuracy"]),
                "test_loss": float(logs["val_loss"]),
                "test_accuracy": float(logs["val_accuracy"]),
                "seconds": time.perf_counter() - self._t0,
            }
            history.append(row)
            checkpoint.save(self.model, history, policy)
            done = len(history)
            per_epoch = sum(r["seconds"] for r in history) / done
            left = per_epoch * (total_epochs - done)
            where = ""
            if "position" in progress:
                build_left = left + progress.get("later_seconds", 0.0)
                where = f"  {progress['position']}, build ~{estimate.human(build_left)} left"
            print(
                f"  [{label}] epoch {done}/{total_epochs}  loss {row['loss']:.4f}  acc {row['accuracy']:.4f}"
                f"  test_loss {row['test_loss']:.4f}  test_acc {row['test_accuracy']:.4f}"
                f"  {row['seconds']:.1f} s  ~{estimate.human(left)} left" + where,
                flush=True,
            )

    return EpochLog()


@contextlib.contextmanager
def interrupt_between_steps():
    """Take Ctrl-C at the next step or epoch boundary of `fit`, not wherever the signal lands.

    Yields a Keras callback for `fit`. Python raises KeyboardInterrupt at whatever bytecode
    runs when SIGINT arrives, which can be inside the backend's Python wrappers (a data
    iterator, a checkpoint being saved); in a test run one such Ctrl-C aborted TensorFlow with
    "free(): invalid next size" instead of exiting cleanly. Here the handler only records
    the request and the callback raises it before the next batch, or after the epoch has
    been checkpointed. A second Ctrl-C interrupts at once. Outside the main thread, where
    no handler can be installed, the callback does nothing."""
    import keras

    requested: list[int] = []

    class Boundary(keras.callbacks.Callback):
        def _raise_if_requested(self, *args, **kwargs):
            if requested:
                raise KeyboardInterrupt

        # `*_begin` hooks: they run in line, without turning off Keras' asynchronous batch-end dispatch
        on_train_batch_begin = on_test_batch_begin = on_epoch_end = _raise_if_requested

    if threading.current_thread() is not threading.main_thread():
        yield Boundary()
        return

    def record(signum, frame):
        if requested:
            raise KeyboardInterrupt
        requested.append(signum)

    previous = signal.signal(signal.SIGINT, record)
    try:
        yield Boundary()
    finally:
        signal.signal(signal.SIGINT, previous)
    if requested:  # arrived after the last boundary `fit` passed
        raise KeyboardInterrupt


def environment() -> dict:
    """Versions and hardware, recorded with every run."""
    import keras

    info = backend_info()
    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": info["name"],
        "backend_version": info["version"],
        "devices": list(info["devices"]),
        "machine": platform.machine(),
        "cpu_model": estimate.cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def train_run(cfg: dict, seed: int, data: Dataset, run_dir: Path, extra: dict | None = None,
              callbacks: tuple = (), progress: dict | None = None) -> dict:
    """Train `cfg` with `seed` on `data`, writing history, model and metrics into run_dir.

    Resumes from `run_dir/checkpoint` when an earlier attempt was interrupted.
    `callbacks` are extra Keras callbacks (a benchmark's clock, a test's fault); they run
    after the epoch has been recorded and checkpointed. `progress` places the run in its
    build for the progress line: {"position": "run 4/18", "later_seconds": estimate of
    the runs after this one}. Returns the metrics dict (also written to metrics.json).
    """
    import keras

    from .models import build_model

    run_dir = Path(run_dir)
    label = f"{cfg['experiment']} seed {seed}"
    x_tr, y_tr, x_te, y_te = prepare_arrays(cfg, data)
    checkpoint = Checkpoint(run_dir)
    state = checkpoint.load()
    seed_everything(seed)
    policy = precision_policy(cfg, resumed=(state or {}).get("policy"))
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = checkpoint.restore(state) if state is not None else None
    except Exception:  # a damaged checkpoint model: start again rather than fail
        print(f"  [{label}] the checkpoint {checkpoint.dir} is damaged; starting again from epoch 1", flush=True)
        state = None
    if state is not None:
        history = list(state["history"])
        print(f"  [{label}] resuming after epoch {state['epoch']} of {cfg['epochs']} (checkpoint found)", flush=True)
    else:
        model = build_model(cfg, seed=seed, steps_per_epoch=math.ceil(len(x_tr) / cfg["batch_size"]))
        history = []
    initial_epoch = len(history)
    verbose = 1 if sys.stdout.isatty() else 0
    print(
        f"  [{label}] training {model.name} on {len(x_tr):,} images, testing on {len(x_te):,}; "
        f"{cfg['epochs']} epoch{'s' if cfg['epochs'] != 1 else ''} of batch {cfg['batch_size']}" + (f", {policy}" if policy != "float32" else ""),
        flush=True,
    )
    try:
        if initial_epoch < cfg["epochs"]:
            with interrupt_between_steps() as boundary:
                model.fit(
                    x_tr, y_tr,
                    batch_size=cfg["batch_size"],
                    epochs=cfg["epochs"],
                    initial_epoch=initial_epoch,
                    validation_data=(x_te, y_te),
                    validation_batch_size=EVAL_BATCH_SIZE,
                    shuffle=True,
                    verbose=verbose,
                    callbacks=[_progress_callback(cfg["epochs"], history, checkpoint, label, policy, progress),
                               *callbacks, boundary],
                )
    except KeyboardInterrupt:
        state = checkpoint.load()  # what is really saved: Ctrl-C may hit mid-save
        raise TrainingInterrupted(state["epoch"] if state else 0, cfg["epochs"]) from None

    # Final evaluation with augmentation and dropout off (inference mode).
    train_loss, train_acc = model.evaluate(x_tr, y_tr, batch_size=EVAL_BATCH_SIZE, verbose=0)
    test_loss, test_acc = model.evaluate(x_te, y_te, batch_size=EVAL_BATCH_SIZE, verbose=0)
    test_acc_mirror = mirror_accuracy(model, x_te, y_te)
    metrics = {
        "experiment": cfg["experiment"],
        "profile": cfg["profile"],
        "epochs": cfg["epochs"],
        "batch_size": cfg["batch_size"],
        "seed": seed,
        "train_size": int(len(x_tr)),
        "test_size": int(len(x_te)),
        "train_accuracy": float(train_acc),
        "train_loss": float(train_loss),
        "test_accuracy": float(test_acc),
        "test_loss": float(test_loss),
        "test_accuracy_mirror": test_acc_mirror,
        "train_seconds": float(sum(r["seconds"] for r in history)),
        "resumed_from_epoch": initial_epoch,
        "params": int(model.count_params()),
        "precision_policy": policy,
        "environment": environment(),
        **(extra or {}),
    }
    for key in ("train_accuracy", "train_loss", "test_accuracy", "test_loss", "test_accuracy_mirror"):
        if not math.isfinite(metrics[key]):
            raise FloatingPointError(f"{label}: {key} is {metrics[key]} (training diverged)")

    atomic.write_csv(run_dir / "history.csv", history, HISTORY_COLUMNS)
    with atomic.atomic_path(run_dir / "model.keras") as tmp:
        model.save(tmp)
    atomic.write_json(run_dir / "metrics.json", metrics)  # last: marks the run complete
    checkpoint.clear()
    return metrics
