"""Training runs: which runs a build needs, which of them are cached, and training the rest.

A run is one experiment under one profile and seed, cached in
`runs/<experiment>/s<seed>-<key>/` by a key of the train stage's parameters (resolved
configuration, data fingerprint, training code, seed, backend: `stages.STAGES["train"]`).
Nothing here imports TensorFlow; training imports it lazily, only when a run is trained.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import atomic, config
from .errors import Interrupted
from .keras_env import keras_backend
from .settings import Settings, shown_path
from .stages import RUN_FILES, STAGES, run_key
from .stamps import file_digest

# What a finished run's metrics.json and history.csv hold, at least.
METRICS = ("train_accuracy", "train_loss", "test_accuracy", "test_loss", "test_accuracy_mirror", "train_seconds")
CURVES = ("loss", "accuracy", "test_loss", "test_accuracy")
# `.digests.json` records what a finished run's files were when training wrote them.
RUN_DIGESTS = ".digests.json"


class DataSource:
    """The data source, fingerprinted cheaply and decoded only if something trains."""

    def __init__(self, settings: Settings):
        from . import data

        self._data = data
        self.settings = settings
        self.source = data.resolve_source(settings.data)
        self._fingerprint = None
        self._dataset = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self._data.source_fingerprint(self.source, self.settings.data_cache)
        return self._fingerprint

    @property
    def description(self) -> str:
        return self._data.describe_source(self.source)

    def load(self):
        if self._dataset is None:
            t0 = time.perf_counter()
            self._dataset = self._data.load_cifar10(self.source, self.settings.data_cache)
            print(f"Data: {self._dataset.source} ({time.perf_counter() - t0:.1f} s)", flush=True)
        return self._dataset


@dataclass
class Run:
    experiment: str
    seed: int
    cfg: dict
    key: str
    dir: Path

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def damaged(self) -> bool:
        return self.state == "damaged"

    @property
    def partial(self) -> bool:
        return self.state == "partial"

    @cached_property
    def state(self) -> str:
        """done / damaged (a file garbled or changed since training) / partial / none."""
        if (self.dir / "metrics.json").exists() or (self.dir / RUN_DIGESTS).exists():
            return "done" if run_intact(self.dir) else "damaged"
        from .train import checkpoint_state  # TensorFlow-free: it reads the checkpoint's state.json

        return checkpoint_state(self.dir) or "none"

    @cached_property
    def checkpoint(self) -> dict | None:
        """The checkpoint training resumes from (None unless the run is partial)."""
        from .train import Checkpoint

        return Checkpoint(self.dir).load() if self.partial else None

    @property
    def epochs_done(self) -> int:
        """Checkpointed epochs that training resumes after (0 unless the run is partial)."""
        return self.checkpoint["epoch"] if self.checkpoint else 0


def record_run(run_dir: Path) -> None:
    atomic.write_json(run_dir / RUN_DIGESTS, {name: file_digest(run_dir / name) for name in RUN_FILES})


def run_intact(run_dir: Path) -> bool:
    """The run's files are those training wrote (by digest) or, for a run trained before
    digests were recorded, at least complete and readable."""
    try:
        recorded = atomic.read_json(run_dir / RUN_DIGESTS)
    except FileNotFoundError:
        recorded = None
    except (OSError, ValueError):
        return False
    try:
        if recorded is not None:
            return isinstance(recorded, dict) and all(
                file_digest(run_dir / name) == recorded.get(name) for name in RUN_FILES)
        metrics = atomic.read_json(run_dir / "metrics.json")
        history = atomic.read_csv(run_dir / "history.csv")
        return (isinstance(metrics, dict) and all(isinstance(metrics.get(m), (int, float)) for m in METRICS)
                and bool(history) and all(set(CURVES) <= set(row) for row in history)
                and (run_dir / "model.keras").stat().st_size > 0)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False


def discard_run(run_dir: Path) -> None:
    """Delete one run folder of the build, never what a symlink points to."""
    if run_dir.is_symlink():
        run_dir.unlink()
        return
    (run_dir / "metrics.json").unlink(missing_ok=True)  # first, so a kill mid-delete leaves no "done" run
    (run_dir / RUN_DIGESTS).unlink(missing_ok=True)
    shutil.rmtree(run_dir, ignore_errors=True)


def training_code() -> str:
    """Digest of the code training runs (train.py and what it imports of the project)."""
    return STAGES["train"].code_hash()


def plan_runs(settings: Settings, name: str, fingerprint: str, code: str | None = None) -> list[Run]:
    """The runs of experiment `name` for this profile's seeds; `code` is the training code's
    digest (default: this checkout's, `training_code()`)."""
    cfg = config.resolve(name, settings.profile, settings.overrides)
    code = training_code() if code is None else code
    runs = []
    for seed in settings.seeds:
        _, params, outs = STAGES["train"].io(settings, cfg=cfg, fingerprint=fingerprint, seed=seed, code=code)
        runs.append(Run(name, seed, cfg, run_key(params), outs[0].parent))
    return runs


def experiment_status(settings: Settings, name: str, fingerprint: str) -> str:
    """cached / damaged / partial (some seeds done or a run interrupted) / stale (finished runs
    of this profile exist, but for other data, code or settings) / missing (none of this profile)."""
    runs = plan_runs(settings, name, fingerprint)
    if any(r.damaged for r in runs):
        return f"damaged ({sum(r.damaged for r in runs)}/{len(runs)} seeds)"
    done = sum(r.done for r in runs)
    if done == len(runs):
        return "cached"
    if done or any(r.partial for r in runs):
        return f"partial ({done}/{len(runs)} seeds)"
    folder = settings.runs / name
    others = [p for p in folder.glob("s*-*") if _profile_of(p) == settings.profile] if folder.exists() else []
    return "stale" if others else "missing"


def _profile_of(run_dir: Path) -> str | None:
    """The profile a finished run was trained under; None for an unfinished or unreadable run."""
    try:
        metrics = atomic.read_json(run_dir / "metrics.json")
    except (OSError, ValueError):
        return None
    return metrics.get("profile") if isinstance(metrics, dict) else None


def pending_runs(settings: Settings, names: list[str], fingerprint: str, force: bool = False) -> list[Run]:
    """The runs of `names` that a build would train, in order (all of them with force)."""
    return [run for name in names for run in plan_runs(settings, name, fingerprint) if force or not run.done]


def estimates(settings: Settings, runs: list[Run], measure: bool) -> list[float] | None:
    """Estimated seconds per run on this machine, each at the precision policy it will
    train with, from its calibration: measured first when `measure` (that imports the
    backend), else the cached one, or None when there is none."""
    from . import estimate
    from .train import precision_policy

    rates = estimate.machine_rates(keras_backend(), [run.cfg for run in runs], measure)
    secs = []
    for run in runs:
        policy_rates = rates.get(precision_policy(run.cfg, rates, resumed=(run.checkpoint or {}).get("policy")))
        if not policy_rates:
            return None
        secs.append(estimate.seconds(run.cfg, policy_rates, run.epochs_done))
    return secs


def train_runs(settings: Settings, names: list[str], source: DataSource, force: bool = False) -> list[Run]:
    """Train every run of `names` that is not cached (all of them with force), after
    printing the plan with this machine's time estimates."""
    from . import estimate

    todo = pending_runs(settings, names, source.fingerprint, force)
    if not todo:
        return []
    dataset = source.load()  # a bad data source fails here, before anything is deleted
    from .train import TrainingInterrupted, gpu_visible, train_run

    secs = estimates(settings, todo, measure=True)
    planned = [(run.experiment, run.seed, run.cfg, run.epochs_done, s) for run, s in zip(todo, secs)]
    for line in estimate.plan_lines(planned, settings.profile, on_gpu=gpu_visible()):
        print(line, flush=True)
    code = training_code()
    for i, run in enumerate(todo):
        if run.done or run.damaged:  # retrain a complete or damaged run; an interrupted one resumes
            if run.damaged:
                print(f"{run.experiment} seed {run.seed}: {shown_path(run.dir)} is damaged; training it again", flush=True)
            discard_run(run.dir)
        print(f"Training {run.experiment} (seed {run.seed}, profile {settings.profile}), run {i + 1} of {len(todo)} "
              f"-> {shown_path(run.dir)}", flush=True)
        extra = {
            "data_fingerprint": source.fingerprint,
            "data_source": dataset.source,
            "config_hash": config.config_hash(run.cfg),
            "code_hash": code,
            "run_key": run.key,
        }
        progress = {"position": f"run {i + 1}/{len(todo)}", "later_seconds": sum(secs[i + 1:])}
        try:
            metrics = train_run(run.cfg, run.seed, dataset, run.dir, extra=extra, progress=progress)
            record_run(run.dir)
            estimate.observe(keras_backend(), metrics["precision_policy"], run.cfg,
                             [row["seconds"] for row in atomic.read_csv(run.dir / "history.csv")])
        except TrainingInterrupted as stop:
            raise Interrupted(
                f"interrupted: {run.experiment} seed {run.seed} stopped after epoch {stop.epochs_done} of {stop.epochs}; "
                f"run the same command again to resume from epoch {stop.epochs_done + 1}."
            ) from None
    return todo
