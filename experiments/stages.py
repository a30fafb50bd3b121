"""The build's stages in one table, like a `dvc.yaml`: what each one reads and writes.

    train     one run per experiment and seed  -> runs/<experiment>/s<seed>-<key>/
    results   runs aggregated over seeds       -> results/<experiment>/
    figures   training curves                  -> figures/curves-*.png
    visuals   Exercise 2's filters, activations, augmentation grids -> figures/
    analysis  section 4, evaluated on the test set -> analysis/, figures/analysis/
    report    report.html and report.pdf       -> report/
    zip       the submission                   -> dist/pw09-submission.zip

Each stage declares its code (modules of `experiments/`; every project module they import
counts too, read from the import lines, never by importing), and, from what the stages
before it produced, the files and parameters it reads and the files it writes. `invoke all`
runs the stages in this order and `invoke list` reports them from this table. A stage's
stamp (`stamps.Step`) makes it rerun only when one of those inputs changes; training runs
are cached by a key of the train stage's parameters instead. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

from . import analysis_figures, config
from .keras_env import keras_backend
from .settings import Settings
from .stamps import PACKAGE, Step, code_digest, module_files

# Modules training imports whose edits must not make trained models stale: their effect
# on a run already enters its key another way, or they change no number it computes.
NOT_TRAINING_CODE = (
    "config",    # the resolved configuration is in the key (config_hash); a new title retrains nothing
    "estimate",  # times runs and prints the plan; the precision policy it measures is recorded per run
)
RUN_FILES = ("metrics.json", "history.csv", "model.keras")  # a finished run's files
ZIP_NAME = "pw09-submission.zip"


class Io(NamedTuple):
    """What one stage reads (files and parameters) and writes, for one build."""
    deps: list[Path]
    params: dict
    outs: list[Path]


@dataclass(frozen=True)
class Stage:
    name: str
    code: tuple[str, ...]  # the modules that compute it (and whatever of the project they import)
    io: Callable[..., Io]  # (settings, **what the earlier stages produced) -> Io
    skip: tuple[str, ...] = ()  # imported modules that are not part of its code
    stamped: bool = True  # one stamp in build/.stamps/ (shown by `invoke list`)

    def code_files(self, package: Path = PACKAGE) -> list[Path]:
        return module_files(self.code, package, self.skip)

    def code_hash(self, package: Path = PACKAGE) -> str:
        """Digest of the stage's code in `package` (the checkout's, or a copy of it)."""
        return code_digest(self.code_files(package), package)

    def step(self, settings: Settings, name: str | None = None, **inputs) -> Step:
        """The cached step of this stage: its declared inputs, its code and its outputs."""
        deps, params, outs = self.io(settings, **inputs)
        return Step(settings, name or self.name, deps=deps + self.code_files(), params=params, outs=outs)

    def state(self, settings: Settings, outs: list[Path] = ()) -> str:
        """current / damaged / missing, from the stamp alone (`outs`: files it must have written)."""
        return Step(settings, self.name, deps=[], params={}, outs=list(outs)).state()


# --- what each stage reads and writes -------------------------------------------------


def run_folder(settings: Settings, experiment: str, seed: int, key: str) -> Path:
    return settings.runs / experiment / f"s{seed}-{key}"


def run_key(params: dict) -> str:
    """A run's cache key from the train stage's parameters. A run trained under another Keras
    backend is another run (numerics differ); the default backend adds nothing to the key."""
    tag = "" if params["backend"] == "tensorflow" else f"|{params['backend']}"
    blob = f"{params['config']}|{params['data']}|{params['code']}|{params['seed']}{tag}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _train(settings: Settings, cfg: dict, fingerprint: str, seed: int, code: str) -> Io:
    params = {"config": config.config_hash(cfg), "data": fingerprint, "code": code, "seed": seed,
              "backend": keras_backend()}
    folder = run_folder(settings, cfg["experiment"], seed, run_key(params))
    return Io([], params, [folder / f for f in RUN_FILES])


def _results(settings: Settings, experiment: str, runs: list) -> Io:
    out = settings.results / experiment
    return Io([r.dir / f for r in runs for f in RUN_FILES], {"runs": [r.key for r in runs]},
              [out / "history.csv", out / "history_seeds.csv", out / "model.keras", out / "metrics.json"])


def _figures(settings: Settings, results: dict, present: dict) -> Io:
    outs = [settings.figures / f"{fid}.png" for fid, names in present.items() if names]
    return Io([settings.results / n / "metrics.json" for n in results], {"present": present},
              outs + [settings.figures / "figures.json"])


def _visuals(settings: Settings, chosen: dict, fingerprint: str, strategies: list[str], layer: str | None,
             out_dir: Path) -> Io:
    exps = sorted({c["experiment"] for c in chosen.values()})
    return Io([settings.results / e / "model.keras" for e in exps],
              {"chosen": chosen, "data": fingerprint, "image_index": settings.image_index,
               "augmentations": {s: config.AUGMENTATIONS[s] for s in strategies}, "layer": layer},
              [out_dir / "visuals.json"])


def _analysis(settings: Settings, exps: list[str], fingerprint: str, subsets: set) -> Io:
    out_dir = settings.build / "analysis"
    figures = (["per-class-accuracy", "inception-v4", *analysis_figures.confusion_groups(exps)]
               + [f"misclassified-{e}" for e in exps])
    return Io([settings.results / e / f for e in exps for f in ("model.keras", "metrics.json")],
              {"models": exps, "data": fingerprint, "image_index": settings.image_index,
               "test": sorted(subsets, key=str)},
              [out_dir / "analysis.json"] + [out_dir / f"predictions-{e}.npz" for e in exps]
              + [settings.figures / analysis_figures.SUBDIR / f"{fid}.png" for fid in figures])


def _folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*") if p.is_file())


def _report(settings: Settings, results: dict, figure_files: list[Path], problems: dict, prov: dict,
            visuals: dict, facts: dict | None) -> Io:
    return Io([settings.results / n / "metrics.json" for n in results] + figure_files
              + _folder_files(settings.templates) + _folder_files(settings.report_src),
              {"problems": problems, "strict": settings.strict, "prov": prov, "visuals": visuals,
               "analysis": facts or {}},
              [settings.report / "report.html", settings.report / "report.pdf"])


def _zip(settings: Settings, members: list[tuple[Path, str]]) -> Io:
    return Io([p for p, _ in members], {"names": [n for _, n in members]}, [settings.dist / ZIP_NAME])


STAGES: dict[str, Stage] = {s.name: s for s in [
    Stage("train", ("train",), _train, skip=NOT_TRAINING_CODE, stamped=False),
    Stage("results", ("results",), _results, stamped=False),  # one stamp per experiment: results-<name>
    Stage("figures", ("figures",), _figures),
    Stage("visuals", ("visualize",), _visuals),
    Stage("analysis", ("analysis",), _analysis),
    Stage("report", ("report",), _report),
    Stage("zip", (), _zip),
]}
