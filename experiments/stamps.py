"""Cached steps: a stamp records a step's inputs and outputs; the step reruns when they change.

A step's inputs are files (its code among them: the project modules it imports, read from
their `import` lines, never by importing them) and parameters; the stamp in
`build/.stamps/<step>.json` holds the digest of the inputs and of each output as written.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from pathlib import Path

from . import atomic
from .settings import ROOT, Settings

PACKAGE = ROOT / "experiments"


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


# --- code as an input ----------------------------------------------------------------


def _imported(path: Path, package: Path) -> set[str]:
    """Names of the modules of `package` that the module at `path` imports anywhere in it
    (`from . import x`, `from .x import y`, `from experiments.x import y`, `import experiments.x`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1 or (node.level == 0 and (base == package.name or base.startswith(package.name + "."))):
                base = base if node.level == 1 else base[len(package.name) + 1:]
                if base:
                    found.add(base.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names
                         if alias.name.startswith(package.name + "."))
    return {name for name in found if (package / f"{name}.py").is_file()}


def module_files(entries: tuple[str, ...], package: Path = PACKAGE, skip: tuple[str, ...] = ()) -> list[Path]:
    """The files of the `entries` modules of `package` and of every package module they
    import, transitively; modules named in `skip` are neither included nor followed."""
    seen, todo = set(), [e for e in entries if e not in skip]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(m for m in _imported(package / f"{name}.py", package) if m not in seen and m not in skip)
    return sorted(package / f"{name}.py" for name in seen)


def code_digest(files: list[Path], package: Path = PACKAGE) -> str:
    """Short digest of source files by their name in the package and their content (so a
    copy of the package has the same digest)."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(Path(path).relative_to(package).as_posix().encode() + b"\0" + Path(path).read_bytes())
    return h.hexdigest()[:12]


# --- steps -----------------------------------------------------------------------------


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
