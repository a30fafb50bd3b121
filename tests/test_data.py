"""Tests for experiments/data.py: every CIFAR-10 form, the cache, and every bad input.

All fixtures are tiny copies written here into tmp_path: an official-format tarball and
folder (5 train batches of 4 images, a test batch of 6) and an image tree of PNGs (two
train and one test image per class), as a folder and as a .tar.gz with a top folder.
Only `test_real_archive` reads the shared 60,000-image archive, and skips without it.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from experiments import data
from experiments.data import CLASS_NAMES, DataError

REAL_ARCHIVE = Path(__file__).resolve().parents[1].parent / "shared/data/cifar10-jpeg.tar.gz"


# --- fixture builders ------------------------------------------------------------------

def make_images(n: int, seed: int) -> np.ndarray:
    """n random 32x32 RGB images; image 0 has R = 8*row, G = 8*col, B = 200 everywhere,
    so that a swapped channel or a transposed axis changes its pixels."""
    images = np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    rows, cols = np.mgrid[0:32, 0:32]
    images[0, ..., 0] = rows * 8
    images[0, ..., 1] = cols * 8
    images[0, ..., 2] = 200
    return images


def pickle_batch(images: np.ndarray, labels, **extra) -> bytes:
    """A batch in the official layout: 1024 R, 1024 G, 1024 B values per row."""
    batch = {
        b"batch_label": b"fixture",
        b"labels": [int(label) for label in labels],
        b"data": images.transpose(0, 3, 1, 2).reshape(len(images), 3072),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    batch.update(extra)
    return pickle.dumps(batch, protocol=4)


def write_official(folder: Path) -> dict[str, np.ndarray]:
    """Write `folder`/cifar-10-batches-py/ and return the arrays it holds."""
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    x_train = make_images(20, seed=1)
    y_train = np.arange(20, dtype=np.int64) % 10
    x_test = make_images(6, seed=2)
    y_test = np.array([9, 0, 1, 2, 3, 4], dtype=np.int64)
    for i in range(5):
        part = slice(4 * i, 4 * i + 4)
        (batches / f"data_batch_{i + 1}").write_bytes(pickle_batch(x_train[part], y_train[part]))
    (batches / "test_batch").write_bytes(pickle_batch(x_test, y_test))
    meta = {b"label_names": [name.encode() for name in CLASS_NAMES], b"num_vis": 3072}
    (batches / "batches.meta").write_bytes(pickle.dumps(meta, protocol=4))
    (batches / "readme.html").write_text("<p>fixture</p>")
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write_image_tree(root: Path) -> dict[str, np.ndarray]:
    """Write root/train/<class>/{0,1}.png and root/test/<class>/0.png; return the arrays
    in load order (class by class, files by name)."""
    arrays = {}
    for split, per_class, seed in (("train", 2, 3), ("test", 1, 4)):
        images = make_images(10 * per_class, seed=seed)
        for label, name in enumerate(CLASS_NAMES):
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(images[label * per_class + i]).save(root / split / name / f"{i:04d}.png")
        arrays[f"x_{split}"] = images
        arrays[f"y_{split}"] = np.repeat(np.arange(10, dtype=np.int64), per_class)
    return arrays


def pack(folder: Path, archive: Path, arcname: str) -> Path:
    mode = "w:gz" if archive.name.endswith(("gz", "tgz")) else "w"
    with tarfile.open(archive, mode) as tar:
        tar.add(folder, arcname=arcname)
    return archive


def assert_arrays(ds: data.Dataset, expected: dict[str, np.ndarray]) -> None:
    for name in ("x_train", "y_train", "x_test", "y_test"):
        got = getattr(ds, name)
        assert got.dtype == expected[name].dtype, name
        np.testing.assert_array_equal(got, expected[name], err_msg=name)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test sees the user's PW09_DATA or real ~/.keras."""
    monkeypatch.delenv("PW09_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def official(tmp_path):
    """(batches folder, its .tar.gz, expected arrays)."""
    expected = write_official(tmp_path / "official")
    folder = tmp_path / "official" / "cifar-10-batches-py"
    archive = pack(folder, tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py")
    return folder, archive, expected


@pytest.fixture
def image_tree(tmp_path):
    """(image folder, its .tar.gz under a top folder, expected arrays)."""
    root = tmp_path / "images" / "cifar10-png"
    expected = write_image_tree(root)
    archive = pack(root, tmp_path / "cifar10-png.tar.gz", "cifar10-png")
    return root, archive, expected


# --- every form loads ----------------------------------------------------------------

def test_official_archive(official, cache):
    _, archive, expected = official
    ds = data.load_cifar10(str(archive), cache)
    assert ds.kind == "official-archive"
    assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (6, 32, 32, 3)
    assert_arrays(ds, expected)
    assert str(archive) in ds.source


def test_official_folder_and_its_parent(official, cache):
    folder, _, expected = official
    for path in (folder, folder.parent):
        ds = data.load_cifar10(str(path), cache)
        assert ds.kind == "official-folder"
        assert_arrays(ds, expected)


def test_channel_and_axis_order(official, image_tree, cache):
    """Image 0 of each split was built with R = 8*row, G = 8*col, B = 200."""
    for path in (official[1], image_tree[1]):
        first = data.load_cifar10(str(path), cache).x_train[0]
        assert tuple(first[0, 0]) == (0, 0, 200)
        assert tuple(first[3, 5]) == (24, 40, 200)  # row 3, column 5


def test_image_folder_and_parent(image_tree, cache):
    root, _, expected = image_tree
    for path in (root, root.parent):  # an extra top-level folder is fine
        ds = data.load_cifar10(str(path), cache)
        assert ds.kind == "image-folder"
        assert_arrays(ds, expected)


def test_image_archive_with_top_folder(image_tree, cache):
    _, archive, expected = image_tree
    ds = data.load_cifar10(str(archive), cache)
    assert ds.kind == "image-folder-archive"
    assert ds.source == f"image-folder archive {archive}"
    assert_arrays(ds, expected)


def test_image_archive_without_top_folder_and_uncompressed(image_tree, tmp_path, cache):
    root, _, expected = image_tree
    with tarfile.open(tmp_path / "flat.tar", "w") as tar:
        for split in ("train", "test"):
            tar.add(root / split, arcname=split)
    assert_arrays(data.load_cifar10(str(tmp_path / "flat.tar"), cache), expected)


def test_files_sorted_by_name_and_junk_ignored(image_tree, cache):
    root, _, expected = image_tree
    cat = root / "train" / "cat"
    # A name sorting before the others, plus files that are not images.
    extra = make_images(1, seed=9)[0]
    Image.fromarray(extra).save(cat / "0000a.PNG")
    (cat / "notes.txt").write_text("not an image")
    (cat / "._0000.png").write_bytes(b"macOS resource fork")
    ds = data.load_cifar10(str(root), cache)
    cat_images = ds.x_train[ds.y_train == CLASS_NAMES.index("cat")]
    np.testing.assert_array_equal(cat_images[1], extra)  # 0000.png, 0000a.PNG, 0001.png
    assert len(ds.x_train) == len(expected["x_train"]) + 1


def refuse_download():
    raise AssertionError("the Keras copy is there: nothing may be downloaded")


def test_keras_default_reads_existing_folder_without_keras(tmp_path, cache):
    expected = write_official(tmp_path / "keras-home" / "datasets")
    ds = data.load_cifar10(None, cache, download=refuse_download)  # the only path that imports Keras
    assert ds.kind == "keras"
    assert_arrays(ds, expected)
    assert "cifar-10-batches-py" in data.describe_source(None)


def test_keras_default_downloads_when_missing(tmp_path, cache):
    """Keras 3.x extracts into datasets/cifar-10-batches-py-target/cifar-10-batches-py."""
    home = tmp_path / "keras-home"
    expected = {}

    def download():  # what keras.datasets.cifar10.load_data() leaves on disk
        expected.update(write_official(home / "datasets" / "cifar-10-batches-py-target"))

    assert "not downloaded yet" in data.describe_source(None)
    ds = data.load_cifar10(None, cache, download=download)
    assert ds.kind == "keras"
    assert_arrays(ds, expected)


def test_keras_download_failure_says_what_to_do(cache):
    def offline():
        raise OSError("Name or service not known")

    with pytest.raises(DataError, match="failed.*--data PATH or set PW09_DATA"):
        data.load_cifar10(None, cache, download=offline)


def test_describe_source(official, image_tree):
    assert data.describe_source(str(official[1])) == f"official CIFAR-10 archive {official[1]}"
    assert data.describe_source(str(official[0])) == f"official CIFAR-10 batches folder {official[0]}"
    assert data.describe_source(str(image_tree[0])) == f"image folder {image_tree[0]}"


# --- fingerprints and the cache ------------------------------------------------------

def test_archive_fingerprint_is_sha256_of_the_file(official, cache):
    archive = official[1]
    expected = "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
    assert data.source_fingerprint(str(archive), cache) == expected
    assert data.source_fingerprint(str(archive), cache) == expected
    assert data.load_cifar10(str(archive), cache).fingerprint == expected


def same_stats_other_bytes(path: Path) -> None:
    """Change a file's bytes in place, keeping its size and its mtime: only hashing can tell."""
    st = path.stat()
    content = path.read_bytes()
    middle = len(content) // 2
    path.write_bytes(content[:middle] + bytes([content[middle] ^ 0xFF]) + content[middle + 1:])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_fingerprint_is_memoised(official, image_tree, cache):
    first = {p: data.source_fingerprint(str(p), cache) for p in (official[1], image_tree[0])}
    assert (cache / "fingerprints.json").is_file()
    # Same sizes and mtimes, other bytes: a memoised fingerprint does not look at the bytes again.
    same_stats_other_bytes(official[1])
    same_stats_other_bytes(image_tree[0] / "test" / "dog" / "0000.png")
    for path, fingerprint in first.items():
        assert data.source_fingerprint(str(path), cache) == fingerprint
    # Without the memo the same sources hash to something else: the check above was not vacuous.
    fresh = cache.parent / "fresh-cache"
    assert all(data.source_fingerprint(str(p), fresh) != f for p, f in first.items())


def test_fingerprint_follows_content(official, image_tree, tmp_path, cache):
    root = image_tree[0]
    folder_before = data.source_fingerprint(str(root), cache)
    archive_before = data.source_fingerprint(str(official[1]), cache)
    assert folder_before != archive_before

    # Same size, other content, later mtime: a folder's fingerprint must change.
    victim = root / "test" / "dog" / "0000.png"
    content = victim.read_bytes()
    victim.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    os.utime(victim, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert data.source_fingerprint(str(root), cache) != folder_before

    # An identical copy elsewhere has the same fingerprint; a different file does not.
    copy = tmp_path / "copy.tar.gz"
    copy.write_bytes(official[1].read_bytes())
    assert data.source_fingerprint(str(copy), cache) == archive_before
    assert data.source_fingerprint(str(image_tree[1]), cache) != archive_before


def test_second_load_hits_the_cache(image_tree, cache):
    archive = image_tree[1]
    first = data.load_cifar10(str(archive), cache)
    cache_file = cache / f"cifar10-{first.fingerprint.removeprefix('sha256:')[:16]}.npz"
    assert cache_file.is_file()
    # The archive's bytes are now garbled (same size and mtime, so the memoised fingerprint
    # still names the cached arrays): a second load that decoded it again would fail.
    same_stats_other_bytes(archive)
    second = data.load_cifar10(str(archive), cache)
    assert (second.fingerprint, second.source, second.kind) == (first.fingerprint, first.source, first.kind)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert getattr(second, name).dtype == getattr(first, name).dtype
        np.testing.assert_array_equal(getattr(second, name), getattr(first, name))
    cache_file.unlink()
    with pytest.raises(DataError):
        data.load_cifar10(str(archive), cache)


def test_damaged_cache_is_rebuilt(official, cache):
    archive, expected = official[1], official[2]
    ds = data.load_cifar10(str(archive), cache)
    cache_file = next(cache.glob("cifar10-*.npz"))
    cache_file.write_bytes(b"not a zip")
    assert_arrays(data.load_cifar10(str(archive), cache), expected)
    assert data.load_cifar10(str(archive), cache).fingerprint == ds.fingerprint


# --- resolve_source and stratified_subset ----------------------------------------------

def test_resolve_source(monkeypatch):
    assert data.resolve_source(None) is None
    monkeypatch.setenv("PW09_DATA", "/from/env")
    assert data.resolve_source(None) == "/from/env"
    assert data.resolve_source("/explicit") == "/explicit"
    monkeypatch.setenv("PW09_DATA", "")
    assert data.resolve_source(None) is None


def test_stratified_subset():
    y = np.tile(np.arange(10), 30)
    x = np.arange(len(y)) * 10
    sub_x, sub_y = data.stratified_subset(x, y, 50, seed=7)
    assert len(sub_y) == 50
    assert np.bincount(sub_y).tolist() == [5] * 10
    np.testing.assert_array_equal(sub_x // 10 % 10, sub_y)  # images stay with their labels
    assert np.all(np.diff(sub_x) > 0)  # in source order
    again = data.stratified_subset(x, y, 50, seed=7)
    np.testing.assert_array_equal(again[0], sub_x)
    assert not np.array_equal(data.stratified_subset(x, y, 50, seed=8)[0], sub_x)
    same_x, same_y = data.stratified_subset(x, y, None, seed=7)
    assert same_x is x and same_y is y


def test_stratified_subset_rejects_impossible_sizes():
    y = np.tile(np.arange(10), 3)
    with pytest.raises(DataError, match="needs 4 of class airplane.*only 3"):
        data.stratified_subset(y, y, 40, seed=0)
    with pytest.raises(ValueError):
        data.stratified_subset(y, y, 15, seed=0)


# --- bad inputs: one DataError each, naming the path ----------------------------------

def load_error(path: Path, cache: Path) -> str:
    """Load `path`, expect a DataError that names it, and check no cache file was left."""
    with pytest.raises(DataError) as info:
        data.load_cifar10(str(path), cache)
    message = str(info.value)
    assert str(path) in message
    leftovers = [p.name for p in cache.glob("*") if p.name != "fingerprints.json"] if cache.exists() else []
    assert leftovers == []
    return message


def test_missing_path(tmp_path, cache):
    message = load_error(tmp_path / "nowhere", cache)
    assert "does not exist" in message and "cifar-10-python.tar.gz" in message


def test_unrecognised_file_and_folder(tmp_path, cache):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "cifar-10-batches-py/" in load_error(text, cache)
    folder = tmp_path / "empty"
    folder.mkdir()
    assert "train/<class>/" in load_error(folder, cache)


def test_archive_without_cifar(tmp_path, cache):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "a.txt").write_text("a")
    archive = pack(tmp_path / "stuff", tmp_path / "stuff.tar.gz", "stuff")
    assert "neither" in load_error(archive, cache)


@pytest.mark.parametrize("which", ["official", "images"])
def test_truncated_archive(which, official, image_tree, tmp_path, cache):
    source = official[1] if which == "official" else image_tree[1]
    truncated = tmp_path / f"truncated-{source.name}"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size * 2 // 3])
    assert "truncated or corrupt" in load_error(truncated, cache)


def test_uncompressed_tar_cut_between_members(image_tree, tmp_path, cache):
    """tarfile quietly stops at a missing header: the loader must notice."""
    whole = pack(image_tree[0], tmp_path / "whole.tar", "cifar10-png")
    with tarfile.open(whole) as tar:
        cut = tar.getmembers()[-1].offset  # the start of the last member's header
    truncated = tmp_path / "cut.tar"
    truncated.write_bytes(whole.read_bytes()[:cut])
    assert "truncated or corrupt" in load_error(truncated, cache)


def test_corrupt_gzip(image_tree, tmp_path, cache):
    raw = image_tree[1].read_bytes()
    # A wrong checksum in the gzip trailer: only reading to the very end notices it.
    bad_crc = tmp_path / "bad-crc.tar.gz"
    bad_crc.write_bytes(raw[:-8] + bytes([raw[-8] ^ 0xFF]) + raw[-7:])
    assert "truncated or corrupt" in load_error(bad_crc, cache)
    # Damage mid-stream shows up as a gzip error or as an undecodable image, both named.
    damaged = tmp_path / "damaged.tar.gz"
    middle = len(raw) // 2
    damaged.write_bytes(raw[:middle] + bytes(b ^ 0x5A for b in raw[middle:middle + 64]) + raw[middle + 64:])
    assert re.search("truncated or corrupt|cannot be decoded", load_error(damaged, cache))


def test_garbage_named_like_an_archive(tmp_path, cache):
    fake = tmp_path / "cifar-10-python.tar.gz"
    fake.write_bytes(b"\x1f\x8b" + b"garbage" * 100)
    assert "truncated or corrupt" in load_error(fake, cache)


@pytest.mark.parametrize("as_archive", [False, True])
def test_missing_class(image_tree, tmp_path, cache, as_archive):
    root = image_tree[0]
    for png in (root / "test" / "cat").iterdir():
        png.unlink()
    (root / "test" / "cat").rmdir()
    path = pack(root, tmp_path / "no-cat.tar.gz", "x") if as_archive else root
    assert "class cat in test/cat/" in load_error(path, cache)


def test_missing_split_folder(image_tree, cache):
    root = image_tree[0]
    (root / "test").rename(root / "testing")
    assert "no test/ subfolder" in load_error(root, cache)


@pytest.mark.parametrize("as_archive", [False, True])
def test_unknown_class(image_tree, tmp_path, cache, as_archive):
    root = image_tree[0]
    (root / "train" / "unicorn").mkdir()
    Image.fromarray(make_images(1, 0)[0]).save(root / "train" / "unicorn" / "0.png")
    path = pack(root, tmp_path / "unicorn.tar.gz", "x") if as_archive else root
    message = load_error(path, cache)
    assert "'unicorn'" in message and "airplane" in message


@pytest.mark.parametrize("bad", ["33x32", "gray", "rgba", "garbage", "cut"])
@pytest.mark.parametrize("as_archive", [False, True])
def test_bad_image(image_tree, tmp_path, cache, bad, as_archive):
    root = image_tree[0]
    target = root / "train" / "frog" / "0001.png"
    good = make_images(1, 5)[0]
    if bad == "33x32":
        Image.fromarray(np.zeros((32, 33, 3), np.uint8)).save(target)
    elif bad == "gray":
        Image.fromarray(good[..., 0]).save(target)
    elif bad == "rgba":
        Image.fromarray(np.dstack([good, good[..., :1]])).save(target)
    elif bad == "garbage":
        target.write_bytes(b"this is not a png")
    else:  # a PNG cut off in the middle of its pixel data
        buffer = io.BytesIO()
        Image.fromarray(good).save(buffer, format="PNG")
        target.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    path = pack(root, tmp_path / "bad.tar.gz", "cifar10-png") if as_archive else root
    message = load_error(path, cache)
    assert "train/frog/0001.png" in message
    expected = {"33x32": "33x32 RGB, not 32x32 RGB", "gray": "32x32 L, not", "rgba": "32x32 RGBA, not",
                "garbage": "cannot be decoded", "cut": "cannot be decoded"}[bad]
    assert expected in message


def rewrite_batch(folder: Path, name: str, blob: bytes) -> None:
    (folder / name).write_bytes(blob)


class Exploit:
    """Unpickling this runs a shell command, unless the unpickler refuses os.system."""

    def __reduce__(self):
        return os.system, ("echo unpickled > /dev/null",)


@pytest.mark.parametrize("problem, expected", [
    ("wrong shape", "not a CIFAR-10 batch"),
    ("labels out of range", "labels from 0 to 10"),
    ("missing batch", "lacks data_batch_3"),
    ("garbage", "cannot be unpickled"),
    ("code in pickle", "refusing to load"),
    ("not cifar-10 meta", "names the classes"),
])
@pytest.mark.parametrize("as_archive", [False, True])
def test_bad_official_batches(official, tmp_path, cache, problem, expected, as_archive):
    folder = official[0]
    images = make_images(4, 0)
    if problem == "wrong shape":
        blob = pickle.dumps({b"data": np.zeros((4, 3000), np.uint8), b"labels": [0, 1, 2, 3]}, protocol=4)
        rewrite_batch(folder, "data_batch_2", blob)
    elif problem == "labels out of range":
        rewrite_batch(folder, "test_batch", pickle_batch(images, [0, 1, 10, 3]))
    elif problem == "missing batch":
        (folder / "data_batch_3").unlink()
    elif problem == "garbage":
        rewrite_batch(folder, "data_batch_1", b"\x80\x02garbage")
    elif problem == "code in pickle":
        rewrite_batch(folder, "data_batch_1", pickle.dumps(Exploit()))
    else:
        meta = {b"label_names": [f"class{i}".encode() for i in range(10)]}
        rewrite_batch(folder, "batches.meta", pickle.dumps(meta, protocol=4))
    path = pack(folder, tmp_path / "bad-official.tar.gz", "cifar-10-batches-py") if as_archive else folder
    assert expected in load_error(path, cache)


# --- imports ---------------------------------------------------------------------------

def test_import_does_not_load_tensorflow_or_keras():
    code = ("import sys, experiments.data; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "[]"


# --- the real archive ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not REAL_ARCHIVE.is_file(), reason=f"{REAL_ARCHIVE} is not available")
def test_real_archive(cache):
    start = time.perf_counter()
    ds = data.load_cifar10(str(REAL_ARCHIVE), cache)
    decoded = time.perf_counter() - start
    start = time.perf_counter()
    again = data.load_cifar10(str(REAL_ARCHIVE), cache)
    reloaded = time.perf_counter() - start
    print(f"\ndecoded {REAL_ARCHIVE.name} in {decoded:.1f} s, reloaded from the cache in {reloaded:.2f} s")

    assert ds.kind == "image-folder-archive"
    assert ds.fingerprint == "sha256:efac85c8ed52f4ead1e1f1b670d8dcf435d551fccebdd8b6365e0a01a504f3a4"
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert np.bincount(ds.y_train).tolist() == [5000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    np.testing.assert_array_equal(again.x_test, ds.x_test)
