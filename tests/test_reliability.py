"""Reliability and safety (issue #5): interrupted, repeated and mistaken runs never lose
work, never mix results and never fetch what they should not.

Fast tests (no TensorFlow): atomic writes, the zip allow-list, the PDF URL fetcher and
template escaping. Slow tests (`-m slow`, tiny real training on a 1,500-image archive
with the smoke profile): resume after Ctrl-C and kill -9, same seed -> same numbers,
template errors and stale results through the CLI on a finished build, and the zip of
that build checked entry by entry. Bad inputs that fail before training are in
test_cli_errors.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from experiments import atomic, build, config, report
from experiments.results import current_results
from experiments.runs import DataSource
from experiments.settings import Settings

from conftest import ROOT, calibration_table, error_line, ok, snapshot, write_image_folder_archive


# Runs `invoke <args>` as in a terminal: Ctrl-C raises KeyboardInterrupt even if the
# tests were started with SIGINT ignored.
INVOKE_IN_A_TERMINAL = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from invoke.main import program
program.run(["invoke", *sys.argv[1:]])
"""

# Trains the runs of the named experiments (what `invoke all` does first), nothing else.
TRAIN_ONLY = r"""
import sys
from experiments.runs import DataSource, train_runs
from experiments.settings import Settings
settings = Settings(profile="smoke", data=sys.argv[1])
train_runs(settings, sys.argv[2:], DataSource(settings))
"""


def child_env(build: Path, dist: Path, **env) -> dict:
    full_env = {k: v for k, v in os.environ.items() if k != "PW09_DATA"}
    full_env.update(PW09_BUILD_DIR=str(build), PW09_DIST_DIR=str(dist), **env)
    return full_env


def run(cmd: list[str], build: Path, dist: Path, timeout: int = 300, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *cmd], cwd=ROOT, env=child_env(build, dist, **env), capture_output=True,
                          text=True, timeout=timeout)


def invoke_stopped_after_epoch_1(args: list[str], build: Path, dist: Path, sig: int,
                                 timeout: float = 300) -> subprocess.CompletedProcess:
    """`invoke <args>` for the baseline, sent `sig` (Ctrl-C or kill -9) from outside as soon
    as its first epoch is checkpointed, while the second one trains."""
    out, err = build.parent / f"{build.name}-stdout.txt", build.parent / f"{build.name}-stderr.txt"
    build.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as stdout, open(err, "w") as stderr:  # files, not pipes: nothing blocks the child
        proc = subprocess.Popen([sys.executable, "-c", INVOKE_IN_A_TERMINAL, *args], cwd=ROOT,
                                env=child_env(build, dist), stdout=stdout, stderr=stderr, text=True)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if any(checkpointed_epoch(p) == 1 for p in build.glob("runs/baseline/*/checkpoint/state.json")):
                    proc.send_signal(sig)
                    break
                time.sleep(0.005)
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.read_text(), err.read_text())


def checkpointed_epoch(state: Path) -> int | None:
    try:
        return json.loads(state.read_text())["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def invoke(args: list[str], build: Path, dist: Path, **env) -> subprocess.CompletedProcess:
    return run(["-m", "invoke", *args], build, dist, **env)


def the_run(build: Path, name: str = "baseline") -> Path:
    (folder,) = (build / "runs" / name).glob("s1234-*")
    return folder


def history_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def smoke_archive(tiny_archive) -> Path:
    """Exactly what the smoke profile draws: 100 training and 50 test images per class."""
    return tiny_archive


# =========================================================================================
# Atomic writes
# =========================================================================================


def test_a_crash_mid_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "results" / "metrics.json"
    atomic.write_json(target, {"test_accuracy": 0.5})
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text('{"test_accura')
            raise RuntimeError("crash")
    assert json.loads(target.read_text()) == {"test_accuracy": 0.5}
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]  # no temporary left


@pytest.mark.parametrize("existed", [True, False])
def test_kill_9_mid_write_leaves_the_old_file_or_none(tmp_path, existed):
    target = tmp_path / "report.pdf"
    if existed:
        target.write_bytes(b"%PDF old")
    code = ("import os, signal, sys; from experiments import atomic\n"
            "with atomic.atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_bytes(b'%PDF half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=ROOT, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    if existed:
        assert target.read_bytes() == b"%PDF old"
    else:
        assert not target.exists()


# Writers that create a file directly; each must write a temporary (`tmp`) path that
# `atomic.atomic_path` renames into place, or be a call into `atomic`.
_WRITERS = re.compile(r"\.write_text\(|\.write_bytes\(|savefig\(|\.save\(|np\.save|savez|copyfile\(|"
                      r"\.write_pdf\(|ZipFile\(.*[\"'][wax][\"']|open\(.*[\"'][wax]b?[\"']")


def test_every_artifact_writer_goes_through_a_temporary_name():
    offenders = []
    for path in sorted((ROOT / "experiments").glob("*.py")):
        if path.name == "atomic.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if not _WRITERS.search(code) or "tmp" in code or "atomic." in code:
                continue
            if re.search(r"report\.write_pdf\(|checkpoint\.save\(|\.lock\b", code):  # atomic wrappers; the lock
                continue
            offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "direct (non-atomic) writes:\n" + "\n".join(offenders)


# =========================================================================================
# Safety: the zip, the PDF fetcher, escaping
# =========================================================================================


def check_zip_entries(names: list[str]) -> None:
    """Every entry: relative, no `..`, no hidden part, an allowed kind in report/ or source/."""
    assert names
    for name in names:
        parts = name.split("/")
        assert not name.startswith("/") and not re.match(r"^[A-Za-z]:", name) and "\\" not in name, name
        assert ".." not in parts and "" not in parts and not any(p.startswith(".") for p in parts), name
        assert not name.endswith((".keras", ".npz", ".npy", ".h5", ".tar.gz", ".tgz", ".tar", ".zip", ".pyc",
                                  ".json", ".csv")), name
        assert "__pycache__" not in parts and ".git" not in parts, name
        if parts[0] == "report":
            assert re.fullmatch(r"report/(report\.(html|pdf)|figures/[\w./-]+\.png)", name), name
        else:
            assert parts[0] == "source", name
            assert re.fullmatch(r"source/(tasks\.py|pyproject\.toml|README\.md|experiments/\w+\.py|"
                                r"templates/[\w.-]+\.(j2|css)|report_src/[\w.-]+\.(md|toml))", name), name


def test_zip_members_leave_out_everything_not_listed(tmp_path):
    templates, prose = tmp_path / "templates", tmp_path / "report_src"
    shutil.copytree(ROOT / "templates", templates)
    shutil.copytree(ROOT / "report_src", prose)
    for junk in ("report.html.j2~", ".report.html.j2.swp", "notes.bak"):
        (templates / junk).write_text("junk")
    (prose / ".DS_Store").write_text("junk")
    settings = Settings(profile="smoke", build=tmp_path / "build", dist=tmp_path / "dist",
                                 templates=templates, report_src=prose)
    rep = settings.report
    for rel in ("report.html", "report.pdf", "figures/curves-ex1.png", "figures/act/x.png",
                ".report.tmp-abc.pdf", "model.keras", "figures/activations/baseline.npz", ".git/config",
                "data/cifar10.tar.gz", "figures/.hidden/y.png"):
        (rep / rel).parent.mkdir(parents=True, exist_ok=True)
        (rep / rel).write_bytes(b"x")
    names = [name for _, name in build.zip_members(settings)]
    check_zip_entries(names)
    assert {"report/report.html", "report/report.pdf", "report/figures/curves-ex1.png",
            "report/figures/act/x.png", "source/tasks.py", "source/experiments/build.py",
            "source/templates/report.html.j2", "source/report_src/intro.md"} <= set(names)
    for path, name in build.zip_members(settings):
        assert path.is_file() and not name.startswith("/")
    for bad in ("/abs/report.pdf", "report/../x.pdf", "report/.x.pdf", "source/a.keras", "data/x.png",
                "report/figures/a.npz", "source/.git/config", "report.pdf", "source\\x.py"):
        assert not build.zip_allowed(bad), bad


def test_pdf_fetches_nothing_outside_the_build_folder(tmp_path, monkeypatch):
    import socket

    from PIL import Image

    connections = []

    def no_network(*args, **kwargs):
        connections.append(args)
        raise OSError("network use in a test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    build_dir = tmp_path / "build"
    (build_dir / "report").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(build_dir / "report" / "inside.png")
    Image.new("RGB", (8, 8), "blue").save(tmp_path / "outside.png")
    html = """<html><head>
      <link rel="stylesheet" href="https://example.com/style.css">
      <style>@import url("http://example.com/more.css"); body { background: url("file:///etc/hostname"); }</style>
      </head><body><p>Report</p>
      <img src="http://example.com/tracker.png"> <img src="https://example.com/x.png">
      <img src="file:///etc/passwd"> <img src="../../outside.png"> <img src="inside.png">
      <a rel="attachment" href="file:///etc/passwd">passwd</a>
      </body></html>"""
    pdf = build_dir / "report" / "report.pdf"
    refused = report.write_pdf(html, build_dir / "report", pdf, allowed_root=build_dir)

    assert not connections
    for url in ("https://example.com/style.css", "http://example.com/more.css", "http://example.com/tracker.png",
                "https://example.com/x.png", "file:///etc/passwd", "file:///etc/hostname",
                (tmp_path / "outside.png").as_uri()):
        assert url in refused, (url, refused)
    assert not any("inside.png" in url for url in refused)
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    images = [obj for page in reader.pages for obj in page.images]
    assert len(images) == 1  # inside.png only
    data = pdf.read_bytes()
    assert b"/EmbeddedFile" not in data and b"root:x:0:0" not in data


def test_templates_and_prose_escape_values_and_prose_goes_through_markdown(tmp_path):
    templates, prose = tmp_path / "templates", tmp_path / "report_src"
    templates.mkdir()
    prose.mkdir()
    (templates / "page.html.j2").write_text("<td>{{ value }}</td>")
    (prose / "part.md").write_text("Data: *{{ value }}*.\n")
    env = report.jinja_env(templates, prose)
    evil = '<script>alert("x")</script><img src="http://example.com/t.png">'
    page = env.get_template("page.html.j2").render(value=evil)
    assert "<script>" not in page and "&lt;script&gt;" in page
    body = report.render_markdown(env, "part.md", {"value": evil}, report.Numbering({}))
    assert "<em>" in body  # Markdown converted ...
    assert "<script>" not in body and "<img" not in body and "&lt;script&gt;" in body  # ... values escaped


# =========================================================================================
# Interruptions: resume
# =========================================================================================


def tiny_dataset():
    from experiments.data import Dataset

    rng = np.random.default_rng(0)
    y_train, y_test = np.arange(200) % 10, np.arange(100) % 10
    x_train = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    return Dataset(x_train, y_train, x_test, y_test, fingerprint="sha256:tiny", source="test", kind="image-folder")


def stop_after_epoch(n: int):
    """A Keras callback that presses Ctrl-C once epoch `n` is recorded and checkpointed."""
    import keras

    class StopAfterEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == n:
                raise KeyboardInterrupt

    return StopAfterEpoch()


LOSS_COLUMNS = ["epoch", "loss", "accuracy", "test_loss", "test_accuracy"]


@pytest.fixture
def policy_here(tmp_path, monkeypatch):
    """Make this machine's calibration choose `policy` (a fresh cache in which it is the faster);
    the global Keras policy a run sets is float32 again afterwards."""
    import keras

    from experiments import estimate

    def choose(policy: str):
        rates = {p: 300.0 if p == policy else 100.0 for p in estimate.POLICIES}
        (tmp_path / "cache").mkdir(exist_ok=True)
        (tmp_path / "cache" / "calibration.json").write_text(json.dumps(calibration_table(rates)))
        monkeypatch.setenv("PW09_CACHE", str(tmp_path / "cache"))

    yield choose
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
@pytest.mark.parametrize("name, policy", [("baseline", "float32"), ("aug_flip", "float32"),  # no random layer; flips
                                          ("vgg", "float32"), ("vgg", "mixed_bfloat16")])  # dropout; bfloat16
def test_an_interrupted_run_resumes_to_the_numbers_of_an_uninterrupted_one(tmp_path, name, policy, policy_here):
    import keras

    from experiments import estimate, train

    policy_here(policy)
    cfg = config.resolve(name, "smoke")
    cfg.update(train_size=100, test_size=50, epochs=2)
    data = tiny_dataset()
    whole = train.train_run(cfg, 1234, data, tmp_path / "whole")
    assert whole["precision_policy"] == policy
    assert whole["environment"]["cpu_model"] == estimate.cpu_model()  # its seconds name their machine
    saved = keras.models.load_model(tmp_path / "whole" / "model.keras")
    conv = next(layer for layer in saved.layers if isinstance(layer, keras.layers.Conv2D))
    assert (conv.compute_dtype, conv.kernel.dtype) == ("bfloat16" if "bfloat16" in policy else "float32", "float32")
    # The saved model, evaluated again with its mirror images, gives the recorded number exactly.
    _, _, x_te, y_te = train.prepare_arrays(cfg, data)
    assert whole["test_accuracy_mirror"] == train.mirror_accuracy(saved, x_te, y_te)

    run_dir = tmp_path / "run"
    with pytest.raises(train.TrainingInterrupted) as stop:
        train.train_run(cfg, 1234, data, run_dir, callbacks=(stop_after_epoch(1),))
    assert (stop.value.epochs_done, stop.value.epochs) == (1, 2)
    checkpoint = train.Checkpoint(run_dir)
    state = checkpoint.load()
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert train.checkpoint_state(run_dir) == "partial"
    assert not (run_dir / "metrics.json").exists()  # not done, so never published
    # What Ctrl-C in the middle of checkpointing epoch 2 leaves: its model file, no state naming it.
    shutil.copyfile(checkpoint.dir / state["model"], checkpoint.dir / "epoch-0002.keras")
    assert state["policy"] == policy
    policy_here(next(p for p in estimate.POLICIES if p != policy))  # the calibration changed meanwhile

    resumed = train.train_run(cfg, 1234, data, run_dir)
    assert resumed["resumed_from_epoch"] == 1 and whole["resumed_from_epoch"] == 0
    assert resumed["precision_policy"] == policy  # it keeps the policy it started with
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "test_accuracy_mirror"):  # bit for bit
        assert resumed[key] == whole[key], (key, resumed[key], whole[key])
    rows = history_rows(run_dir / "history.csv")
    assert [[r[c] for c in LOSS_COLUMNS] for r in rows] == \
           [[r[c] for c in LOSS_COLUMNS] for r in history_rows(tmp_path / "whole" / "history.csv")]
    assert [int(r["epoch"]) for r in rows] == [1, 2] and float(rows[0]["loss"]) == state["history"][0]["loss"]
    assert json.loads((run_dir / "metrics.json").read_text())["resumed_from_epoch"] == 1
    assert (run_dir / "model.keras").is_file() and not (run_dir / "checkpoint").exists()
    assert train.checkpoint_state(run_dir) is None


def test_ctrl_c_while_training_is_taken_at_the_next_step_and_a_second_one_at_once():
    from experiments import train

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):  # a request still pending when `fit` returns
        with train.interrupt_between_steps() as boundary:
            boundary.on_train_batch_begin(0)  # nothing asked: training goes on
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler has run and only recorded it
            with pytest.raises(KeyboardInterrupt):
                boundary.on_train_batch_begin(1)
            with pytest.raises(KeyboardInterrupt):
                boundary.on_epoch_end(0)  # after the progress callback has checkpointed the epoch
            with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C does not wait for a boundary
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
    assert signal.getsignal(signal.SIGINT) is before
    with train.interrupt_between_steps() as boundary:  # a fresh run starts with no request
        boundary.on_test_batch_begin(0)


@pytest.mark.slow
def test_ctrl_c_says_where_the_run_stopped_without_a_traceback(tmp_path, smoke_archive):
    build_dir, dist = tmp_path / "build", tmp_path / "dist"
    proc = invoke_stopped_after_epoch_1(["experiment", "--name", "baseline", "--profile", "smoke",
                                         "--data", str(smoke_archive)], build_dir, dist, signal.SIGINT)
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    assert ("interrupted: baseline seed 1234 stopped after epoch 1 of 2; "
            "run the same command again to resume from epoch 2.") in proc.stderr.splitlines()
    run_dir = the_run(build_dir)
    assert json.loads((run_dir / "checkpoint" / "state.json").read_text())["epoch"] == 1
    assert not (run_dir / "metrics.json").exists() and not (build_dir / "results").exists()
    listing = ok(invoke(["list", "--profile", "smoke", "--data", str(smoke_archive)], build_dir, dist)).stdout
    assert re.search(r"^baseline\s+partial \(0/1 seeds\)", listing, re.M), listing


@pytest.fixture(scope="module")
def resumed_build(tmp_path_factory, smoke_archive):
    """kill -9 after the first of two epochs of the smoke baseline, then the same command
    again: it resumes, finishes and renders the report and the zip."""
    folder = tmp_path_factory.mktemp("resumed")
    build_dir, dist = folder / "build", folder / "dist"
    args = ["experiment", "--name", "baseline", "--profile", "smoke", "--data", str(smoke_archive)]
    killed = invoke_stopped_after_epoch_1(args, build_dir, dist, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    run_dir = the_run(build_dir)
    after_kill = {
        "state": json.loads((run_dir / "checkpoint" / "state.json").read_text()),
        "done": (run_dir / "metrics.json").exists(),
        "list": ok(invoke(["list", "--profile", "smoke", "--data", str(smoke_archive)], build_dir, dist)).stdout,
        "report": invoke(["report", "--profile", "smoke", "--data", str(smoke_archive)], build_dir, dist),
    }
    resumed = ok(invoke(args, build_dir, dist))
    return build_dir, dist, smoke_archive, after_kill, resumed


@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes_to_a_full_history(resumed_build):
    build_dir, dist, _, after_kill, resumed = resumed_build
    # killed: checkpoint of epoch 1, not done, not listed as done, never reported
    assert after_kill["state"]["epoch"] == 1 and not after_kill["done"]
    assert re.search(r"^baseline\s+partial \(0/1 seeds\)", after_kill["list"], re.M)
    assert "no results for profile 'smoke'" in error_line(after_kill["report"])
    # resumed: the plan counts the one epoch left, then training picks up after the first
    assert re.search(r"^\s+1\. baseline\s+seed 1234\s+1 epoch\s+x .*\(resumes after epoch 1 of 2\)$", resumed.stdout, re.M)
    assert "resuming after epoch 1 of 2" in resumed.stdout
    run_dir = the_run(build_dir)
    run_metrics = json.loads((run_dir / "metrics.json").read_text())
    assert run_metrics["resumed_from_epoch"] == 1 and run_metrics["epochs"] == 2
    assert [int(r["epoch"]) for r in history_rows(run_dir / "history.csv")] == [1, 2]
    assert float(history_rows(run_dir / "history.csv")[0]["loss"]) == after_kill["state"]["history"][0]["loss"]
    published = json.loads((build_dir / "results" / "baseline" / "metrics.json").read_text())
    assert published["resumed_from_epoch"] == [1] and published["seeds"] == [1234]
    assert len(history_rows(build_dir / "results" / "baseline" / "history.csv")) == 2
    assert not (run_dir / "checkpoint").exists()
    assert not [p for p in build_dir.rglob("*.tmp-*")] + [p for p in dist.rglob("*.tmp-*")]
    assert (build_dir / "report" / "report.pdf").is_file() and (dist / "pw09-submission.zip").is_file()


@pytest.mark.slow
def test_submission_zip_holds_only_listed_kinds(resumed_build):
    build_dir, dist = resumed_build[:2]
    with zipfile.ZipFile(dist / "pw09-submission.zip") as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
    names = [info.filename for info in infos]
    check_zip_entries(names)
    assert len(names) == len(set(names))
    assert {"report/report.html", "report/report.pdf", "source/tasks.py", "source/experiments/train.py",
            "source/templates/report.html.j2", "source/report_src/intro.md"} <= set(names)
    assert sum(info.file_size for info in infos) < 50e6


# =========================================================================================
# Mistakes on a finished build: nothing is lost, stale results are never shown as current
# =========================================================================================


def broken_copy(tmp_path: Path, file: str, line_no: int, text: str) -> dict:
    """Copies of templates/ and report_src/ with `text` inserted as line `line_no` of `file`."""
    templates, prose = tmp_path / "templates", tmp_path / "report_src"
    shutil.copytree(ROOT / "templates", templates)
    shutil.copytree(ROOT / "report_src", prose)
    target = tmp_path / file
    lines = target.read_text().splitlines()
    lines.insert(line_no - 1, text)
    target.write_text("\n".join(lines) + "\n")
    return {"PW09_TEMPLATES": str(templates), "PW09_REPORT_SRC": str(prose)}


@pytest.mark.slow
@pytest.mark.parametrize("file, line_no, text, expected", [
    ("report_src/intro.md", 3, "We used {{ no_such_value }} here.", "'no_such_value' is undefined"),
    ("report_src/ex3_deeper.md", 2, "Broken {% if %} here.", "Expected an expression"),
    ("templates/report.html.j2", 9, "<p>{{ R.baseline.no_such_metric }}</p>", "has no attribute 'no_such_metric'"),
    ("templates/report.html.j2", 9, "<p>{% for x in %}{% endfor %}</p>", "Expected an expression"),
])
def test_template_errors_name_the_file_and_line_and_keep_the_report(resumed_build, tmp_path, file, line_no,
                                                                    text, expected):
    build_dir, dist, archive = resumed_build[:3]
    before = snapshot(build_dir / "report", build_dir / "results", dist)
    env = broken_copy(tmp_path, file, line_no, text)
    line = error_line(invoke(["report", "--profile", "smoke", "--data", str(archive)], build_dir, dist, **env))
    assert f"cannot render {Path(file).name}, line {line_no}: " in line, line
    assert expected in line and "fix the template or prose there" in line
    assert snapshot(build_dir / "report", build_dir / "results", dist) == before
    ok(invoke(["zip", "--profile", "smoke"], build_dir, dist))  # the earlier report is still whole


@pytest.mark.slow
def test_stale_results_are_refused_not_shown(resumed_build, tmp_path):
    build_dir, dist, archive = resumed_build[:3]
    before = snapshot(build_dir / "report", build_dir / "results", dist)
    # Another profile: its runs are missing (the smoke runs are not its own), its results refused.
    listing = ok(invoke(["list", "--profile", "quick", "--data", str(archive)], build_dir, dist)).stdout
    assert re.search(r"^baseline\s+missing", listing, re.M), listing
    line = error_line(invoke(["report", "--profile", "quick", "--data", str(archive)], build_dir, dist))
    assert "no results for profile 'quick'" in line and "invoke all --profile quick" in line
    # Other data: stale as well.
    other = write_image_folder_archive(tmp_path / "other.tar.gz", per_class_train=100, per_class_test=50, seed=1)
    line = error_line(invoke(["report", "--profile", "smoke", "--data", str(other)], build_dir, dist))
    assert "no results for profile 'smoke'" in line
    listing = ok(invoke(["list", "--profile", "smoke", "--data", str(other)], build_dir, dist)).stdout
    assert re.search(r"^baseline\s+stale", listing, re.M), listing
    results, problems = current_results(
        Settings(profile="smoke", build=build_dir, dist=dist),
        DataSource(Settings(profile="smoke", data=str(other), build=tmp_path / "b")).fingerprint)
    assert not results and problems["baseline"] == "stale (made from other data)"
    assert snapshot(build_dir / "report", build_dir / "results", dist) == before


@pytest.mark.slow
def test_bad_data_on_a_finished_build_loses_nothing(resumed_build, tmp_path):
    build_dir, dist, archive = resumed_build[:3]
    before = snapshot(build_dir / "report", build_dir / "results", build_dir / "runs", dist)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    line = error_line(invoke(["experiment", "--name", "baseline", "--profile", "smoke", "--data", str(cut)],
                             build_dir, dist))
    assert "is truncated or corrupt" in line
    assert snapshot(build_dir / "report", build_dir / "results", build_dir / "runs", dist) == before


# =========================================================================================
# Repeatability
# =========================================================================================


def train_only(folder: Path, archive: Path, name: str = "baseline") -> tuple[str, dict, list[dict]]:
    """The smoke runs of `name` trained start to end in a process of their own:
    (run folder name, metrics, history rows)."""
    build_dir = folder / "build"
    ok(run(["-c", TRAIN_ONLY, str(archive), name], build_dir, folder / "dist"))
    run_dir = the_run(build_dir, name)
    return run_dir.name, json.loads((run_dir / "metrics.json").read_text()), history_rows(run_dir / "history.csv")


@pytest.fixture(scope="module")
def uninterrupted_baseline(tmp_path_factory, smoke_archive):
    return train_only(tmp_path_factory.mktemp("uninterrupted"), smoke_archive)


@pytest.mark.slow
def test_same_seed_same_profile_same_numbers(tmp_path, smoke_archive, uninterrupted_baseline):
    """The smoke baseline trained twice, in two processes and two build folders."""
    (key_a, metrics_a, history_a), (key_b, metrics_b, history_b) = uninterrupted_baseline, \
        train_only(tmp_path, smoke_archive)
    assert key_a == key_b
    assert metrics_a["seed"] == 1234 and metrics_a["resumed_from_epoch"] == 0
    timing = {"train_seconds"}
    assert {k: v for k, v in metrics_a.items() if k not in timing} == \
           {k: v for k, v in metrics_b.items() if k not in timing}
    assert [[r[c] for c in LOSS_COLUMNS] for r in history_a] == [[r[c] for c in LOSS_COLUMNS] for r in history_b]
    assert len(history_a) == 2


@pytest.mark.slow
def test_kill_9_and_resume_give_the_numbers_of_an_uninterrupted_run(resumed_build, uninterrupted_baseline):
    """Killed after epoch 1 of 2 and resumed in a new process: the same run, to the last bit."""
    key, whole, whole_history = uninterrupted_baseline
    run_dir = the_run(resumed_build[0])
    assert run_dir.name == key  # the same run: same data, configuration and code
    resumed = json.loads((run_dir / "metrics.json").read_text())
    assert resumed["resumed_from_epoch"] == 1 and whole["resumed_from_epoch"] == 0
    for metric in ("test_loss", "test_accuracy", "train_loss", "train_accuracy"):
        assert resumed[metric] == whole[metric], (metric, resumed[metric], whole[metric])
    rows = history_rows(run_dir / "history.csv")
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "test_loss", "test_accuracy", "seconds"]
    assert [[r[c] for c in LOSS_COLUMNS] for r in rows] == [[r[c] for c in LOSS_COLUMNS] for r in whole_history]
