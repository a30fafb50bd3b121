"""Registry, cache keys, aggregation and cached steps: no training, no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from experiments import config, pipeline
from experiments.errors import ConfigError

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
    mp = config.resolve("baseline", "smoke", {"mixed_precision": True})
    assert config.config_hash(mp) != config.config_hash(a)
    with pytest.raises(ConfigError):
        config.resolve("baseline", "smoke", {"epochs": 3})


def test_run_keys_change_with_data_code_and_seed(tmp_path, monkeypatch):
    s = pipeline.Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist", n_seeds=2)
    runs = pipeline.plan_runs(s, "baseline", "sha256:aa")
    assert [r.seed for r in runs] == [1234, 1235] and runs[0].key != runs[1].key
    assert runs[0].key != pipeline.plan_runs(s, "baseline", "sha256:bb")[0].key
    assert runs[0].key == pipeline.plan_runs(s, "baseline", "sha256:aa")[0].key
    monkeypatch.setattr(pipeline, "code_hash", lambda: "other-code")
    assert runs[0].key != pipeline.plan_runs(s, "baseline", "sha256:aa")[0].key


def test_prose_and_template_edits_do_not_touch_run_keys():
    tracked = {p.name for p in pipeline.TRAINING_CODE}
    assert tracked == {"models.py", "train.py"}


def _write_run(run: pipeline.Run, test_acc: float, train_acc: float):
    from experiments import atomic, train

    metrics, history = fake_run_metrics(run.experiment, run.seed, test_acc, train_acc)
    metrics["run_key"] = run.key
    atomic.write_text(run.dir / "history.csv", train.history_csv(history))
    atomic.write_bytes(run.dir / "model.keras", b"fake weights")
    atomic.write_json(run.dir / "metrics.json", metrics)


def test_status_publish_and_stale_detection(tmp_path):
    fp = "sha256:" + "ab" * 32
    smoke = pipeline.Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist", n_seeds=2)
    assert pipeline.experiment_status(smoke, "baseline", fp) == "missing"
    runs = pipeline.plan_runs(smoke, "baseline", fp)
    _write_run(runs[0], 0.5, 0.6)
    assert pipeline.experiment_status(smoke, "baseline", fp) == "partial (1/2 seeds)"
    assert pipeline.publish(smoke, "baseline", fp) is None  # incomplete: never published
    _write_run(runs[1], 0.7, 0.8)
    assert pipeline.experiment_status(smoke, "baseline", fp) == "cached"
    published = pipeline.publish(smoke, "baseline", fp)
    assert published["n_seeds"] == 2 and published["test_accuracy"] == pytest.approx(0.6)
    assert published["per_seed"]["test_accuracy"] == [0.5, 0.7]
    assert published["std"]["test_accuracy"] == pytest.approx(0.1414213, rel=1e-5)
    on_disk = json.loads((tmp_path / "results" / "baseline" / "metrics.json").read_text())
    for key in ("experiment", "profile", "epochs", "batch_size", "seed", "train_accuracy", "train_loss",
                "test_accuracy", "test_loss", "train_seconds", "data_fingerprint", "config_hash"):
        assert key in on_disk
    lines = (tmp_path / "results" / "baseline" / "history.csv").read_text().splitlines()
    assert len(lines) == 1 + on_disk["epochs"]

    results, problems = pipeline.current_results(smoke, fp)
    assert set(results) == {"baseline"} and problems["vgg"] == "missing"
    # Another profile, other data, fewer seeds: the published result is stale, never current.
    quick = pipeline.Settings(profile="quick", build=tmp_path, dist=tmp_path / "dist", n_seeds=2)
    assert pipeline.current_results(quick, fp)[1]["baseline"].startswith("stale (made under profile 'smoke')")
    assert pipeline.current_results(smoke, "sha256:other")[1]["baseline"] == "stale (made from other data)"
    one = pipeline.Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist", n_seeds=1)
    assert "seeds" in pipeline.current_results(one, fp)[1]["baseline"]
    assert pipeline.experiment_status(quick, "baseline", fp) == "stale"


def test_step_reruns_only_when_inputs_change(tmp_path):
    s = pipeline.Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist")
    dep, out = tmp_path / "in.txt", tmp_path / "out.txt"
    dep.write_text("a")
    step = pipeline.Step(s, "demo", deps=[dep], params={"x": 1}, outs=[out])
    assert step.needed()
    out.write_text("made")
    step.done()
    assert not step.needed()
    assert pipeline.Step(s, "demo", deps=[dep], params={"x": 2}, outs=[out]).needed()
    dep.write_text("b")
    assert step.needed()
    step.done()
    out.unlink()
    assert step.needed()


def test_listing_and_planning_never_import_tensorflow():
    code = (
        "import sys; from experiments import build, pipeline, report, figures, visualize, claims, data; "
        "import tasks; "
        "assert not {'tensorflow', 'keras'} & set(sys.modules), sorted(m for m in sys.modules if 'tensorflow' in m or 'keras' in m)[:5]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=pipeline.ROOT, timeout=120)


def test_another_backend_is_another_run(tmp_path, monkeypatch):
    s = pipeline.Settings(profile="smoke", build=tmp_path, dist=tmp_path / "dist")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    tf_key = pipeline.plan_runs(s, "baseline", "sha256:aa")[0].key
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert pipeline.plan_runs(s, "baseline", "sha256:aa")[0].key != tf_key
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no keras.json there: the default
    assert pipeline.plan_runs(s, "baseline", "sha256:aa")[0].key == tf_key
