"""Results: the runs of an experiment aggregated over seeds, published to `results/<experiment>/`.

`aggregate` is pure; `publish` writes a result from the current runs (a cached step of the
results stage); `current_results` returns the published results that belong to this
profile, data and code, and says why any other is absent.
"""

from __future__ import annotations

import shutil

from . import atomic, config
from .errors import Pw09Error
from .runs import CURVES, METRICS, plan_runs
from .settings import Settings, shown_path
from .stages import STAGES


def aggregate(runs_metrics: list[dict], histories: list[list[dict]], cfg: dict) -> tuple[dict, list[dict]]:
    """Combine per-seed runs into one result: per-seed values, mean and sample std.

    Pure: no files. Returns (metrics, mean_history) where mean_history has one row per
    epoch with the mean over seeds of each curve and its std (`<curve>_std`).
    """
    from .stats import mean_std

    first = runs_metrics[0]
    per_seed = {m: [r[m] for r in runs_metrics] for m in METRICS}
    means, stds = {}, {}
    for m in METRICS:
        means[m], stds[m] = mean_std(per_seed[m])
    out = {
        "experiment": cfg["experiment"],
        "title": cfg["title"],
        "exercise": cfg["exercise"],
        "augmentation": cfg["augmentation"],
        "augmentation_layers": cfg["augmentation_layers"],
        "model": cfg["model"],
        "profile": cfg["profile"],
        "epochs": first["epochs"],
        "batch_size": first["batch_size"],
        "recipe": cfg.get("recipe"),
        "optimizer": cfg["optimizer"],
        "learning_rate": cfg["learning_rate"],
        "weight_decay": cfg.get("weight_decay", 0.0),
        "schedule": cfg.get("schedule", "constant"),
        "warmup_epochs": cfg.get("warmup_epochs", 0),
        "label_smoothing": cfg.get("label_smoothing", 0.0),
        "dropout": cfg.get("dropout"),
        "loss": cfg["loss"],
        "seed": first["seed"],
        "seeds": [r["seed"] for r in runs_metrics],
        "n_seeds": len(runs_metrics),
        "train_size": first["train_size"],
        "test_size": first["test_size"],
        "params": first["params"],
        "data_fingerprint": first["data_fingerprint"],
        "data_source": first["data_source"],
        "config_hash": first["config_hash"],
        "code_hash": first["code_hash"],
        "runs": [r["run_key"] for r in runs_metrics],
        # Every environment that trained a seed: a copied or resumed build may mix machines.
        "environments": _distinct([r["environment"] for r in runs_metrics]),
        # Each seed's arithmetic: the calibration of the machine that trained it chose it.
        "precision_policies": _distinct([r.get("precision_policy", "float32") for r in runs_metrics]),
        "resumed_from_epoch": [r.get("resumed_from_epoch", 0) for r in runs_metrics],
        **means,
        "std": stds,
        "per_seed": per_seed,
    }
    n_epochs = min(len(h) for h in histories)
    mean_history = []
    for i in range(n_epochs):
        row = {"epoch": i + 1}
        for c in CURVES:
            row[c], row[f"{c}_std"] = mean_std([h[i][c] for h in histories])
        mean_history.append(row)
    return out, mean_history


def _distinct(items: list) -> list:
    return [x for i, x in enumerate(items) if x not in items[:i]]


def training_environments(results: dict) -> list[dict]:
    """Each distinct environment (software and hardware) that trained `results`, in order,
    with the experiments it trained: {"environment": ..., "experiments": [...]}."""
    found: list[dict] = []
    for name, r in results.items():
        for env in r["environments"]:
            entry = next((e for e in found if e["environment"] == env), None)
            if entry is None:
                found.append({"environment": env, "experiments": [name]})
            elif name not in entry["experiments"]:
                entry["experiments"].append(name)
    return found


def publish(settings: Settings, name: str, fingerprint: str) -> dict | None:
    """Write results/<name>/ (metrics.json, history.csv, history_seeds.csv, model.keras)
    from the current profile's runs; returns the metrics, or None if a run is missing.
    Rewrites nothing when the published runs are already the current ones."""
    runs = plan_runs(settings, name, fingerprint)
    if not all(r.done for r in runs):
        return None
    out = settings.results / name
    current = out / "metrics.json"
    # The publishing code is a dependency too (the stage's code): a new aggregate republishes.
    step = STAGES["results"].step(settings, f"results-{name}", experiment=name, runs=runs)
    if not step.needed():
        return atomic.read_json(current)
    try:
        runs_metrics = [atomic.read_json(r.dir / "metrics.json") for r in runs]
        histories = [atomic.read_csv(r.dir / "history.csv") for r in runs]
    except (OSError, ValueError) as exc:
        raise Pw09Error(f"cannot read {getattr(exc, 'filename', None) or 'a run of ' + name} "
                        f"({getattr(exc, 'strerror', None) or exc}); fix its permissions or run "
                        f"`invoke experiment --name {name}` to train it again.") from None
    metrics, mean_history = aggregate(runs_metrics, histories, runs[0].cfg)
    metrics["history"] = {c: [row[c] for row in mean_history] for c in ("epoch", *CURVES)}
    metrics["history_std"] = {c: [row[f"{c}_std"] for row in mean_history] for c in CURVES}

    atomic.write_csv(out / "history.csv", mean_history, ["epoch", *CURVES, *(f"{c}_std" for c in CURVES)])
    per_seed = [{"seed": run.seed, **row} for run, hist in zip(runs, histories) for row in hist]
    atomic.write_csv(out / "history_seeds.csv", per_seed, ["seed", "epoch", *CURVES, "seconds"])
    with atomic.atomic_path(out / "model.keras") as tmp:
        shutil.copyfile(runs[0].dir / "model.keras", tmp)
    atomic.write_json(current, metrics)  # last: the folder is consistent once this lands
    step.done()
    return metrics


def current_results(settings: Settings, fingerprint: str) -> tuple[dict, dict]:
    """The published results that belong to this profile, data and code.

    Returns (results, problems): results maps experiment -> metrics; problems maps an
    experiment to why it is absent ("missing", or what makes it stale). A stale
    result is never returned as current.
    """
    results, problems = {}, {}
    for name in config.experiment_names():
        path = settings.results / name / "metrics.json"
        if not path.exists():
            problems[name] = "missing"
            continue
        try:
            metrics = atomic.read_json(path)
            assert isinstance(metrics, dict)
        except (OSError, ValueError, AssertionError):
            problems[name] = f"damaged ({shown_path(path)} is unreadable; `invoke all` rebuilds it from its runs)"
            continue
        expected = [r.key for r in plan_runs(settings, name, fingerprint)]
        if metrics.get("runs") == expected:
            results[name] = metrics
        elif metrics.get("profile") != settings.profile:
            problems[name] = f"stale (made under profile {metrics.get('profile')!r})"
        elif metrics.get("data_fingerprint") != fingerprint:
            problems[name] = "stale (made from other data)"
        elif len(metrics.get("runs", [])) != len(expected):
            problems[name] = f"stale (made with {len(metrics.get('runs', []))} seeds, {len(expected)} asked)"
        else:
            problems[name] = "stale (configuration or training code changed)"
    return results, problems
