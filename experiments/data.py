"""CIFAR-10 from whichever copy is at hand, decoded once and cached.

The data can come in five forms, recognised from what the path is:

  keras                 no path: the copy `keras.datasets.cifar10` keeps under
                        `$KERAS_HOME/datasets` (or `~/.keras/datasets`), downloaded if absent
  official-archive      the "CIFAR-10 python version" `cifar-10-python.tar.gz`
  official-folder       its extracted `cifar-10-batches-py/` folder (or a folder holding it)
  image-folder          a tree `train/<class>/*.jpg|png` + `test/<class>/*`, possibly
                        below one extra top-level folder
  image-folder-archive  the same tree packed as `.tar`, `.tar.gz` or `.tgz`

Archives are read member by member straight from the tar stream, never unpacked to
disk. Every form is validated (shapes, labels, all classes and batches present, every
image 32x32 RGB) and every problem is a `DataError` that names the path and the fix.

Decoding is keyed by a content fingerprint of the source (sha256 of the archive's bytes,
or of a folder's relative paths, sizes and contents): the arrays land in
`<cache_dir>/cifar10-<hex16>.npz`, so the next load of the same copy is a plain
`np.load`. Hashing is itself memoised in `<cache_dir>/fingerprints.json` by path and
file stats, so asking again for an unchanged source's fingerprint costs only `stat`s.

Importing this module never imports TensorFlow or Keras: Keras is imported only when the
Keras default copy is missing and has to be downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import numpy as np
from PIL import Image

from .atomic import atomic_path, read_json, write_json
from .errors import DataError
from .keras_env import keras_home

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def model_input(images: np.ndarray) -> np.ndarray:
    """Images as every network here reads them: uint8 pixels scaled to float32 in [0, 1]."""
    return np.asarray(images, dtype=np.float32) / 255.0

ENV_VAR = "PW09_DATA"

# What a user may point --data / PW09_DATA at; quoted by every "wrong form" error.
ACCEPTED_FORMS = (
    "the official cifar-10-python.tar.gz or its extracted cifar-10-batches-py/ folder, "
    "or an image folder (or a .tar/.tar.gz/.tgz archive of one) with train/<class>/ and "
    f"test/<class>/ subfolders for the classes {', '.join(CLASS_NAMES)}"
)

# --- the official "python version" layout ------------------------------------------
BATCHES_DIRNAME = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
OFFICIAL_FILES = frozenset((*TRAIN_BATCHES, TEST_BATCH, META_FILE))

# Largest file an archive member or folder entry may be: a batch is ~31 MB, a 32x32
# image a few kB. Anything bigger is refused before it is read.
MAX_BATCH_BYTES = 64 * 2**20
MAX_IMAGE_BYTES = 256 * 2**10

# --- the image-folder layout --------------------------------------------------------
SPLITS = ("train", "test")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
_PIL_FORMATS = ("JPEG", "PNG")  # only these decoders are tried: faster, and nothing exotic

ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
FINGERPRINT_MEMO = "fingerprints.json"


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no truth value to compare
class Dataset:
    """CIFAR-10 as arrays, with where it came from."""

    x_train: np.ndarray  # uint8, (N, 32, 32, 3), RGB
    y_train: np.ndarray  # int64, (N,), index into CLASS_NAMES
    x_test: np.ndarray   # uint8, (M, 32, 32, 3)
    y_test: np.ndarray   # int64, (M,)
    fingerprint: str     # "sha256:<hex>" of the source's content
    source: str          # human description, e.g. "image-folder archive /path/x.tar.gz"
    kind: str            # "keras" | "official-archive" | "official-folder" | "image-folder" | "image-folder-archive"


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


# =====================================================================================
# Public API
# =====================================================================================

def resolve_source(path: str | None) -> str | None:
    """The source to load: an explicit path, else $PW09_DATA, else None (Keras default)."""
    return path or os.environ.get(ENV_VAR) or None


def describe_source(source: str | None) -> str:
    """One line saying which copy `source` is, e.g. "official CIFAR-10 archive /x.tar.gz".

    Never downloads: a missing Keras default copy is described as such.
    """
    if source is None and _keras_batches_dir() is None:
        return (f"Keras default copy (not downloaded yet; keras.datasets.cifar10 "
                f"fetches it into {keras_home() / 'datasets'})")
    return _locate(source).description


def downloaded(source: str | None) -> bool:
    """False only for the Keras default when nothing was downloaded yet (no network used)."""
    return source is not None or _keras_batches_dir() is not None


def source_fingerprint(source: str | None, cache_dir: Path) -> str:
    """"sha256:<hex>" of the source's content, memoised in `cache_dir` by path and stats."""
    return _fingerprint(_locate(source).root, Path(cache_dir))


def keras_download() -> None:
    """Keras' own download of CIFAR-10 into `$KERAS_HOME/datasets`."""
    import keras  # here only: importing Keras starts TensorFlow (seconds, gigabytes)

    keras.datasets.cifar10.load_data()


def load_cifar10(source: str | None, cache_dir: Path, *, download: Callable[[], object] = keras_download) -> Dataset:
    """Load CIFAR-10 from `source` (see the module docstring), through the cache. With no
    source and no Keras copy yet, `download()` fetches one (Keras' download by default)."""
    cache_dir = Path(cache_dir)
    located = _locate(source, download)
    fingerprint = _fingerprint(located.root, cache_dir)
    cache_file = cache_dir / f"cifar10-{fingerprint.removeprefix('sha256:')[:16]}.npz"
    arrays = _read_cache(cache_file)
    if arrays is None:
        arrays = _LOADERS[located.kind](located.root)
        with atomic_path(cache_file) as tmp:
            np.savez(tmp, **dict(zip(ARRAY_NAMES, arrays)))
    return Dataset(*arrays, fingerprint=fingerprint, source=located.description, kind=located.kind)


def stratified_subset(x: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` examples in all, n/10 of each class, drawn with `seed`; None returns x, y as is.

    The picked examples keep their order in the source, so the same (n, seed) always
    gives the same arrays in the same order.
    """
    if n is None:
        return x, y
    if n <= 0 or n % len(CLASS_NAMES):
        raise ValueError(f"subset size must be a positive multiple of {len(CLASS_NAMES)}, got {n}")
    per_class = n // len(CLASS_NAMES)
    rng = np.random.default_rng(seed)
    picked = []
    for label, name in enumerate(CLASS_NAMES):
        candidates = np.flatnonzero(y == label)
        if len(candidates) < per_class:
            raise DataError(
                f"a subset of {n} images needs {per_class} of class {name}, but the data has only "
                f"{len(candidates)}; use a smaller size or a complete CIFAR-10 copy."
            )
        picked.append(rng.choice(candidates, size=per_class, replace=False))
    index = np.sort(np.concatenate(picked))
    return x[index], y[index]


# =====================================================================================
# Which form is the source?
# =====================================================================================

class _Located(NamedTuple):
    kind: str
    root: Path         # what is read and fingerprinted: the archive, or the data's folder
    description: str


def _locate(source: str | None, download: Callable[[], object] = keras_download) -> _Located:
    """Recognise the form of `source` from cheap checks (stats, the first tar headers)."""
    if source is None:
        folder = _keras_batches_dir() or _keras_download(download)
        return _Located("keras", folder, f"Keras default copy {folder}")

    path = Path(source).expanduser().absolute()
    if path.is_dir():
        return _locate_folder(path)
    if path.is_file():
        return _locate_archive(path)
    if path.exists():
        raise DataError(f"the data source {path} is neither a file nor a folder (a device or pipe); "
                        f"pass --data PATH or set {ENV_VAR} to {ACCEPTED_FORMS}.")
    raise DataError(f"the data source {path} does not exist; pass --data PATH or set {ENV_VAR} to {ACCEPTED_FORMS}.")


def _locate_folder(path: Path) -> _Located:
    if any((path / name).is_file() for name in OFFICIAL_FILES):
        return _Located("official-folder", path, f"official CIFAR-10 batches folder {path}")
    if (path / BATCHES_DIRNAME).is_dir():
        folder = path / BATCHES_DIRNAME
        return _Located("official-folder", folder, f"official CIFAR-10 batches folder {folder}")
    # An image tree, either right here or below one extra top-level folder.
    subfolders = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for root in [path] + (subfolders if len(subfolders) == 1 else []):
        if any((root / split).is_dir() for split in SPLITS):
            return _Located("image-folder", root, f"image folder {root}")
    raise DataError(f"the folder {path} is not a CIFAR-10 copy this build can read; pass {ACCEPTED_FORMS}.")


def _locate_archive(path: Path) -> _Located:
    if not _looks_like_archive(path):
        raise DataError(f"the file {path} is not a CIFAR-10 copy this build can read; pass {ACCEPTED_FORMS}.")
    # The first recognisable member tells the form; it sits near the start of the stream.
    with _open_archive(path) as tar:
        for member in tar:
            if _official_member(member):
                return _Located("official-archive", path, f"official CIFAR-10 archive {path}")
            if _image_member(member):
                return _Located("image-folder-archive", path, f"image-folder archive {path}")
    raise DataError(f"the archive {path} holds neither CIFAR-10 batches nor an image tree; pass {ACCEPTED_FORMS}.")


def _looks_like_archive(path: Path) -> bool:
    """True for a tar, gzip, bzip2 or xz file, judged by its name or its magic bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise DataError(f"the data source {path} cannot be read ({exc.strerror}); fix its permissions.") from None
    if path.name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return True
    return head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) or head[257:262] == b"ustar"


@contextlib.contextmanager
def _open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    """Open a (compressed) tar; any read or decompression failure becomes a DataError."""
    try:
        with tarfile.open(path, mode="r:*") as tar:
            yield tar
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        # tarfile.open lists every method it tried on separate lines: keep the first
        reason = str(exc).splitlines()[0].rstrip(":") if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"the archive {path} is truncated or corrupt ({reason}); copy or download it again."
        ) from None


def _read_to_end(tar: tarfile.TarFile) -> None:
    """Make sure a fully iterated tar really ended, rather than stopped at damage.

    `tarfile` silently ends iteration at a missing or garbled header, so check that the
    end-of-archive block is there, then read the rest so gzip verifies its checksum.
    """
    tar.fileobj.seek(tar.offset)
    if tar.fileobj.read(tarfile.BLOCKSIZE) != bytes(tarfile.BLOCKSIZE):
        raise tarfile.ReadError(f"no end-of-archive marker at byte {tar.offset}")
    while tar.fileobj.read(1 << 20):
        pass


# --- the Keras default copy ------------------------------------------------------------

def _keras_batches_dir() -> Path | None:
    """The batches folder Keras extracted, in the layout of Keras 2 / early 3 or of later 3.x."""
    datasets = keras_home() / "datasets"
    for folder in (datasets / BATCHES_DIRNAME, datasets / "cifar-10-batches-py-target" / BATCHES_DIRNAME):
        if folder.is_dir():
            return folder
    return None


def _keras_download(download: Callable[[], object]) -> Path:
    """Let Keras download CIFAR-10 (`download`), then return the folder it extracted."""
    try:
        download()
    except Exception as exc:  # network, TLS, disk, checksum: all mean "no Keras copy"
        raise DataError(
            f"downloading CIFAR-10 into {keras_home() / 'datasets'} with "
            f"keras.datasets.cifar10.load_data() failed ({exc}); pass --data PATH or set "
            f"{ENV_VAR} to a local copy: {ACCEPTED_FORMS}."
        ) from None
    folder = _keras_batches_dir()
    if folder is None:
        raise DataError(
            f"keras.datasets.cifar10.load_data() succeeded but left no {BATCHES_DIRNAME}/ folder "
            f"under {keras_home() / 'datasets'}; pass --data PATH or set {ENV_VAR} to a local copy."
        )
    return folder


# =====================================================================================
# Fingerprints
# =====================================================================================

def _fingerprint(root: Path, cache_dir: Path) -> str:
    """sha256 of a file's bytes (what `sha256sum` prints) or of a folder's files.

    Memoised by resolved path and a stat signature (size and mtime of the file, or of
    every file in the folder), so an unchanged source is never hashed twice.
    """
    root = root.resolve()
    files = _folder_files(root) if root.is_dir() else None
    signature = _stat_signature(root, files)
    memo_file = cache_dir / FINGERPRINT_MEMO
    memo = _read_memo(memo_file)
    entry = memo.get(str(root))
    if isinstance(entry, dict) and entry.get("signature") == signature:
        return entry["fingerprint"]
    fingerprint = f"sha256:{_content_digest(root, files)}"
    memo[str(root)] = {"signature": signature, "fingerprint": fingerprint}
    write_json(memo_file, memo)
    return fingerprint


# (path relative to the folder, with "/", path as given to open(), its stat)
_FolderFiles = list[tuple[str, str, os.stat_result]]


def _folder_files(folder: Path) -> _FolderFiles:
    """Every file below `folder`, sorted by relative path (os.scandir: 60,000 in ~0.3 s)."""
    files: _FolderFiles = []

    def walk(path: str, prefix: str) -> None:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, f"{prefix}{entry.name}/")
                elif entry.is_file():
                    files.append((prefix + entry.name, entry.path, entry.stat()))

    walk(str(folder), "")
    return sorted(files, key=lambda item: item[0])


def _content_digest(root: Path, files: _FolderFiles | None) -> str:
    """Hex sha256 of a file's bytes, or of a folder's relative paths, sizes and contents."""
    if files is None:
        with open(root, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    digest = hashlib.sha256()
    for relative, path, stat in files:
        digest.update(f"{relative}\0{stat.st_size}\0".encode())
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()


def _stat_signature(root: Path, files: _FolderFiles | None) -> str:
    if files is None:
        stat = root.stat()
        return f"file size={stat.st_size} mtime_ns={stat.st_mtime_ns}"
    listing = hashlib.sha256()
    for relative, _, stat in files:
        listing.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return f"folder files={len(files)} listing={listing.hexdigest()}"


def _read_memo(memo_file: Path) -> dict:
    """The fingerprint memo; a missing or damaged one is simply empty."""
    try:
        memo = read_json(memo_file)
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _read_cache(cache_file: Path) -> Arrays | None:
    """The cached arrays, or None when absent or unreadable (then they are rebuilt)."""
    try:
        with np.load(cache_file, allow_pickle=False) as npz:
            arrays = tuple(npz[name] for name in ARRAY_NAMES)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return arrays if _valid_arrays(arrays) else None


def _valid_arrays(arrays) -> bool:
    """CIFAR-10 shaped: uint8 (N, 32, 32, 3) images, int64 labels 0..9, one per image."""
    for x, y in (arrays[:2], arrays[2:]):
        if not (x.dtype == np.uint8 and x.ndim == 4 and x.shape[1:] == (32, 32, 3) and len(x) > 0
                and y.dtype == np.int64 and y.shape == (len(x),) and 0 <= y.min() and y.max() < len(CLASS_NAMES)):
            return False
    return True


# =====================================================================================
# The official batches
# =====================================================================================

def _official_member(member: tarfile.TarInfo) -> bool:
    return member.isfile() and _basename(member) in OFFICIAL_FILES


def _basename(member: tarfile.TarInfo) -> str:
    return member.name.rsplit("/", 1)[-1]


# file name -> (where it was read, for messages; its bytes)
_Blobs = dict[str, tuple[str, bytes]]


def _load_official_folder(folder: Path) -> Arrays:
    blobs = {p.name: (str(p), _read_capped(p, MAX_BATCH_BYTES))
             for p in (folder / name for name in OFFICIAL_FILES) if p.is_file()}
    return _official_arrays(blobs, str(folder))


def _read_capped(path: Path, cap: int) -> bytes:
    _check_size(path.stat().st_size, cap, str(path))
    return path.read_bytes()


def _check_size(size: int, cap: int, where: str) -> None:
    """Refuse a file (or archive member) larger than any CIFAR-10 file, before reading it."""
    if size > cap:
        raise DataError(f"{where} is {size:,} bytes, more than the {cap:,} a CIFAR-10 file can be; "
                        f"it is not part of a CIFAR-10 copy, so remove it or use another copy.")


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, cap: int, where: str, seen: set) -> bytes:
    """One archive member's bytes: a duplicate or oversized member is refused unread."""
    if where in seen:
        raise DataError(f"{where} appears twice in the archive; a CIFAR-10 copy holds each file once, "
                        f"so repack it without duplicates.")
    seen.add(where)
    _check_size(member.size, cap, where)
    return tar.extractfile(member).read()


def _load_official_archive(path: Path) -> Arrays:
    blobs, seen = {}, set()
    with _open_archive(path) as tar:
        for member in tar:
            if _official_member(member):
                name = _basename(member)
                blobs[name] = (f"{path}:{member.name}", _read_member(tar, member, MAX_BATCH_BYTES, f"{path}:{name}", seen))
        _read_to_end(tar)
    return _official_arrays(blobs, str(path))


def _official_arrays(blobs: _Blobs, where: str) -> Arrays:
    """Check and decode the pickled batches found in `where`."""
    missing = [name for name in (*TRAIN_BATCHES, TEST_BATCH) if name not in blobs]
    if missing:
        raise DataError(
            f"{where} lacks {', '.join(missing)}; the official CIFAR-10 copy has data_batch_1 to "
            f"data_batch_5 and test_batch, so copy or extract cifar-10-python.tar.gz again."
        )
    if META_FILE in blobs:
        meta_where, meta_blob = blobs[META_FILE]
        meta = _unpickle(meta_blob, meta_where)
        names = meta.get(b"label_names", ())
        label_names = tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else n
                            for n in (names if isinstance(names, list) else ()))
        if label_names != CLASS_NAMES:
            raise DataError(
                f"{meta_where} names the classes {label_names}, not CIFAR-10's; "
                f"point --data at a CIFAR-10 (not CIFAR-100 or other) copy."
            )
    train = [_read_batch(*blobs[name]) for name in TRAIN_BATCHES]
    x_test, y_test = _read_batch(*blobs[TEST_BATCH])
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return x_train, y_train, x_test, y_test


def _read_batch(where: str, blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One batch dict -> images (N, 32, 32, 3) uint8 and labels (N,) int64."""
    batch = _unpickle(blob, where)
    data, labels = _as_uint8(batch.get(b"data")), batch.get(b"labels")
    if isinstance(labels, list) and not all(type(v) is int for v in labels):
        labels = None
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 32 * 32 * 3 and isinstance(labels, list) and len(labels) == len(data)):
        raise DataError(
            f"{where} is not a CIFAR-10 batch (it needs b'data' as uint8 (N, 3072) and N b'labels'); "
            f"copy or extract cifar-10-python.tar.gz again."
        )
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataError(
            f"{where} has labels from {labels.min()} to {labels.max()}, outside CIFAR-10's 0..9; "
            f"point --data at a CIFAR-10 copy."
        )
    # Each row is 1024 red, then 1024 green, then 1024 blue values, row-major: NCHW -> NHWC.
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


class _ArrayRecipe:
    """What a pickled ndarray or dtype says about itself, kept as inert data.

    The unpickler hands these out instead of numpy's own constructors, so nothing numpy
    builds ever sees the pickle's bytes: `_as_uint8` makes the array itself, and only a
    uint8 one (an object dtype, say, is refused instead of dereferencing the bytes).
    """

    def __init__(self, *args):
        self.args, self.state = args, None

    def __setstate__(self, state):
        self.state = state


class _BatchUnpickler(pickle.Unpickler):
    # The only globals a CIFAR-10 batch pickle references (numpy < 2 and >= 2 spellings).
    GLOBALS = {("numpy", "ndarray"): _ArrayRecipe, ("numpy", "dtype"): _ArrayRecipe,
               ("numpy.core.multiarray", "_reconstruct"): _ArrayRecipe,
               ("numpy._core.multiarray", "_reconstruct"): _ArrayRecipe}

    def find_class(self, module: str, name: str):
        if (module, name) in self.GLOBALS:
            return self.GLOBALS[module, name]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _as_uint8(recipe) -> np.ndarray | None:
    """The uint8 array a pickled ndarray recipe describes, or None for anything else."""
    try:
        _, shape, dtype, fortran, raw = recipe.state
        code = dtype.args[0]
        code = code.decode() if isinstance(code, bytes) else code
        shape = tuple(int(n) for n in shape)
        if code not in ("u1", "uint8") or fortran or not isinstance(raw, bytes) or len(raw) != int(np.prod(shape)):
            return None
        return np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()
    except (AttributeError, TypeError, ValueError, IndexError):
        return None


def _unpickle(blob: bytes, where: str) -> dict:
    try:
        batch = _BatchUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as exc:  # garbage makes pickle raise nearly any exception type
        raise DataError(
            f"{where} cannot be unpickled ({type(exc).__name__}: {exc}); "
            f"copy or extract cifar-10-python.tar.gz again."
        ) from None
    if not isinstance(batch, dict) or not all(isinstance(k, bytes) for k in batch):
        raise DataError(f"{where} holds a {type(batch).__name__}, not a CIFAR-10 batch dict with bytes keys; "
                        f"copy or extract cifar-10-python.tar.gz again.")
    return batch


# =====================================================================================
# Image folders and their archives
# =====================================================================================

# (split, class name) -> [(file name, image)], filled in any order, sorted on assembly.
_Images = dict[tuple[str, str], list[tuple[str, np.ndarray]]]


def _image_member(member: tarfile.TarInfo) -> tuple[str, str, str] | None:
    """(top folder, split, class) for a member `[top/]split/class/file.jpg`, else None."""
    # Plain str operations: pathlib costs over a second across 60,000 members.
    parts = [part for part in member.name.split("/") if part not in ("", ".")]
    if (member.isfile() and len(parts) >= 3 and parts[-3] in SPLITS
            and _is_image_name(parts[-1])):
        return "/".join(parts[:-3]), parts[-3], parts[-2]
    return None


def _is_image_name(name: str) -> bool:
    # Hidden files (macOS `._x.jpg` resource forks, for one) are not images.
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _load_image_folder(root: Path) -> Arrays:
    images: _Images = {}
    for split in SPLITS:
        split_dir = root / split
        for folder in [split_dir, *(split_dir / name for name in CLASS_NAMES)]:
            if folder.is_symlink():
                raise DataError(f"{folder} is a symlink to a folder; folder walks do not follow them, "
                                f"so copy the images there instead.")
        if not split_dir.is_dir():
            raise DataError(f"the image folder {root} has no {split}/ subfolder; it needs train/<class>/ "
                            f"and test/<class>/ subfolders for the classes {', '.join(CLASS_NAMES)}.")
        for folder in sorted(split_dir.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and folder.name not in CLASS_NAMES:
                raise DataError(_unknown_class_message(str(folder), folder.name))
        for name in CLASS_NAMES:
            class_dir = split_dir / name
            files = class_dir.iterdir() if class_dir.is_dir() else []
            images[split, name] = [(f.name, _decode_image(_read_capped(f, MAX_IMAGE_BYTES), str(f)))
                                   for f in files if f.is_file() and _is_image_name(f.name)]
    return _assemble_images(images, str(root))


def _load_image_archive(path: Path) -> Arrays:
    """One streaming pass: each member is read and decoded as the tar goes by."""
    images: _Images = {(split, name): [] for split in SPLITS for name in CLASS_NAMES}
    top_folders, seen = set(), set()
    with _open_archive(path) as tar:
        for member in tar:
            found = _image_member(member)
            if found is None:
                continue
            top, split, name = found
            where = f"{path}:{member.name}"
            if name not in CLASS_NAMES:
                raise DataError(_unknown_class_message(where, name))
            top_folders.add(top)
            if len(top_folders) > 1:
                raise DataError(f"the archive {path} holds image trees under several top folders "
                                f"({', '.join(sorted(top_folders)) or '.'}); pack a single train/ + test/ tree.")
            data = _read_member(tar, member, MAX_IMAGE_BYTES, f"{path}:{split}/{name}/{_basename(member)}", seen)
            images[split, name].append((_basename(member), _decode_image(data, where)))
        _read_to_end(tar)
    return _assemble_images(images, str(path))


def _unknown_class_message(where: str, name: str) -> str:
    return (f"{where} is in a class folder {name!r} that CIFAR-10 does not have; "
            f"the class folders must be named {', '.join(CLASS_NAMES)}.")


def _decode_image(data: bytes, where: str) -> np.ndarray:
    """Decode one JPEG/PNG that must already be 32x32 RGB (no silent conversion)."""
    try:
        with Image.open(io.BytesIO(data), formats=_PIL_FORMATS) as image:
            if image.size != (32, 32) or image.mode != "RGB":
                raise DataError(
                    f"the image {where} is {image.size[0]}x{image.size[1]} {image.mode}, "
                    f"not 32x32 RGB; CIFAR-10 images must be 32x32 RGB, so re-export or remove it."
                )
            return np.asarray(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(
            f"the image {where} cannot be decoded ({exc}); replace it with a valid 32x32 RGB JPEG or PNG."
        ) from None


def _assemble_images(images: _Images, where: str) -> Arrays:
    """Stack each split class by class (label = index in CLASS_NAMES), files sorted by name."""
    arrays = []
    for split in SPLITS:
        xs, ys = [], []
        for label, name in enumerate(CLASS_NAMES):
            found = sorted(images[split, name], key=lambda item: item[0])
            if not found:
                raise DataError(
                    f"{where} has no images of class {name} in {split}/{name}/; an image folder needs "
                    f"all ten classes in both train/ and test/."
                )
            xs.append(np.stack([image for _, image in found]))
            ys.append(np.full(len(found), label, dtype=np.int64))
        arrays += [np.concatenate(xs), np.concatenate(ys)]
    return tuple(arrays)


_LOADERS = {
    "keras": _load_official_folder,
    "official-folder": _load_official_folder,
    "official-archive": _load_official_archive,
    "image-folder": _load_image_folder,
    "image-folder-archive": _load_image_archive,
}
