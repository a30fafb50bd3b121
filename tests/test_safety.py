"""Safety (issue #10): no command destroys a user's work, and no damaged or foreign file
passes as part of the submission.

Fast tests (no TensorFlow): `clean` in a scratch copy of the checkout, the zip's members,
stamps with output digests, manifest paths, hostile data (pickles, archives, folders,
caches), sandboxed prose and a full disk. Slow tests (`-m slow`): a real smoke build whose
report, zip, figures, manifests, results and runs are damaged, then `invoke all`.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from experiments import atomic, build, data, report
from experiments.results import current_results, publish
from experiments.runs import experiment_status, plan_runs, record_run, Run, run_intact
from experiments.settings import build_lock, Settings
from experiments.stamps import Step
from experiments.errors import DataError, Pw09Error, ReportError

import conftest
from conftest import ROOT, ok, write_image_folder_archive


def invoke(args: list[str], cwd: Path = ROOT, preexec=None, **env) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PW09_")}
    full.update(PYTHONPATH=str(cwd), **env)
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=600, preexec_fn=preexec)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The one `error:` line, which also names the fix: "what is wrong; what to do."."""
    line = conftest.error_line(proc)
    assert "; " in line and line.endswith("."), line
    return line


def settings(build_dir: Path, dist: Path | None = None, **kw) -> Settings:
    return Settings(profile="smoke", build=build_dir, dist=dist or build_dir.parent / "dist", **kw)


# =========================================================================================
# 1. clean deletes only what the build wrote
# =========================================================================================


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A scratch copy of the project (sources only) with a `.git` folder and a finished build."""
    copy = tmp_path / "pw09"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("build", "dist", ".git", "__pycache__", ".*cache"))
    (copy / ".git").mkdir()
    (copy / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for rel in ("build/.lock", "build/results/baseline/metrics.json", "build/report/report.pdf",
                "build/runs/baseline/s1234-abc/metrics.json", "dist/pw09-submission.zip"):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_text("built")
    return copy


def test_empty_variables_count_as_unset_and_never_delete_the_checkout(checkout):
    proc = ok(invoke(["clean"], cwd=checkout, PW09_DIST_DIR="", PW09_BUILD_DIR=" "))
    assert (checkout / "tasks.py").is_file() and (checkout / ".git" / "HEAD").is_file()
    assert (checkout / "build" / "runs" / "baseline").is_dir()  # trained runs stay without --all
    assert not (checkout / "dist" / "pw09-submission.zip").exists()
    assert not (checkout / "build" / "results").exists() and not (checkout / "build" / "report").exists()
    assert (checkout / "dist").is_dir()  # the zip goes, never the folder
    assert str(checkout) + "\n" not in proc.stdout


def test_clean_never_follows_a_symlinked_dist_or_build_part(checkout, tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("two years of work")
    shutil.rmtree(checkout / "dist")
    (checkout / "dist").symlink_to(thesis)
    shutil.rmtree(checkout / "build" / "report")
    (checkout / "build" / "report").symlink_to(thesis)
    proc = ok(invoke(["clean", "--all"], cwd=checkout))
    assert (thesis / "chapter1.tex").read_text() == "two years of work"
    assert "symlink" in proc.stdout
    assert not (checkout / "build" / "runs").exists()  # --all: what the build wrote does go


def test_same_build_and_dist_folder_keeps_the_runs(tmp_path):
    out = tmp_path / "out"
    (out / "runs" / "baseline").mkdir(parents=True)
    (out / "runs" / "baseline" / "metrics.json").write_text("{}")
    (out / ".lock").write_text("")
    (out / "pw09-submission.zip").write_text("zip")
    (out / "notes.txt").write_text("mine")
    removed = build.clean(settings(out, out))
    assert removed == [out / "pw09-submission.zip"]
    assert (out / "runs" / "baseline" / "metrics.json").exists() and (out / "notes.txt").exists()


def test_a_folder_no_build_used_is_not_cleaned(tmp_path):
    mine = tmp_path / "documents"
    (mine / "results").mkdir(parents=True)
    (mine / "results" / "experiment.xlsx").write_text("data")
    assert build.clean(settings(mine), everything=True) == []
    assert (mine / "results" / "experiment.xlsx").exists()


@pytest.mark.parametrize("where", ["/", "~", "checkout", "parent"])
def test_root_home_and_checkout_are_refused_as_output_folders(where, checkout):
    folder = {"/": "/", "~": str(Path.home()), "checkout": str(checkout), "parent": str(checkout.parent)}[where]
    for var in ("PW09_BUILD_DIR", "PW09_DIST_DIR"):
        line = error_line(invoke(["clean", "--all"], cwd=checkout, **{var: folder}))
        assert "checkout" in line and var in line
    assert (checkout / "build" / "runs").is_dir() and (checkout / "tasks.py").is_file()


def test_clean_waits_for_no_running_build(checkout):
    with open(checkout / "build" / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        line = error_line(invoke(["clean"], cwd=checkout))
    assert "another build is already running" in line
    assert (checkout / "build" / "results").is_dir() and (checkout / "dist" / "pw09-submission.zip").exists()


def test_a_killed_builds_temporary_files_are_swept_at_the_next_start(tmp_path):
    b, dist = tmp_path / "build", tmp_path / "dist"
    left = [b / "results" / "x" / ".metrics.tmp-ab12cd34.json", dist / ".pw09-submission.tmp-zz_9yy88.zip"]
    kept = [b / "results" / "x" / ".notes.txt", b / "results" / "x" / "my.tmp-file"]
    for p in left + kept:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    with build_lock(settings(b, dist)):
        pass
    assert not any(p.exists() for p in left) and all(p.exists() for p in kept)


# =========================================================================================
# 2. the zip holds the project's files and nothing else
# =========================================================================================


def _report_build(tmp_path, report_src: Path | None = None) -> Settings:
    s = settings(tmp_path / "build", report_src=report_src or ROOT / "report_src")
    (s.report / "figures").mkdir(parents=True)
    (s.report / "report.pdf").write_bytes(os.urandom(300_000))
    (s.report / "report.html").write_text("<html></html>")
    (s.report / "figures" / "a.png").write_bytes(b"png")
    Step(s, "report", deps=[], params={}, outs=[s.report / "report.html", s.report / "report.pdf"]).done()
    return s


def test_symlinks_are_skipped_with_a_warning_never_followed(tmp_path):
    prose = tmp_path / "report_src"
    shutil.copytree(ROOT / "report_src", prose)
    (prose / "p.md").symlink_to("/etc/passwd")
    s = _report_build(tmp_path, prose)
    (s.report / "figures" / "secret.png").symlink_to("/etc/passwd")
    (s.report / "linked").symlink_to("/etc", target_is_directory=True)
    warnings = []
    names = [n for _, n in build.zip_members(s, warn=warnings.append)]
    assert "source/report_src/p.md" not in names and "report/figures/secret.png" not in names
    assert not any(n.startswith("report/linked") for n in names)
    assert "report/figures/a.png" in names and "source/report_src/intro.md" in names
    assert any("p.md" in w and "symlink" in w for w in warnings) and any("secret.png" in w for w in warnings)


def test_in_a_git_checkout_only_tracked_sources_are_zipped(tmp_path):
    s = _report_build(tmp_path)
    stray = ROOT / "experiments" / "zz_untracked_scratch.py"
    stray.write_text("API_KEY = 'secret'\n")
    try:
        names = {n for _, n in build.zip_members(s) if n.startswith("source/")}
    finally:
        stray.unlink()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert "source/experiments/zz_untracked_scratch.py" not in names
    assert names and all(n.removeprefix("source/") in tracked for n in names)
    assert {"source/tasks.py", "source/experiments/build.py", "source/report_src/intro.md"} <= names


def test_a_file_over_the_size_cap_is_refused(tmp_path):
    s = _report_build(tmp_path)
    with open(s.report / "figures" / "huge.png", "wb") as fh:
        fh.truncate(build.ZIP_MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(Pw09Error, match="huge.png is .* MB, more than"):
        build.zip_members(s)


# =========================================================================================
# 3. a damaged artifact is never current (unit level; the real build is below)
# =========================================================================================


def test_step_outputs_carry_their_digest_and_a_copied_build_keeps_its_stamps(tmp_path):
    s = settings(tmp_path / "a")
    dep, out = s.build / "in.txt", s.build / "out.txt"
    atomic.write_text(dep, "a")
    atomic.write_text(out, "made")
    step = Step(s, "demo", deps=[dep], params={}, outs=[out])
    step.done()
    assert step.state() == "current" and not step.needed()
    recorded = json.loads(step.stamp.read_text())["outs"]
    assert list(recorded) == ["out.txt"]  # relative to the build folder
    shutil.copytree(s.build, tmp_path / "b")
    s2 = settings(tmp_path / "b")
    assert not Step(s2, "demo", deps=[s2.build / "in.txt"], params={}, outs=[s2.build / "out.txt"]).needed()
    out.write_text("")  # truncated
    assert step.state() == "damaged" and step.needed()
    step.stamp.write_text("{garbled")
    assert step.state() == "damaged" and step.needed()


def test_stamp_paths_that_leave_the_build_folder_are_not_followed(tmp_path):
    s = settings(tmp_path / "build")
    step = Step(s, "demo", deps=[], params={}, outs=[])
    assert step.path("../../etc/passwd") is None and step.path("/etc/passwd") is None
    assert step.path("dist:../x") is None and step.path("root:../../etc") is None
    atomic.write_json(step.stamp, {"digest": step.digest(), "outs": {"../../etc/passwd": "x"}})
    assert step.state() == "damaged"


def _fake_run(run: Run) -> None:
    from conftest import fake_run_metrics
    from experiments import train

    metrics, history = fake_run_metrics(run.experiment, run.seed, 0.5, 0.6)
    atomic.write_csv(run.dir / "history.csv", history, train.HISTORY_COLUMNS)
    atomic.write_bytes(run.dir / "model.keras", b"fake weights")
    atomic.write_json(run.dir / "metrics.json", metrics)


# Without recorded digests (runs trained before them) only a structurally broken file shows.
@pytest.mark.parametrize("file, damage, recorded", [
    *[(f, d, r) for f, d in (("metrics.json", b"{"), ("history.csv", b"epoch,loss\n1,x\n"), ("model.keras", b""))
      for r in (True, False)],
    ("model.keras", b"other weights", True),
])
def test_a_garbled_run_is_damaged_not_cached(tmp_path, file, damage, recorded):
    s = settings(tmp_path / "build")
    (run,) = plan_runs(s, "baseline", "sha256:x")
    _fake_run(run)
    if recorded:
        record_run(run.dir)
    assert experiment_status(s, "baseline", "sha256:x") == "cached"
    (run.dir / file).write_bytes(damage)
    assert experiment_status(s, "baseline", "sha256:x") == "damaged (1/1 seeds)"
    assert publish(s, "baseline", "sha256:x") is None


@pytest.mark.parametrize("state", ['{"epoch": 1, "mod', '{"epoch": 1, "model": "../../../../etc/passwd", "history": []}'])
def test_a_garbled_checkpoint_is_damaged_and_a_garbled_result_is_not_current(tmp_path, state):
    from experiments.train import Checkpoint, checkpoint_state

    s = settings(tmp_path / "build")
    (run,) = plan_runs(s, "baseline", "sha256:x")
    (run.dir / "checkpoint").mkdir(parents=True)
    (run.dir / "checkpoint" / "state.json").write_text(state)
    assert Checkpoint(run.dir).load() is None  # training starts again, reading nothing elsewhere
    assert checkpoint_state(run.dir) == "damaged"
    assert experiment_status(s, "baseline", "sha256:x") == "damaged (1/1 seeds)"
    (s.results / "vgg").mkdir(parents=True)
    (s.results / "vgg" / "metrics.json").write_text("garbage")
    results, problems = current_results(s, "sha256:x")
    assert "vgg" not in results and problems["vgg"].startswith("damaged")


def test_a_resumable_checkpoint_is_partial_and_one_without_its_model_is_damaged(tmp_path):
    from experiments.train import Checkpoint, checkpoint_state

    s = settings(tmp_path / "build")
    (run,) = plan_runs(s, "baseline", "sha256:x")
    assert checkpoint_state(run.dir) is None and experiment_status(s, "baseline", "sha256:x") == "missing"
    (run.dir / "checkpoint").mkdir(parents=True)
    (run.dir / "checkpoint" / "epoch-0001.keras").write_bytes(b"fake weights")
    _, history = conftest.fake_run_metrics("baseline", run.seed, 0.5, 0.6, epochs=1)
    atomic.write_json(run.dir / "checkpoint" / "state.json",
                      {"epoch": 1, "model": "epoch-0001.keras", "history": history, "seed_states": [[1335, 8]]})
    assert Checkpoint(run.dir).load()["epoch"] == 1 and checkpoint_state(run.dir) == "partial"
    assert experiment_status(s, "baseline", "sha256:x") == "partial (0/1 seeds)"
    assert plan_runs(s, "baseline", "sha256:x")[0].epochs_done == 1  # the plan counts only the epochs left
    (run.dir / "checkpoint" / "epoch-0001.keras").unlink()
    assert checkpoint_state(run.dir) == "damaged"
    assert plan_runs(s, "baseline", "sha256:x")[0].epochs_done == 0  # a damaged run trains from the start


def test_published_results_are_rewritten_when_damaged(tmp_path):
    s = settings(tmp_path / "build")
    (run,) = plan_runs(s, "baseline", "sha256:x")
    _fake_run(run)
    first = publish(s, "baseline", "sha256:x")
    for name in ("metrics.json", "history.csv", "model.keras"):
        (s.results / "baseline" / name).write_bytes(b"")
        assert publish(s, "baseline", "sha256:x") == first
        assert (s.results / "baseline" / name).stat().st_size > 0


# =========================================================================================
# 4. no path read from an artifact leaves the build folder
# =========================================================================================


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/etc/passwd", "", None, "a/../../x.png"])
def test_a_manifest_path_outside_the_figures_folder_is_refused(tmp_path, path):
    folder = tmp_path / "build" / "figures"
    folder.mkdir(parents=True)
    with pytest.raises(Pw09Error, match="outside"):
        build.figure_file(folder, {"id": "x", "path": path}, "figures.json")
    assert build.figure_file(folder, {"path": "activations/a.png"}, "m") == folder / "activations" / "a.png"


def test_a_symlink_out_of_the_figures_folder_is_refused(tmp_path):
    folder = tmp_path / "figures"
    folder.mkdir()
    (folder / "a.png").symlink_to("/etc/passwd")
    with pytest.raises(Pw09Error, match="outside"):
        build.figure_file(folder, {"path": "a.png"}, "figures.json")


# =========================================================================================
# 5. untrusted data stays data
# =========================================================================================


def _official(folder: Path, test_batch: bytes | None = None, meta: bytes | None = None) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8), b"labels": list(range(10))}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=4))
    if test_batch is not None:
        (folder / "test_batch").write_bytes(test_batch)
    if meta is not None:
        (folder / "batches.meta").write_bytes(meta)
    return folder


class ObjectDtype:
    """An object dtype whose pickled state clears its "holds objects" flag."""

    def __reduce__(self):
        return np.dtype, ("O8", False, True), (3, "|", None, None, None, -1, -1, 0)


class ObjectArray:
    """numpy's own array reduce over that dtype: the raw bytes become object pointers
    (0x4141...), and touching an element segfaults an unguarded loader."""

    def __init__(self, n: int):
        self.n = n

    def __reduce__(self):
        reconstruct = np.zeros(1, np.uint8).__reduce__()[0]
        return reconstruct, (np.ndarray, (0,), b"b"), (1, (self.n,), ObjectDtype(), False, b"\x41" * 8 * self.n)


LOAD = "import sys; from experiments import data; data.load_cifar10(sys.argv[1], sys.argv[2])"


@pytest.mark.parametrize("where, content", [
    ("batches.meta", {b"label_names": ObjectArray(10)}),
    ("test_batch", {b"data": ObjectArray(10 * 3072), b"labels": list(range(10))}),
    ("test_batch", {b"data": np.zeros((10, 3072), np.int64), b"labels": list(range(10))}),
    ("test_batch", {b"data": np.zeros((10, 3072), np.uint8), b"labels": [0.5] * 10}),
    ("test_batch", {b"data": np.zeros((10, 3072), np.uint8), b"labels": [True] * 10}),
    ("test_batch", {"data": np.zeros((10, 3072), np.uint8), "labels": list(range(10))}),
])
def test_the_pickle_loader_accepts_only_what_cifar_batches_hold(tmp_path, where, content):
    blob = pickle.dumps(content, protocol=4)
    folder = _official(tmp_path / "cifar-10-batches-py", **{"test_batch" if where == "test_batch" else "meta": blob})
    proc = subprocess.run([sys.executable, "-c", LOAD, str(folder), str(tmp_path / "cache")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])  # not a segfault (-11)
    assert "DataError" in proc.stderr and where in proc.stderr


def test_a_genuine_batch_still_loads(tmp_path):
    folder = _official(tmp_path / "cifar-10-batches-py")
    ds = data.load_cifar10(str(folder), tmp_path / "cache")
    assert ds.x_train.shape == (50, 32, 32, 3) and ds.x_train.dtype == np.uint8 and list(ds.y_test) == list(range(10))


def _raw_tar(path: Path, members: list[tuple[str, int, bytes]]) -> Path:
    """An uncompressed tar whose headers declare `size` whatever data follows."""
    with open(path, "wb") as fh:
        for name, size, payload in members:
            info = tarfile.TarInfo(name)
            info.size = size
            fh.write(info.tobuf(format=tarfile.PAX_FORMAT))
            fh.write(payload + bytes(-len(payload) % tarfile.BLOCKSIZE))
        fh.write(bytes(2 * tarfile.BLOCKSIZE))
    return path


@pytest.mark.parametrize("size", [2**41, 300 * 2**20])
def test_an_oversized_archive_member_is_refused_unread(tmp_path, size):
    archive = _raw_tar(tmp_path / "evil.tar", [("cifar/train/cat/0.png", size, b"\x89PNG")])
    with pytest.raises(DataError, match=r"more than the .* a CIFAR-10 file can be"):
        data.load_cifar10(str(archive), tmp_path / "cache")


def test_duplicate_archive_members_are_refused(tmp_path):
    archive = write_image_folder_archive(tmp_path / "a.tar.gz", per_class_train=1, per_class_test=1)
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    with tarfile.open(tmp_path / "dup.tar", "w") as tar:
        for m, payload in members + members[:1]:
            tar.addfile(m, io.BytesIO(payload))
    with pytest.raises(DataError, match="appears twice"):
        data.load_cifar10(str(tmp_path / "dup.tar"), tmp_path / "cache")


def test_folder_walks_do_not_follow_directory_symlinks(tmp_path):
    archive = write_image_folder_archive(tmp_path / "a.tar.gz", per_class_train=1, per_class_test=1)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    root = tmp_path / "x" / "tiny-cifar"
    fp = data.source_fingerprint(str(root), tmp_path / "c1")
    (root / "train" / "loop").symlink_to(root)
    assert data.source_fingerprint(str(root), tmp_path / "c2") == fp  # neither followed nor looping
    shutil.move(root / "train" / "cat", tmp_path / "elsewhere-cat")
    (root / "train" / "cat").symlink_to(tmp_path / "elsewhere-cat")
    with pytest.raises(DataError, match="symlink"):
        data.load_cifar10(str(root), tmp_path / "c3")


def test_a_device_as_data_source_is_named_as_such(tmp_path):
    with pytest.raises(DataError, match="/dev/zero is neither a file nor a folder"):
        data.load_cifar10("/dev/zero", tmp_path / "cache")


def test_a_cached_npz_of_the_wrong_shape_or_dtype_is_rebuilt(tmp_path):
    archive = write_image_folder_archive(tmp_path / "a.tar.gz", per_class_train=1, per_class_test=1)
    cache = tmp_path / "cache"
    good = data.load_cifar10(str(archive), cache)
    (npz,) = cache.glob("cifar10-*.npz")
    np.savez(npz, x_train=np.zeros((10, 32, 32, 3), np.float32), y_train=good.y_train,
             x_test=good.x_test, y_test=np.full(10, 99))
    again = data.load_cifar10(str(archive), cache)
    assert again.x_train.dtype == np.uint8 and np.array_equal(again.x_train, good.x_train)
    assert np.array_equal(again.y_test, good.y_test)


# =========================================================================================
# 6. the prose cannot run code
# =========================================================================================


def _render_prose(tmp_path, text: str) -> str:
    prose = tmp_path / "report_src"
    prose.mkdir()
    (prose / "part.md").write_text(text)
    env = report.jinja_env(tmp_path, prose)
    return report.render_markdown(env, "part.md", {"x": 1}, report.Numbering({}))


@pytest.mark.parametrize("attack", [
    "{{ lipsum.__globals__['os'].popen('touch PWNED').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% for c in x.__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
])
def test_the_prose_runs_in_a_sandbox(tmp_path, attack, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ReportError, match="part.md.*unsafe"):
        _render_prose(tmp_path, attack)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("attack", ['{% include "../../../../../etc/passwd" %}', '{% include "/etc/passwd" %}'])
def test_the_prose_cannot_include_files_from_elsewhere(tmp_path, attack):
    with pytest.raises(ReportError, match="part.md"):
        _render_prose(tmp_path, attack)


def test_raw_html_in_the_prose_is_cut_to_an_allow_list(tmp_path):
    body = _render_prose(tmp_path, (
        "Text *kept* <sup>2</sup> <span class=\"x\">ok</span>.\n\n<script>alert(1)</script>\n\n"
        "<iframe src=\"https://evil.example\"></iframe><object data=\"x.swf\">inside</object>\n\n"
        "[link](javascript:alert(1)) <a href=\" JaVa&#83;cript:alert(2)\">y</a> "
        "<img src=\"x\" onerror=\"alert(3)\"> <img src=\"file:///etc/passwd\"> <p onclick=\"alert(4)\">z</p>\n\n"
        "<style>body{background:url(http://evil.example)}</style><a href=\"https://ok.example\">fine</a>\n"))
    low = body.lower()
    for bad in ("<script", "alert(1)", "<iframe", "<object", "inside", "javascript", "onerror", "onclick",
                "file:", "<style", "evil.example"):
        assert bad not in low, (bad, body)
    for good in ("<em>kept</em>", "<sup>2</sup>", '<span class="x">ok</span>', 'href="https://ok.example"', "z"):
        assert good in body, (good, body)


# =========================================================================================
# 7. every failure is one sentence
# =========================================================================================


@pytest.mark.parametrize("args", [["list", "--seeds", "three"], ["all", "--seeds", "2x"],
                                  ["visualize", "--image-index", "twelve"], ["bench", "--reps", "many"]])
def test_non_numeric_options_are_one_sentence(tmp_path, args):
    line = error_line(invoke([*args, "--profile", "smoke"], PW09_BUILD_DIR=str(tmp_path / "b"),
                             PW09_DIST_DIR=str(tmp_path / "d"), KERAS_HOME=str(tmp_path / "k")))
    assert args[-2] in line and "whole number" in line


def test_a_full_disk_is_one_sentence_and_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("previous")
    import errno

    with pytest.raises(Pw09Error, match=r"disk is full while writing .*out\.json"):
        with atomic.atomic_path(target) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def _file_size_limit(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_while_zipping_is_one_sentence_and_keeps_the_zip(tmp_path):
    s = _report_build(tmp_path)
    atomic.write_bytes(s.dist / build.ZIP_NAME, b"PK previous zip")
    line = error_line(invoke(["zip"], preexec=_file_size_limit(200_000), PW09_BUILD_DIR=str(s.build),
                             PW09_DIST_DIR=str(s.dist)))
    assert "disk is full" in line and build.ZIP_NAME in line
    assert (s.dist / build.ZIP_NAME).read_bytes() == b"PK previous zip"
    assert [p.name for p in s.dist.iterdir()] == [build.ZIP_NAME]


# =========================================================================================
# A real build, damaged, then `invoke all`
# =========================================================================================


@pytest.fixture
def damaged_copy(smoke_copy):
    """A copy of the shared smoke build (copies keep their stamps) and how to run in it."""
    def run(command: str) -> subprocess.CompletedProcess:
        return smoke_copy.invoke(command)

    return smoke_copy.build, smoke_copy.dist, run


@pytest.mark.slow
def test_a_copied_build_is_up_to_date(damaged_copy):
    b, dist, run = damaged_copy
    out = run("all").stdout
    assert "Report: up to date" in out and "Training" not in out and "Figures" not in out
    assert "damaged" not in run("list").stdout


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated pdf", "deleted figure", "deleted visual", "cut zip",
                                    "tampered manifest", "garbled results"])
def test_a_damaged_artifact_is_listed_and_rebuilt_by_invoke_all(damaged_copy, damage):
    b, dist, run = damaged_copy
    zip_path = dist / build.ZIP_NAME
    visual = sorted((b / "figures").rglob("*.png"))[-1]
    if damage == "truncated pdf":
        (b / "report" / "report.pdf").write_bytes(b"")
    elif damage == "deleted figure":
        (b / "figures" / "curves-ex1.png").unlink()
    elif damage == "deleted visual":
        visual.unlink()
    elif damage == "cut zip":
        zip_path.write_bytes(zip_path.read_bytes()[:100])
    elif damage == "tampered manifest":
        manifest = json.loads((b / "figures" / "figures.json").read_text())
        manifest["curves-ex1"]["path"] = "../../../../../../etc/passwd"
        (b / "figures" / "figures.json").write_text(json.dumps(manifest))
    elif damage == "garbled results":
        (b / "results" / "baseline" / "metrics.json").write_text("{garbled")
    listing = run("list").stdout
    if damage != "garbled results":
        assert "damaged" in listing, listing
    out = run("all").stdout
    assert "Training" not in out, out
    assert (b / "report" / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (b / "figures" / "curves-ex1.png").is_file() and visual.is_file()
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.testzip() is None
        assert not any("passwd" in n for n in zf.namelist())
        assert all(b"root:x:0:0" not in zf.read(n) for n in zf.namelist() if n.startswith("report/"))
    assert json.loads((b / "results" / "baseline" / "metrics.json").read_text())["experiment"] == "baseline"
    assert "damaged" not in run("list").stdout


# Each finished-run file cut short, in a run of its own: one rebuild retrains exactly those runs.
DAMAGED_RUN_FILES = {"baseline": "metrics.json", "aug_flip": "history.csv", "aug_shift": "model.keras"}


@pytest.mark.slow
def test_a_damaged_run_is_listed_and_retrained(damaged_copy):
    b, dist, run = damaged_copy
    run_dirs = {}
    for name, file in DAMAGED_RUN_FILES.items():
        (run_dirs[name],) = (b / "runs" / name).glob("s*-*")
        (run_dirs[name] / file).write_bytes((run_dirs[name] / file).read_bytes()[:20])
    listing = run("list").stdout
    for name in DAMAGED_RUN_FILES:
        assert any(line.startswith(name + " ") and "damaged" in line for line in listing.splitlines()), listing
    out = run("all").stdout
    trained = sorted(line.split()[1] for line in out.splitlines() if line.startswith("Training "))
    assert trained == sorted(DAMAGED_RUN_FILES), out
    assert all(run_intact(d) for d in run_dirs.values())
    assert "damaged" not in run("list").stdout
