"""Cached steps: a stamp records a step's inputs and outputs; the step reruns when they change.

A step's inputs are files (its code among them: the project modules it imports, read from
their `import` lines, never by importing them) and parameters; the stamp in
`build/.stamps/<step>.json` holds the digest of the inputs and of each output as written.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import os
import tokenize
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


def code_text(source: str) -> str:
    """Python source without its comments, docstrings, blank lines and trailing spaces: what
    it computes, so that rewording an explanation in training code does not retrain hours of
    runs. Comments come from the tokenizer and docstrings from the syntax tree, whose
    positions mean the same on every Python 3 version; text inside other strings is kept
    as it is. Source that does not parse is returned unchanged."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        tree = ast.parse(source)
    except (SyntaxError, tokenize.TokenError, ValueError):
        return source
    lines = source.splitlines()
    comment_at = {t.start[0]: t.start[1] for t in tokens if t.type == tokenize.COMMENT}
    inside = {row for t in tokens for row in range(t.start[0] + 1, t.end[0] + 1)}  # rows a token continues on
    starts = {}
    for t in tokens:
        starts.setdefault(t.start[0], t.type)
    drop = {row for row, kind in starts.items() if kind in (tokenize.COMMENT, tokenize.NL) and row not in inside}
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            doc = body[0]
            first, last = lines[doc.lineno - 1].encode(), lines[doc.end_lineno - 1].encode()
            before, after = first[:doc.col_offset].decode().strip(), last[doc.end_col_offset:].decode().strip()
            if not before and (not after or after.startswith("#")):  # the docstring has its lines to itself
                drop.update(range(doc.lineno, doc.end_lineno + 1))
    kept = (line[:comment_at.get(row, len(line))].rstrip() for row, line in enumerate(lines, 1) if row not in drop)
    return "\n".join(kept) + "\n"


def code_digest(files: list[Path], package: Path = PACKAGE) -> str:
    """Short digest of source files by their name in the package and their code
    (`code_text`), so a copy of the package has the same digest and a reworded comment or
    docstring changes nothing."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(Path(path).relative_to(package).as_posix().encode() + b"\0" + code_text(Path(path).read_text()).encode())
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
