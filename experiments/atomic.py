"""Write files so that a crash leaves the old file or none, never half of one.

Every artifact of the build goes through these helpers: the content is written to a
temporary file in the same folder, flushed to disk, then renamed into place.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import Pw09Error


_UMASK = os.umask(0)
os.umask(_UMASK)
# What `atomic_path` names its temporary files: `.<stem>.tmp-<8 random chars><suffix>`.
TEMPORARY = re.compile(r"^\..*\.tmp-[a-z0-9_]{8}(\.[^/]*)?$")
DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def disk_full_error(path, exc: OSError) -> Pw09Error:
    return Pw09Error(f"the disk is full while writing {path} ({exc.strerror or exc}); "
                     "free some space and run the same command again (what was built before is unchanged).")


def ensure_dir(folder: Path) -> None:
    """Create `folder` if needed; a Pw09Error (not a traceback) if it cannot be written."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Pw09Error(
            f"cannot create the output folder {folder} ({exc.strerror or exc}); choose a writable location "
            "(PW09_BUILD_DIR, PW09_DIST_DIR) or fix its permissions."
        ) from None
    if not os.access(folder, os.W_OK):
        raise Pw09Error(
            f"the output folder {folder} is not writable; "
            "fix its permissions or build somewhere else."
        )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`.

    The temporary name keeps the final suffix (`.tmp-XXXX.keras`) so that writers
    which dispatch on the extension (Keras, matplotlib, numpy) still work.
    """
    path = Path(path)
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            with open(tmp_path, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            if tmp_path.is_dir() and not tmp_path.is_symlink():
                shutil.rmtree(tmp_path)
            else:
                tmp_path.unlink()
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            raise disk_full_error(path, exc) from None
        raise


def sweep_temporaries(folder: Path, recursive: bool = True) -> list[Path]:
    """Delete the temporary files (or folders) a killed writer left in `folder`.

    Only names `atomic_path` makes are touched, and symlinked folders are not entered.
    """
    swept = []
    if not Path(folder).is_dir():
        return swept
    for top, dirs, files in os.walk(folder) if recursive else [next(os.walk(folder), (folder, [], []))]:
        for name in [*files, *dirs]:
            path = Path(top) / name
            if TEMPORARY.match(name):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                    dirs.remove(name)
                else:
                    path.unlink(missing_ok=True)
                swept.append(path)
    return swept


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text(encoding="utf-8"))


# Columns of a CSV table that hold whole numbers; every other column holds floats.
WHOLE_COLUMNS = ("epoch", "seed")


def write_csv(path: str | os.PathLike, rows: list[dict], columns: list[str]) -> None:
    """`rows` as a CSV table with a header, floats written with `repr` so `read_csv` gets them back exactly."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(row[k]) if isinstance(row[k], float) else row[k]) for k in columns})
    write_text(path, buf.getvalue())


def read_csv(path: str | os.PathLike) -> list[dict]:
    """The rows of a table `write_csv` wrote: ints in `WHOLE_COLUMNS`, floats elsewhere, each
    float exactly the one written (pandas' round-trip parser). A missing cell is an error."""
    import pandas as pd

    table = pd.read_csv(path, float_precision="round_trip")
    if table.isna().to_numpy().any():
        raise ValueError(f"{path} has empty or missing cells")
    return [{k: (int(v) if k in WHOLE_COLUMNS else float(v)) for k, v in row.items()} for row in table.to_dict("records")]
