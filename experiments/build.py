"""The commands behind `invoke`: each one a function of `settings.Settings`.

    all         train what is missing, publish results, draw figures, render, zip
    experiment  retrain one experiment (even if cached), then refresh the rest
    visualize   Exercise 2's filter / activation / augmentation figures
    report      figures + HTML + PDF from existing results (never trains)
    zip         the submission archive
    status      each experiment: cached / partial / stale / missing

Every step below is a stage of `stages.STAGES`, which declares what it reads and writes;
it is skipped when none of that changed.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

from . import analysis, atomic, config, results as published, runs
from .errors import Pw09Error
from .runs import DataSource
from .settings import ROOT, Settings, build_lock, shown_path, sources
from .stages import STAGES, ZIP_NAME
from .stamps import inside
# What the submission holds besides the report: the sources, nothing generated.
ZIP_SOURCES = ["tasks.py", "pyproject.toml", "README.md", "experiments/*.py"]  # + templates/, report_src/
# The only kinds of file the zip may hold, by top folder: no data, weights, caches or VCS.
ZIP_ALLOWED = {"report": {".html", ".pdf", ".png", ".svg", ".css"},
               "source": {".py", ".md", ".toml", ".j2", ".css", ".html"}}
# No file of a submission is larger: the report PDF is a few MB, a figure far less.
ZIP_MAX_FILE_BYTES = 50 * 10**6


def _say(msg: str) -> None:
    print(msg, flush=True)


# --- figures --------------------------------------------------------------------------


def make_figures(settings: Settings, results: dict) -> dict:
    """Training curves for Exercise 1 and Exercise 3; returns {id: record}."""
    from . import figures

    groups = {
        "curves-ex1": ([n for n, e in config.EXPERIMENTS.items() if e["exercise"] == 1],
                       "Exercise 1, baseline CNN with and without online augmentation"),
        "curves-ex3": ([n for n, e in config.EXPERIMENTS.items() if e["exercise"] == 3],
                       "Exercise 3, VGG-style CNN with and without online augmentation"),
    }
    manifest_path = settings.figures / "figures.json"
    present = {fid: [n for n in names if n in results] for fid, (names, _) in groups.items()}
    step = STAGES["figures"].step(settings, results=results, present=present)
    if not step.needed():
        return atomic.read_json(manifest_path)
    _say("Figures: training curves")
    records = {}
    for fid, (names, what) in groups.items():
        if present[fid]:
            records[fid] = figures.plot_curves(results, names, settings.figures / f"{fid}.png", fid, what)
    atomic.write_json(manifest_path, records)
    step.done()
    return records


def choose_visualised(results: dict) -> dict:
    """Exercise 2 visualises the best Exercise-1 model by measured test accuracy, and the
    better of the two VGG models beside it."""
    chosen = {}
    for exercise in (1, 3):
        names = [n for n, e in config.EXPERIMENTS.items() if e["exercise"] == exercise and n in results]
        if names:
            best = analysis.best_experiment(results, names)
            chosen[f"ex{exercise}"] = {
                "experiment": best,
                "test_accuracy": results[best]["test_accuracy"],
                "candidates": {n: results[n]["test_accuracy"] for n in names},
            }
    return chosen


def make_visuals(settings: Settings, results: dict, source: DataSource,
                 only: str | None = None, layer: str | None = None) -> dict:
    """Exercise 2: filters, activation maps and augmentation grids; returns the
    manifest {"chosen", "models": {exp: visuals json}, "augmentation": {strategy: record}}."""
    chosen = choose_visualised(results)
    if only is not None:
        config.check_experiment(only)
        if only not in results:
            raise Pw09Error(f"experiment {only!r} has no current results to visualise; run `invoke experiment --name {only}` first.")
        chosen = {"request": {"experiment": only, "test_accuracy": results[only]["test_accuracy"], "candidates": {}}}
    exps = sorted({c["experiment"] for c in chosen.values()})
    strategies = sorted(config.AUGMENTATIONS) if only is None else []
    out_dir = settings.figures if only is None else settings.figures / "single"
    manifest_path = out_dir / "visuals.json"
    step = STAGES["visuals"].step(settings, "visuals" if only is None else "visuals-single", chosen=chosen,
                                  fingerprint=source.fingerprint, strategies=strategies, layer=layer, out_dir=out_dir)
    if not step.needed():
        return atomic.read_json(manifest_path)
    from . import visualize
    from .data import CLASS_NAMES

    dataset = source.load()
    if settings.image_index >= len(dataset.x_train):
        raise Pw09Error(f"--image-index {settings.image_index} is out of range; the training set has {len(dataset.x_train)} images.")
    image = dataset.x_train[settings.image_index]
    label = int(dataset.y_train[settings.image_index])
    manifest = {"chosen": chosen, "image_index": settings.image_index, "models": {}, "augmentation": {}}
    # The deep model is shown beside the shallow one: only its first and last layers.
    deep = {chosen["ex3"]["experiment"]} if "ex3" in chosen else set()
    for exp in exps:
        t0 = time.perf_counter()
        _say(f"Visualising {exp} (training image {settings.image_index})")
        manifest["models"][exp] = visualize.visualize_model(
            settings.results / exp / "model.keras", exp, image, label, settings.image_index,
            CLASS_NAMES, out_dir, layers=[layer] if layer else None,
            selection="ends" if exp in deep else "all")
        _say(f"  {len(manifest['models'][exp]['figures'])} figures in {time.perf_counter() - t0:.1f} s")
    # A second training image of another class: the same layers, without the filters again.
    manifest["inputs"] = visualize.input_images(dataset.y_train, dataset.kind, settings.image_index, CLASS_NAMES)
    second = manifest["inputs"]["images"][1]["index"]
    manifest["second"] = {}
    for exp in exps:
        _say(f"Visualising {exp} (training image {second}, class {manifest['inputs']['images'][1]['class']})")
        manifest["second"][exp] = visualize.visualize_model(
            settings.results / exp / "model.keras", exp, dataset.x_train[second], int(dataset.y_train[second]),
            second, CLASS_NAMES, out_dir, layers=[layer] if layer else None,
            selection="ends" if exp in deep else "all", tag="second", filters=False)
    if strategies:
        picks = [(settings.image_index + 7 * k) % len(dataset.x_train) for k in range(4)]
        sample = dataset.x_train[picks]
        for s in strategies:
            manifest["augmentation"][s] = visualize.plot_augmentation(
                s, config.AUGMENTATIONS[s], sample, out_dir / f"aug-{s}.png", draws=4, seed=0,
                root=out_dir)
    atomic.write_json(manifest_path, manifest)
    step.done(extra_outs=[figure_file(out_dir, r, manifest_path) for r in _collect_figures({}, manifest).values()])
    return manifest


def make_analysis(settings: Settings, results: dict, source: DataSource) -> dict:
    """Section 4: per-class results, confusion matrices, confident mistakes and layer costs of
    the analysed models, evaluated once on the test set; returns analysis.json's content."""
    exps = analysis.analysed_models(results)
    out_dir = settings.build / "analysis"
    json_path = out_dir / "analysis.json"
    cfgs = [config.resolve(e, settings.profile, settings.overrides) for e in exps]
    subsets = {(c["test_size"], c["base_seed"]) for c in cfgs}
    step = STAGES["analysis"].step(settings, exps=exps, fingerprint=source.fingerprint, subsets=subsets)
    if not exps:
        return {}
    if not step.needed():
        return atomic.read_json(json_path)
    if len(subsets) != 1:
        raise Pw09Error(f"the analysed models were tested on different test subsets ({sorted(subsets, key=str)}).")
    t0 = time.perf_counter()
    _say(f"Analysis: evaluating {', '.join(exps)} on the test set")
    facts = analysis.run(exps, results, settings.results, source.load(), subsets.pop(), settings.image_index,
                         out_dir, settings.figures)
    atomic.write_json(json_path, facts)
    step.done()
    _say(f"  {len(facts['figures'])} figures in {time.perf_counter() - t0:.1f} s")
    return facts


# --- report -----------------------------------------------------------------------------


def git_revision(folder: Path = ROOT) -> dict:
    """{"revision", "dirty"} of the checkout in `folder`; both None where it is no git
    checkout (an unpacked zip, say), so that the report claims neither."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if rev else None
    except (OSError, subprocess.SubprocessError):
        rev, dirty = "", None
    return {"revision": rev or None, "dirty": dirty}


def provenance(settings: Settings, results: dict, source: DataSource) -> dict:
    return {
        "profile": settings.profile,
        "profile_description": config.PROFILES[settings.profile]["description"],
        "data_source": source.description,
        "data_fingerprint": source.fingerprint,
        "seeds": settings.seeds,
        "git": git_revision(),
        "training_environments": published.training_environments(results),
        "report_python": platform.python_version(),
        "host": f"{platform.machine()}, {platform.system()}",
    }


def _collect_figures(figures: dict, visuals: dict, facts: dict | None = None) -> dict:
    """All figure records by id, with paths relative to the figures folder."""
    records = dict(figures)
    for vis in [*visuals.get("models", {}).values(), *visuals.get("second", {}).values()]:
        for rec in vis["figures"]:
            records[rec["id"]] = rec
    records.update((facts or {}).get("figures", {}))
    for s, rec in visuals.get("augmentation", {}).items():
        records[rec["id"]] = rec
    return records


def figure_file(folder: Path, record: dict, manifest) -> Path:
    """The file a manifest record names, refused unless it lies inside `folder`."""
    path = inside(folder, record.get("path")) if isinstance(record, dict) else None
    if path is None:
        raise Pw09Error(f"{manifest} names a figure outside {folder} ({record.get('path') if isinstance(record, dict) else record!r}); "
                        "it was edited or damaged, so delete it and run `invoke all` to draw the figures again.")
    return path


def make_report(settings: Settings, results: dict, problems: dict, figures: dict, visuals: dict,
                source: DataSource, facts: dict | None = None) -> Path:
    """The report; `facts` is analysis.json's content (section 4), given to the templates as `analysis`."""
    html_path, pdf_path = settings.report / "report.html", settings.report / "report.pdf"
    records = _collect_figures(figures, visuals, facts)
    prov = provenance(settings, results, source)
    manifests = f"a figure manifest in {settings.figures}"
    figure_files = sorted({figure_file(settings.figures, r, manifests) for r in records.values()})
    step = STAGES["report"].step(settings, results=results, figure_files=figure_files, problems=problems,
                                 prov=prov, visuals=visuals, facts=facts)
    if not step.needed():
        _say("Report: up to date")
        return pdf_path
    from . import report  # only now: it pulls in scipy, jinja2 and weasyprint (~1 s)

    for name, why in problems.items():
        _say(f"  warning: {name} is not in the report: {why}; run `invoke experiment --name {name} --profile {settings.profile}`.")
    t0 = time.perf_counter()
    page, claims = report.render_html(results, problems, records, visuals, prov, settings.profile, settings.strict,
                                      templates_dir=settings.templates, prose_dir=settings.report_src,
                                      analysis=facts)
    step.stamp.unlink(missing_ok=True)  # until both files land, the report counts as unfinished
    for claim in claims.failures():
        _say(f"  warning: the data contradicts claim {claim.id}: {claim.text}")
    # The report folder is self-contained: the HTML and the figures it shows.
    fig_dir = settings.report / "figures"
    if fig_dir.is_symlink():
        fig_dir.unlink()
    elif fig_dir.exists():
        shutil.rmtree(fig_dir)
    copies = []
    for source_file in figure_files:
        copies.append(fig_dir / source_file.relative_to(settings.figures))
        with atomic.atomic_path(copies[-1]) as tmp:
            shutil.copyfile(source_file, tmp)
    atomic.write_text(html_path, page)
    refused = report.write_pdf(page, settings.report, pdf_path, allowed_root=settings.build)
    for url in refused:
        _say(f"  warning: the report referenced {url}, which was not fetched (outside the build folder)")
    step.done(extra_outs=copies)
    _say(f"Report: {shown_path(html_path)}, {shown_path(pdf_path)} ({time.perf_counter() - t0:.1f} s, "
         f"{len(claims.records)} checked claims)")
    return pdf_path


# --- zip -----------------------------------------------------------------------------------


def zip_allowed(name: str) -> bool:
    """True for an archive name of an allowed kind: relative, no `..`, no hidden part."""
    parts = name.split("/")
    return (len(parts) >= 2 and parts[0] in ZIP_ALLOWED and "\\" not in name
            and all(part and not part.startswith(".") for part in parts)
            and Path(parts[-1]).suffix.lower() in ZIP_ALLOWED[parts[0]])


def tracked_files(folder: Path) -> list[Path] | None:
    """The files git tracks below `folder` (`git ls-files`), or None outside a git checkout."""
    try:
        proc = subprocess.run(["git", "ls-files", "-z", "--", "."], cwd=folder, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return sorted(Path(folder) / name for name in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if name)


def _walk_regular(folder: Path) -> list[Path]:
    """Every file below `folder`, symlinks included (to be refused), never entering a symlinked folder."""
    found = []
    for top, dirs, files in os.walk(folder):
        found += [Path(top) / f for f in files] + [Path(top) / d for d in dirs if (Path(top) / d).is_symlink()]
    return sorted(found)


def zip_members(settings: Settings, warn=_say) -> list[tuple[Path, str]]:
    """(file on disk, name in the archive) for everything the submission holds.

    The sources are `ZIP_SOURCES`, templates/ and report_src/, in a git checkout only the
    files of them git tracks; the report part comes only from the build's report folder. Only regular
    files of a kind `zip_allowed` accepts: a symlink is skipped with a warning, never
    followed, and a file over `ZIP_MAX_FILE_BYTES` is refused.
    """
    if settings.report.is_symlink():
        raise Pw09Error(f"the report folder {settings.report} is a symlink; delete it and run `invoke report` to rebuild it.")
    members = [(p, "report/" + p.relative_to(settings.report).as_posix()) for p in _walk_regular(settings.report)]
    tracked = tracked_files(ROOT)
    own = [settings.templates, settings.report_src]
    listed = sources(*ZIP_SOURCES)  # in git, only those of them git tracks: no stray local file
    members += [(p, "source/" + p.relative_to(ROOT).as_posix()) for p in listed
                if tracked is None or p in set(tracked)]
    for folder, name in zip(own, ("templates", "report_src")):
        files = tracked_files(folder) if tracked is not None and folder.is_relative_to(ROOT) else None
        files = files if files is not None else sorted(folder.glob("*"))
        members += [(p, f"source/{name}/{p.name}") for p in files if p.parent == folder]
    kept = []
    for path, name in members:
        if not zip_allowed(name):
            continue
        if path.is_symlink() or not path.is_file():
            if path.is_symlink():
                warn(f"  warning: {path} is a symlink; it is left out of the submission (copy the file there instead)")
            continue
        if path.stat().st_size > ZIP_MAX_FILE_BYTES:
            raise Pw09Error(f"{path} is {path.stat().st_size / 1e6:.0f} MB, more than the "
                            f"{ZIP_MAX_FILE_BYTES // 10**6} MB a submission file may be; shrink it or remove it.")
        kept.append((path, name))
    return kept


def make_zip(settings: Settings) -> Path:
    out = settings.dist / ZIP_NAME
    if not (settings.report / "report.pdf").exists():
        raise Pw09Error(f"there is no report to zip in {settings.report}; run `invoke report` (or `invoke all`) first.")
    if STAGES["report"].state(settings, outs=[settings.report / "report.pdf"]) != "current":
        raise Pw09Error(f"the report in {settings.report} is unfinished or damaged (its last rendering stopped, or "
                        "a file changed since); run `invoke report` (or `invoke all`) first.")
    members = zip_members(settings)
    step = STAGES["zip"].step(settings, members=members)
    if not step.needed():
        return out
    if out.is_symlink():
        raise Pw09Error(f"{out} is a symlink; remove it (the build writes the zip there itself) and run again.")
    with atomic.atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, name in members:
                zf.write(path, name)
    step.done()
    _say(f"Submission: {shown_path(out)} ({len(members)} files, {out.stat().st_size / 1e6:.1f} MB)")
    return out


# --- the commands -------------------------------------------------------------------------


def _refresh(settings: Settings, source: DataSource) -> tuple[dict, dict]:
    for name in config.experiment_names():
        published.publish(settings, name, source.fingerprint)
    return published.current_results(settings, source.fingerprint)


def _render_all(settings: Settings, source: DataSource) -> Path:
    results, problems = _refresh(settings, source)
    figures = make_figures(settings, results)
    visuals = make_visuals(settings, results, source)
    make_report(settings, results, problems, figures, visuals, source, make_analysis(settings, results, source))
    return make_zip(settings)


def run_all(settings: Settings, force: bool = False) -> Path:
    t0 = time.perf_counter()
    with build_lock(settings):
        source = DataSource(settings)
        trained = runs.train_runs(settings, config.experiment_names(), source, force=force)
        if not trained:
            _say(f"Experiments: all {len(config.experiment_names())} cached for profile {settings.profile}")
        out = _render_all(settings, source)
    _say(f"Done in {time.perf_counter() - t0:.1f} s")
    return out


def run_experiment(settings: Settings, name: str) -> Path:
    config.check_experiment(name)
    with build_lock(settings):
        source = DataSource(settings)
        runs.train_runs(settings, [name], source, force=True)
        return _render_all(settings, source)


def run_report(settings: Settings) -> Path:
    with build_lock(settings):
        source = DataSource(settings)
        results, problems = _refresh(settings, source)
        if not results:
            raise Pw09Error(
                f"no results for profile {settings.profile!r} in {settings.results}; run `invoke all --profile {settings.profile}` first."
            )
        figures = make_figures(settings, results)
        visuals = make_visuals(settings, results, source)
        return make_report(settings, results, problems, figures, visuals, source,
                           make_analysis(settings, results, source))


def run_visualize(settings: Settings, experiment: str | None = None, layer: str | None = None) -> dict:
    if experiment is not None:
        config.check_experiment(experiment)
    with build_lock(settings):
        source = DataSource(settings)
        results, _ = _refresh(settings, source)
        if not results:
            raise Pw09Error(f"no trained models for profile {settings.profile!r}; run `invoke all --profile {settings.profile}` first.")
        return make_visuals(settings, results, source, only=experiment, layer=layer)


def run_zip(settings: Settings) -> Path:
    with build_lock(settings):
        return make_zip(settings)


def status_table(settings: Settings) -> list[dict]:
    """One row per experiment, with the time its missing runs would take on this machine
    (from the cached calibration); never downloads or decodes data, never imports TensorFlow."""
    from .data import downloaded
    from .estimate import human

    source = DataSource(settings)
    have_data = downloaded(source.source)
    rows = []
    for name, exp in config.EXPERIMENTS.items():
        cfg = config.resolve(name, settings.profile, settings.overrides)
        todo = runs.pending_runs(settings, [name], source.fingerprint) if have_data else \
            runs.plan_runs(settings, name, "no-data")
        secs = runs.estimates(settings, todo, measure=False)
        rows.append({
            "experiment": name,
            "status": runs.experiment_status(settings, name, source.fingerprint) if have_data
            else "missing (no data yet)",
            "epochs": cfg["epochs"],
            "train_size": cfg["train_size"] or 50000,
            "seeds": len(settings.seeds),
            "seconds": sum(secs) if secs is not None else None,
            "estimate": "-" if not todo else human(sum(secs)) if secs is not None else "?",
            "title": exp["title"],
        })
    return rows


def status_footer(rows: list[dict]) -> str:
    """The line under `invoke list`: the total time still to train, or how to get one."""
    if any(r["estimate"] == "?" for r in rows):
        return "estimate: ? = not calibrated on this machine yet; the next `invoke all` measures it first (about a minute)."
    from .estimate import human

    return f"still to train: about {human(sum(r['seconds'] or 0 for r in rows))} on this machine."


def artifact_states(settings: Settings) -> dict[str, str]:
    """What each finished step's outputs look like now: current, damaged or missing.

    Reads only the stamps and the outputs they record (never decodes data or trains).
    """
    return {name: stage.state(settings) for name, stage in STAGES.items() if stage.stamped}


BUILT_FOLDERS = ("results", "figures", "report", ".stamps")  # + "runs", "data" with everything


def clean(settings: Settings, everything: bool = False, warn=_say) -> list[Path]:
    """Remove what the build wrote: known folders inside the build folder and the zip in
    the dist folder (trained runs and the data cache stay unless `everything`).

    A build folder without the build's `.lock` file was never used by a build and is not
    touched; nothing is followed through a symlink; a running build's lock is waited on.
    """
    removed = []
    marker = settings.build / ".lock"
    names = BUILT_FOLDERS + (("runs", "data") if everything else ())
    built = marker.is_file() and not marker.is_symlink()
    with build_lock(settings, create=False) if built else contextlib.nullcontext():
        targets = [settings.build / n for n in names] if built else []
        for t in targets + [settings.dist / ZIP_NAME]:
            if t.is_symlink():
                warn(f"  warning: {t} is a symlink, not something the build wrote; left alone")
            elif t.is_dir() and t != settings.dist / ZIP_NAME:
                shutil.rmtree(t)
                removed.append(t)
            elif t.is_file() and t == settings.dist / ZIP_NAME:
                t.unlink()
                removed.append(t)
    return removed
