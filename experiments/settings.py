"""Where one command reads and writes: its Settings, the build's folders and the build lock.

Nothing here imports TensorFlow (or anything heavier than the standard library).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import atomic, config
from .errors import Pw09Error

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    profile: str = config.DEFAULT_PROFILE
    data: str | None = None
    n_seeds: int | None = None
    build: Path = field(default_factory=lambda: env_path("PW09_BUILD_DIR", ROOT / "build"))
    dist: Path = field(default_factory=lambda: env_path("PW09_DIST_DIR", ROOT / "dist"))
    strict: bool = False
    image_index: int = config.DEFAULT_IMAGE_INDEX
    mixed_precision: bool = config.DEFAULTS["mixed_precision"]  # False: float32 whatever the calibration
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
        self.overrides = {"mixed_precision": bool(self.mixed_precision)}
        if self.image_index < 0:
            raise config.ConfigError(f"--image-index must be 0 or more, got {self.image_index}; "
                                     f"pass the index of a training image (default {config.DEFAULT_IMAGE_INDEX}).")

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


def shown_path(path: Path) -> str:
    """A path as messages show it: relative to the current folder when it lies below it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def sources(*patterns: str) -> list[Path]:
    """Files of the project matching glob patterns relative to the repository root."""
    found = []
    for pattern in patterns:
        found.extend(sorted(p for p in ROOT.glob(pattern) if p.is_file() and "__pycache__" not in p.parts))
    return found


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
