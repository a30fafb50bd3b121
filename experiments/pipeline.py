"""The build graph: which runs exist, which are stale, and the steps that turn runs
into results, figures, a report and a zip.

Like a `dvc.yaml`, every step declares what it reads (files and parameters) and what it
writes; a stamp in `build/.stamps/` records the digest of its inputs, and a step reruns
only when that digest changes or an output is missing. Training runs are cached by
key instead: `runs/<experiment>/s<seed>-<hash of config, data fingerprint, code>/`.

Nothing here imports TensorFlow. Training, evaluation and the activation visualiser
import it lazily, only when something actually has to be computed.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import functools
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import atomic, config
from .errors import Interrupted, Pw09Error

ROOT = Path(__file__).resolve().parent.parent
# The code whose change makes a trained model stale. Prose, templates, figures and the
# report builder are deliberately not in here: editing them never retrains.
TRAINING_CODE = [ROOT / "experiments" / "models.py", ROOT / "experiments" / "train.py"]


# --- settings and paths ------------------------------------------------------------


@dataclass
class Settings:
    profile: str = config.DEFAULT_PROFILE
    data: str | None = None
    n_seeds: int | None = None
    build: Path = field(default_factory=lambda: env_path("PW09_BUILD_DIR", ROOT / "build"))
    dist: Path = field(default_factory=lambda: env_path("PW09_DIST_DIR", ROOT / "dist"))
    strict: bool = False
    image_index: int = 12
    mixed_precision: bool = False
    # The report's HTML templates and prose; other folders only for tests and drafts.
    templates: Path = field(default_factory=lambda: env_path("PW09_TEMPLATES", ROOT / "templates"))
    report_src: Path = field(default_factory=lambda: env_path("PW09_REPORT_SRC", ROOT / "report_src"))

    def __post_init__(self):
        config.check_profile(self.profile)
        self.build = Path(self.build).resolve()
        self.dist = Path(self.dist).resolve()
        self.templates = Path(self.templates).resolve()
        self.report_src = Path(self.report_src).resolve()
        check_output_folder(self.build, "build folder (PW09_BUILD_DIR)")
        check_output_folder(self.dist, "dist folder (PW09_DIST_DIR)")
        self.seeds = config.seeds_for(self.profile, self.n_seeds)
        self.overrides = {"mixed_precision": True} if self.mixed_precision else {}
        if self.image_index < 0:
            raise config.ConfigError(f"--image-index must be 0 or more, got {self.image_index}; "
                                     "pass the index of a training image (default 12).")

    runs = property(lambda self: self.build / "runs")
    results = property(lambda self: self.build / "results")
    figures = property(lambda self: self.build / "figures")
    report = property(lambda self: self.build / "report")
    data_cache = property(lambda self: self.build / "data")
    stamps = property(lambda self: self.build / ".stamps")


def env_path(name: str, default: Path) -> Path:
    """A folder from the environment; an empty variable counts as unset (never the cwd)."""
    return Path(os.environ.get(name, "").strip() or default)


def check_output_folder(folder: Path, what: str) -> None:
    """Refuse `/`, the home folder, the checkout and its ancestors as an output folder."""
    home = Path.home().resolve()
    if folder == Path(folder.anchor) or folder == home or ROOT.is_relative_to(folder):
        raise config.ConfigError(
            f"the {what} {folder} is the file-system root, the home folder or the project checkout (or holds it); "
            "point it at a folder of its own, e.g. build/ or dist/ inside the checkout.")


@contextlib.contextmanager
def build_lock(settings: Settings, create: bool = True):
    """One build at a time per build folder: a second one is refused, not interleaved.

    Also checks, before anything runs, that the build and dist folders can be written,
    and sweeps the `.tmp-*` files a killed build left behind.
    """
    if create:
        atomic.ensure_dir(settings.build)
        atomic.ensure_dir(settings.dist)
    try:
        fh = open(settings.build / ".lock", "w")
    except OSError as exc:
        raise Pw09Error(
            f"cannot write in the output folder {settings.build} ({exc.strerror}); choose a writable location "
            "(PW09_BUILD_DIR) or fix its permissions."
        ) from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise Pw09Error(
            f"another build is already running in {settings.build}; wait for it to finish or stop it first."
        ) from None
    try:
        atomic.sweep_temporaries(settings.build)
        atomic.sweep_temporaries(settings.dist, recursive=False)
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


# --- hashing -------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    """sha256 of a file; a large one (a model) is hashed once per process for each version
    of it (inode, size, mtime), small ones every time (an in-place edit may keep all three)."""
    st = os.stat(path)
    if st.st_size < 1 << 20:
        return _digest.__wrapped__(str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    return _digest(str(path), st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _digest(path: str, inode: int, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_hash() -> str:
    h = hashlib.sha256()
    for path in TRAINING_CODE:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


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


# --- training runs -------------------------------------------------------------------


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
        from .train import checkpoint_state  # reads files only: no backend import

        return checkpoint_state(self.dir) or "none"


# A finished run's files; `.digests.json` records what they were when training wrote them.
RUN_FILES = ("metrics.json", "history.csv", "model.keras")
RUN_DIGESTS = ".digests.json"


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
        history = read_history(run_dir / "history.csv")
        return (isinstance(metrics, dict) and all(isinstance(metrics.get(m), (int, float)) for m in METRICS)
                and bool(history) and all(set(CURVES) <= set(row) for row in history)
                and (run_dir / "model.keras").stat().st_size > 0)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False


def keras_backend() -> str:
    """The backend Keras will use, read as Keras reads it, without importing Keras."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        return json.loads((home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def plan_runs(settings: Settings, name: str, fingerprint: str) -> list[Run]:
    cfg = config.resolve(name, settings.profile, settings.overrides)
    chash = config.config_hash(cfg)
    code = code_hash()
    # A run trained under another Keras backend is another run (numerics differ). The
    # default backend adds nothing, so its keys stay what they always were.
    backend = keras_backend()
    tag = "" if backend == "tensorflow" else f"|{backend}"
    runs = []
    for seed in settings.seeds:
        key = hashlib.sha256(f"{chash}|{fingerprint}|{code}|{seed}{tag}".encode()).hexdigest()[:12]
        runs.append(Run(name, seed, cfg, key, settings.runs / name / f"s{seed}-{key}"))
    return runs


def experiment_status(settings: Settings, name: str, fingerprint: str) -> str:
    """cached / damaged / partial (some seeds done or a run interrupted) / stale / missing."""
    runs = plan_runs(settings, name, fingerprint)
    if any(r.damaged for r in runs):
        return f"damaged ({sum(r.damaged for r in runs)}/{len(runs)} seeds)"
    done = sum(r.done for r in runs)
    if done == len(runs):
        return "cached"
    if done or any(r.partial for r in runs):
        return f"partial ({done}/{len(runs)} seeds)"
    folder = settings.runs / name
    others = [p for p in folder.glob("s*-*") if (p / "metrics.json").exists()] if folder.exists() else []
    return "stale" if others else "missing"


def pending_runs(settings: Settings, names: list[str], fingerprint: str, force: bool = False) -> list[Run]:
    """The runs of `names` that a build would train, in order (all of them with force)."""
    return [run for name in names for run in plan_runs(settings, name, fingerprint) if force or not run.done]


def estimates(settings: Settings, runs: list[Run], measure: bool) -> list[float] | None:
    """Estimated seconds per run on this machine from its calibration: measured first
    when `measure` (that imports the backend), else the cached one or None."""
    from . import estimate

    policy = "float32"
    if measure and runs and settings.mixed_precision:
        from .train import precision_policy

        policy = precision_policy(runs[0].cfg)
    rates = estimate.calibrate(keras_backend(), policy) if measure else estimate.cached(keras_backend(), policy)
    return [estimate.seconds(run.cfg, rates) for run in runs] if rates else None


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
    planned = [(run.experiment, run.seed, run.cfg, s) for run, s in zip(todo, secs)]
    for line in estimate.plan_lines(planned, settings.profile, on_gpu=gpu_visible()):
        print(line, flush=True)
    for i, run in enumerate(todo):
        if run.done or run.damaged:  # retrain a complete or damaged run; an interrupted one resumes
            if run.damaged:
                print(f"{run.experiment} seed {run.seed}: {_rel(run.dir)} is damaged; training it again", flush=True)
            discard_run(run.dir)
        print(f"Training {run.experiment} (seed {run.seed}, profile {settings.profile}), run {i + 1} of {len(todo)} "
              f"-> {_rel(run.dir)}", flush=True)
        extra = {
            "data_fingerprint": source.fingerprint,
            "data_source": dataset.source,
            "config_hash": config.config_hash(run.cfg),
            "code_hash": code_hash(),
            "run_key": run.key,
        }
        progress = {"position": f"run {i + 1}/{len(todo)}", "later_seconds": sum(secs[i + 1:])}
        try:
            metrics = train_run(run.cfg, run.seed, dataset, run.dir, extra=extra, progress=progress)
            record_run(run.dir)
            estimate.observe(keras_backend(), metrics["precision_policy"], run.cfg,
                             [row["seconds"] for row in read_history(run.dir / "history.csv")])
        except TrainingInterrupted as stop:
            raise Interrupted(
                f"interrupted: {run.experiment} seed {run.seed} stopped after epoch {stop.epochs_done} of {stop.epochs}; "
                f"run the same command again to resume from epoch {stop.epochs_done + 1}."
            ) from None
    return todo


def discard_run(run_dir: Path) -> None:
    """Delete one run folder of the build, never what a symlink points to."""
    if run_dir.is_symlink():
        run_dir.unlink()
        return
    (run_dir / "metrics.json").unlink(missing_ok=True)  # first, so a kill mid-delete leaves no "done" run
    (run_dir / RUN_DIGESTS).unlink(missing_ok=True)
    shutil.rmtree(run_dir, ignore_errors=True)


# --- results: runs aggregated over seeds -----------------------------------------------

METRICS = ("train_accuracy", "train_loss", "test_accuracy", "test_loss", "train_seconds")
CURVES = ("loss", "accuracy", "test_loss", "test_accuracy")


def read_history(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(fh)]


def aggregate(runs_metrics: list[dict], histories: list[list[dict]], cfg: dict) -> tuple[dict, list[dict]]:
    """Combine per-seed runs into one result: per-seed values, mean and sample std.

    Pure: no files. Returns (metrics, mean_history) where mean_history has one row per
    epoch with the mean over seeds of each curve and its std (`<curve>_std`).
    """
    from .stats import mean_std

    first = runs_metrics[0]
    per_seed = {m: [r[m] for r in runs_metrics] for m in METRICS}
    means, stds = {}, {}
    for m in METRICS:
        means[m], stds[m] = mean_std(per_seed[m])
    out = {
        "experiment": cfg["experiment"],
        "title": cfg["title"],
        "exercise": cfg["exercise"],
        "augmentation": cfg["augmentation"],
        "augmentation_layers": cfg["augmentation_layers"],
        "model": cfg["model"],
        "profile": cfg["profile"],
        "epochs": first["epochs"],
        "batch_size": first["batch_size"],
        "recipe": cfg.get("recipe"),
        "optimizer": cfg["optimizer"],
        "learning_rate": cfg["learning_rate"],
        "weight_decay": cfg.get("weight_decay", 0.0),
        "schedule": cfg.get("schedule", "constant"),
        "warmup_epochs": cfg.get("warmup_epochs", 0),
        "label_smoothing": cfg.get("label_smoothing", 0.0),
        "loss": cfg["loss"],
        "seed": first["seed"],
        "seeds": [r["seed"] for r in runs_metrics],
        "n_seeds": len(runs_metrics),
        "train_size": first["train_size"],
        "test_size": first["test_size"],
        "params": first["params"],
        "data_fingerprint": first["data_fingerprint"],
        "data_source": first["data_source"],
        "config_hash": first["config_hash"],
        "code_hash": first["code_hash"],
        "runs": [r["run_key"] for r in runs_metrics],
        "environment": first["environment"],
        "resumed_from_epoch": [r.get("resumed_from_epoch", 0) for r in runs_metrics],
        **means,
        "std": stds,
        "per_seed": per_seed,
    }
    n_epochs = min(len(h) for h in histories)
    mean_history = []
    for i in range(n_epochs):
        row = {"epoch": i + 1}
        for c in CURVES:
            row[c], row[f"{c}_std"] = mean_std([h[i][c] for h in histories])
        mean_history.append(row)
    return out, mean_history


def publish(settings: Settings, name: str, fingerprint: str) -> dict | None:
    """Write results/<name>/ (metrics.json, history.csv, history_seeds.csv, model.keras)
    from the current profile's runs; returns the metrics, or None if a run is missing.
    Rewrites nothing when the published runs are already the current ones."""
    runs = plan_runs(settings, name, fingerprint)
    if not all(r.done for r in runs):
        return None
    out = settings.results / name
    current = out / "metrics.json"
    # The publishing code is a dependency too: a new aggregate (more published keys) republishes.
    step = Step(settings, f"results-{name}", deps=[r.dir / f for r in runs for f in RUN_FILES] + [Path(__file__)],
                params={"runs": [r.key for r in runs]},
                outs=[out / "history.csv", out / "history_seeds.csv", out / "model.keras", current])
    if not step.needed():
        return atomic.read_json(current)
    try:
        runs_metrics = [atomic.read_json(r.dir / "metrics.json") for r in runs]
        histories = [read_history(r.dir / "history.csv") for r in runs]
    except (OSError, ValueError) as exc:
        raise Pw09Error(f"cannot read {getattr(exc, 'filename', None) or 'a run of ' + name} "
                        f"({getattr(exc, 'strerror', None) or exc}); fix its permissions or run "
                        f"`invoke experiment --name {name}` to train it again.") from None
    metrics, mean_history = aggregate(runs_metrics, histories, runs[0].cfg)
    metrics["history"] = {c: [row[c] for row in mean_history] for c in ("epoch", *CURVES)}
    metrics["history_std"] = {c: [row[f"{c}_std"] for row in mean_history] for c in CURVES}

    cols = ["epoch", *CURVES, *(f"{c}_std" for c in CURVES)]
    lines = [",".join(cols)] + [",".join(repr(row[c]) for c in cols) for row in mean_history]
    atomic.write_text(out / "history.csv", "\n".join(lines) + "\n")
    seed_cols = ["epoch", *CURVES, "seconds"]
    seed_lines = [",".join(["seed", *seed_cols])]
    for run, hist in zip(runs, histories):
        for row in hist:
            seed_lines.append(",".join([str(run.seed), *(repr(row[c]) for c in seed_cols)]))
    atomic.write_text(out / "history_seeds.csv", "\n".join(seed_lines) + "\n")
    with atomic.atomic_path(out / "model.keras") as tmp:
        shutil.copyfile(runs[0].dir / "model.keras", tmp)
    atomic.write_json(current, metrics)  # last: the folder is consistent once this lands
    step.done()
    return metrics


def current_results(settings: Settings, fingerprint: str) -> tuple[dict, dict]:
    """The published results that belong to this profile, data and code.

    Returns (results, problems): results maps experiment -> metrics; problems maps an
    experiment to why it is absent ("missing", or what makes it stale). A stale
    result is never returned as current.
    """
    results, problems = {}, {}
    for name in config.experiment_names():
        path = settings.results / name / "metrics.json"
        if not path.exists():
            problems[name] = "missing"
            continue
        try:
            metrics = atomic.read_json(path)
            assert isinstance(metrics, dict)
        except (OSError, ValueError, AssertionError):
            problems[name] = f"damaged ({_rel(path)} is unreadable; `invoke all` rebuilds it from its runs)"
            continue
        expected = [r.key for r in plan_runs(settings, name, fingerprint)]
        if metrics.get("runs") == expected:
            results[name] = metrics
        elif metrics.get("profile") != settings.profile:
            problems[name] = f"stale (made under profile {metrics.get('profile')!r})"
        elif metrics.get("data_fingerprint") != fingerprint:
            problems[name] = "stale (made from other data)"
        elif len(metrics.get("runs", [])) != len(expected):
            problems[name] = f"stale (made with {len(metrics.get('runs', []))} seeds, {len(expected)} asked)"
        else:
            problems[name] = "stale (configuration or training code changed)"
    return results, problems


# --- cached steps ----------------------------------------------------------------------


class Step:
    """A build step with declared inputs and outputs, rerun only when they change.

    Its stamp records the digest of the inputs and the digest each output was written
    with, by path relative to the build folder (a copied build folder keeps its stamps):
    an output that is missing, truncated or edited since makes the step rerun.
    """

    def __init__(self, settings: Settings, name: str, deps: list[Path], params: dict, outs: list[Path]):
        self.settings, self.name, self.deps, self.params, self.outs = settings, name, deps, params, outs
        self.stamp = settings.stamps / f"{name}.json"

    def digest(self) -> str:
        h = hashlib.sha256(json.dumps(self.params, sort_keys=True, default=str).encode())
        for dep in sorted(set(self.deps)):
            h.update(self.label(dep).encode() + b"\0" + file_digest(dep).encode())
        return h.hexdigest()

    def label(self, path: Path) -> str:
        """A path as the stamp records it: relative to the build (or dist) folder or the checkout."""
        for base, tag in ((self.settings.build, ""), (self.settings.dist, "dist:"), (ROOT, "root:")):
            if Path(path).is_relative_to(base):
                return tag + Path(path).relative_to(base).as_posix()
        return str(path)

    def path(self, label: str) -> Path | None:
        """The file a recorded label names, or None if it would lie outside the build's folders."""
        for base, tag in ((self.settings.dist, "dist:"), (ROOT, "root:"), (self.settings.build, "")):
            if label.startswith(tag):
                return inside(base, label[len(tag):])
        return None

    def state(self) -> str:
        """"current", "missing" (never finished) or "damaged" (an output changed since)."""
        try:
            stamp = atomic.read_json(self.stamp)
            recorded = stamp["outs"]
            if isinstance(recorded, list):  # a stamp of an older build, without digests: redo the step
                return "missing"
            assert isinstance(recorded, dict) and isinstance(stamp["digest"], str)
        except FileNotFoundError:
            return "missing"
        except (OSError, ValueError, KeyError, TypeError, AssertionError):
            return "damaged"
        for label, digest in recorded.items():
            path = self.path(label)
            if path is None or not path.is_file() or file_digest(path) != digest:
                return "damaged"
        if not all(self.label(p) in recorded for p in self.outs):
            return "missing"
        return "current"

    def needed(self) -> bool:
        if self.state() != "current":
            return True
        return atomic.read_json(self.stamp).get("digest") != self.digest()

    def done(self, extra_outs: list[Path] = ()) -> None:
        outs = {self.label(p): file_digest(p) for p in [*self.outs, *extra_outs]}
        atomic.write_json(self.stamp, {"digest": self.digest(), "outs": outs})


def inside(folder: Path, relative: str) -> Path | None:
    """`folder / relative` if that stays inside `folder` (no `..`, no absolute path,
    no symlink out), else None: how every path read back from an artifact is resolved."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        return None
    path = (Path(folder) / relative).resolve()
    return path if path.is_relative_to(Path(folder).resolve()) and path != Path(folder).resolve() else None


def sources(*patterns: str) -> list[Path]:
    """Files of the project matching glob patterns relative to the repository root."""
    found = []
    for pattern in patterns:
        found.extend(sorted(p for p in ROOT.glob(pattern) if p.is_file() and "__pycache__" not in p.parts))
    return found


def _rel(path: Path) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)
