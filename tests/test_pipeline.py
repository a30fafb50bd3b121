"""Registry, cache keys, aggregation and cached steps: no training, no TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from experiments import config
from experiments.errors import ConfigError
from experiments.results import current_results, publish
from experiments.runs import Run, experiment_status, plan_runs, training_code
from experiments.settings import ROOT, Settings
from experiments.stages import STAGES
from experiments.stamps import PACKAGE, Step

from conftest import fake_run_metrics


def test_registry_holds_the_assignment_experiments():
    names = config.experiment_names()
    assert names[0] == "baseline" and {"vgg", "vgg_aug"} <= set(names)
    augs = [n for n in names if n.startswith("aug_")]
    assert len(augs) >= 3, "Exercise 1 needs at least three augmentation strategies"
    for n in augs:
        cfg = config.resolve(n, "full")
        assert cfg["model"] == "baseline" and cfg["augmentation_layers"]
    base = config.resolve("baseline", "full")
    assert (base["epochs"], base["batch_size"], base["optimizer"], base["loss"]) == (10, 128, "adam", "categorical_crossentropy")
    assert base["train_size"] is None and base["test_size"] is None
    assert config.resolve("vgg_aug", "full")["augmentation_layers"]
    assert not config.resolve("vgg", "full")["augmentation_layers"]


@pytest.mark.parametrize("bad", ["nope", "../baseline", "base/line", "..", "", "BASELINE"])
def test_unknown_experiment_lists_the_valid_ones(bad):
    with pytest.raises(ConfigError) as err:
        config.resolve(bad, "smoke")
    assert "baseline" in str(err.value) and "vgg_aug" in str(err.value)


def test_unknown_profile_and_bad_seeds():
    with pytest.raises(ConfigError, match="full, quick, smoke"):
        config.resolve("baseline", "huge")
    with pytest.raises(ConfigError):
        config.seeds_for("smoke", 0)
    assert config.seeds_for("full") == [1234, 1235, 1236]
    assert config.seeds_for("smoke", 2) == [1234, 1235]


def test_config_hash_follows_what_training_computes():
    a = config.resolve("baseline", "smoke")
    assert config.config_hash(a) == config.config_hash(config.resolve("baseline", "smoke"))
    changed = dict(a, epochs=a["epochs"] + 1)
    assert config.config_hash(changed) != config.config_hash(a)
    retitled = dict(a, title="another title")  # prose-level change: same runs
    assert config.config_hash(retitled) == config.config_hash(a)
    assert config.config_hash(config.resolve("baseline", "quick")) != config.config_hash(a)
    assert a["mixed_precision"] is True  # the default: bfloat16 where this machine measures it faster
    f32 = config.resolve("baseline", "smoke", {"mixed_precision": False})
    assert config.config_hash(f32) != config.config_hash(a)
    assert config.config_hash(config.resolve("baseline", "smoke", {"mixed_precision": True})) == config.config_hash(a)
    with pytest.raises(ConfigError):
        config.resolve("baseline", "smoke", {"epochs": 3})


def test_run_keys_change_with_data_code_and_seed(tmp_path):
    s = Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist", n_seeds=2)
    runs = plan_runs(s, "baseline", "sha256:aa")
    assert [r.seed for r in runs] == [1234, 1235] and runs[0].key != runs[1].key
    assert runs[0].key != plan_runs(s, "baseline", "sha256:bb")[0].key
    assert runs[0].key == plan_runs(s, "baseline", "sha256:aa")[0].key
    assert runs[0].key == plan_runs(s, "baseline", "sha256:aa", code=training_code())[0].key
    assert runs[0].key != plan_runs(s, "baseline", "sha256:aa", code="other-code")[0].key


def test_training_code_is_what_training_imports():
    names = {p.name for p in STAGES["train"].code_files()}
    assert {"train.py", "models.py", "data.py"} <= names  # data.py picks the training images
    # Prose, report, figures and build code never retrain; config enters the key as config_hash.
    assert not {"report.py", "claims.py", "sections.py", "figures.py", "build.py", "stages.py", "runs.py",
                "config.py", "estimate.py"} & names
    # The report's code is what report.py imports, the section and number helpers too.
    assert {"report.py", "sections.py", "formats.py", "claims.py", "html_guard.py"} <= \
        {p.name for p in STAGES["report"].code_files()}


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the experiments package to edit; it hashes as the checkout does."""
    copy = tmp_path / "pkg" / "experiments"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert STAGES["train"].code_hash(copy) == training_code()
    return copy


def _edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path.name}"
    path.write_text(text.replace(old, new))


def test_editing_how_training_images_are_picked_makes_runs_stale(tmp_path, package_copy):
    s = Settings(profile="smoke", build=tmp_path / "build", dist=tmp_path / "dist")
    fp = "sha256:" + "ab" * 32
    (before,) = plan_runs(s, "baseline", fp, code=STAGES["train"].code_hash(package_copy))
    _write_run(before, 0.5, 0.6)
    assert before.done
    _edit(package_copy / "data.py", "rng = np.random.default_rng(seed)", "rng = np.random.default_rng(seed + 1)")
    (after,) = plan_runs(s, "baseline", fp, code=STAGES["train"].code_hash(package_copy))
    assert after.key != before.key and not after.done


def test_editing_report_code_or_a_title_retrains_nothing(package_copy):
    code = STAGES["train"].code_hash(package_copy)
    _edit(package_copy / "report.py", "def render_html(", "def render_html(  # reworded\n")
    _edit(package_copy / "config.py", '"title": "Baseline CNN, no augmentation"', '"title": "Plain CNN"')
    assert STAGES["train"].code_hash(package_copy) == code


def test_rewording_comments_and_docstrings_of_training_code_retrains_nothing(package_copy):
    code = STAGES["train"].code_hash(package_copy)
    models = package_copy / "models.py"
    _edit(models, "# Keras' default batch-norm momentum (0.99)", "#   Keras' default (0.99), reworded\n\n# and")
    _edit(models, '"""A Sequential of Keras random preprocessing layers built from registry entries."""',
          '"""Random Keras preprocessing layers,\n    one per registry entry."""  # reworded')
    _edit(models, "BN_MOMENTUM = 0.9", "BN_MOMENTUM = 0.9   ")
    assert STAGES["train"].code_hash(package_copy) == code
    _edit(models, "BN_MOMENTUM = 0.9   ", "BN_MOMENTUM = 0.8  # a real change")
    assert STAGES["train"].code_hash(package_copy) != code


@pytest.mark.parametrize("old, new", [
    ('"""kept\n\nas is"""', '"""kept\nas is"""'),  # a blank line inside a string that is not a docstring
    ('"a # b"', '"a # c"'),  # a hash sign inside a string is not a comment
    ('y = 1; "x"', 'y = 1; "z"'),  # a string statement after code on its line
])
def test_code_text_keeps_everything_that_is_not_a_comment_or_docstring(old, new):
    from experiments.stamps import code_text

    source = '"""Module."""\n\ndef f():\n    """Doc."""\n    {}\n    return 1\n'
    assert code_text(source.format(old)) != code_text(source.format(new))
    assert code_text(source.format(old)).startswith("def f():\n    " + old[:5])
    assert code_text("def (:\n") == "def (:\n"  # what does not parse is hashed as it is


def _write_run(run: Run, test_acc: float, train_acc: float):
    from experiments import atomic, train

    metrics, history = fake_run_metrics(run.experiment, run.seed, test_acc, train_acc)
    metrics["run_key"] = run.key
    atomic.write_csv(run.dir / "history.csv", history, train.HISTORY_COLUMNS)
    atomic.write_bytes(run.dir / "model.keras", b"fake weights")
    atomic.write_json(run.dir / "metrics.json", metrics)


def test_status_publish_and_stale_detection(tmp_path):
    fp = "sha256:" + "ab" * 32
    smoke = Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist", n_seeds=2)
    assert experiment_status(smoke, "baseline", fp) == "missing"
    runs = plan_runs(smoke, "baseline", fp)
    _write_run(runs[0], 0.5, 0.6)
    assert experiment_status(smoke, "baseline", fp) == "partial (1/2 seeds)"
    assert publish(smoke, "baseline", fp) is None  # incomplete: never published
    _write_run(runs[1], 0.7, 0.8)
    assert experiment_status(smoke, "baseline", fp) == "cached"
    published = publish(smoke, "baseline", fp)
    assert published["n_seeds"] == 2 and published["test_accuracy"] == pytest.approx(0.6)
    assert published["per_seed"]["test_accuracy"] == [0.5, 0.7]
    assert published["std"]["test_accuracy"] == pytest.approx(0.1414213, rel=1e-5)
    on_disk = json.loads((tmp_path / "results" / "baseline" / "metrics.json").read_text())
    for key in ("experiment", "profile", "epochs", "batch_size", "seed", "train_accuracy", "train_loss",
                "test_accuracy", "test_loss", "train_seconds", "data_fingerprint", "config_hash"):
        assert key in on_disk
    lines = (tmp_path / "results" / "baseline" / "history.csv").read_text().splitlines()
    assert len(lines) == 1 + on_disk["epochs"]

    results, problems = current_results(smoke, fp)
    assert set(results) == {"baseline"} and problems["vgg"] == "missing"
    # Another profile, other data, fewer seeds: the published result is stale, never current.
    quick = Settings(profile="quick", build=tmp_path, dist=tmp_path / "dist", n_seeds=2)
    assert current_results(quick, fp)[1]["baseline"].startswith("stale (made under profile 'smoke')")
    assert current_results(smoke, "sha256:other")[1]["baseline"] == "stale (made from other data)"
    one = Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist", n_seeds=1)
    assert "seeds" in current_results(one, fp)[1]["baseline"]
    # Runs of another profile leave this profile's experiment missing; other data makes it stale.
    assert experiment_status(quick, "baseline", fp) == "missing"
    assert experiment_status(smoke, "baseline", "sha256:other") == "stale"


def test_step_reruns_only_when_inputs_change(tmp_path):
    s = Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist")
    dep, out = tmp_path / "in.txt", tmp_path / "out.txt"
    dep.write_text("a")
    step = Step(s, "demo", deps=[dep], params={"x": 1}, outs=[out])
    assert step.needed()
    out.write_text("made")
    step.done()
    assert not step.needed()
    assert Step(s, "demo", deps=[dep], params={"x": 2}, outs=[out]).needed()
    dep.write_text("b")
    assert step.needed()
    step.done()
    out.unlink()
    assert step.needed()


def test_listing_and_planning_never_import_tensorflow():
    code = (
        "import sys; from experiments import build, settings, stamps, stages, runs, results, report, figures, "
        "visualize, claims, data; "
        "import tasks; "
        "assert not {'tensorflow', 'keras'} & set(sys.modules), sorted(m for m in sys.modules if 'tensorflow' in m or 'keras' in m)[:5]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_another_backend_is_another_run(tmp_path, monkeypatch):
    s = Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    tf_key = plan_runs(s, "baseline", "sha256:aa")[0].key
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert plan_runs(s, "baseline", "sha256:aa")[0].key != tf_key
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no keras.json there: the default
    assert plan_runs(s, "baseline", "sha256:aa")[0].key == tf_key
