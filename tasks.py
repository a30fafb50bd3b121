"""Tasks for `invoke`: parse options, call `experiments.build`. Nothing else lives here.

    invoke all                       every experiment, figures, report, zip (cached)
    invoke experiment --name vgg_aug retrain one experiment, then refresh the report
    invoke list                      which experiments are cached / stale / missing
    invoke bench [--smoke]           throughput and build timings -> build/bench.json
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from invoke import task

from experiments.config import DEFAULT_IMAGE_INDEX, DEFAULTS
from experiments.errors import Interrupted, Pw09Error

PROFILE_HELP = "full (default), quick (~30 min on a 2-core CPU) or smoke (~2 min)"
DATA_HELP = "CIFAR-10 copy: official cifar-10-python.tar.gz or its folder, or an image folder / .tar.gz (default: $PW09_DATA, else the Keras download)"
SEEDS_HELP = "number of seeds per experiment (default: full 3, quick and smoke 1)"
MIXED_HELP = ("bfloat16 arithmetic where this machine's calibration measures it faster than float32 (default); "
              "--no-mixed-precision trains and reads float32 runs, cached separately")
MIXED = DEFAULTS["mixed_precision"]  # the one default, in experiments/config.py
VERBOSE_HELP = "show the backend's own start-up and device log lines (also: PW09_VERBOSE=1)"


@contextmanager
def _user_errors(verbose=False):
    """A user's mistake or Ctrl-C: one sentence on stderr, exit code 1/130, no traceback; a
    closed output pipe: silence and 141.
    Also keeps the backend's C++ start-up lines off the terminal unless `verbose`."""
    from experiments import console

    console.quiet(verbose)
    try:
        yield
    except Interrupted as exc:  # Ctrl-C while training: where it stopped, how to go on
        print(" ".join(str(exc).split()), file=sys.stderr)
        sys.exit(130)
    except Pw09Error as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # one line, whatever the cause
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; completed epochs are checkpointed, run the same command again to resume.", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (`invoke list | head`): stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        sys.exit(141)  # 128 + SIGPIPE, a Unix tool's status when its pipe closes
    except OSError as exc:  # a full disk anywhere (Keras saving a model, say): one sentence too
        from experiments.atomic import DISK_FULL, disk_full_error

        if exc.errno not in DISK_FULL:
            raise
        print("error: " + str(disk_full_error(exc.filename or "the build folder", exc)), file=sys.stderr)
        sys.exit(1)


def _int(value, option: str):
    """An integer option as typed (invoke passes strings when the default is None)."""
    from experiments.errors import ConfigError

    if value is None or isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{option} must be a whole number, got {value!r}; pass e.g. {option} 3.") from None


def _settings(profile, data, seeds=None, strict=False, image_index=None, mixed_precision=MIXED):
    from experiments.settings import Settings

    return Settings(profile=profile, data=data, n_seeds=_int(seeds, "--seeds"), strict=strict,
                    image_index=DEFAULT_IMAGE_INDEX if image_index is None else _int(image_index, "--image-index"),
                    mixed_precision=mixed_precision)


@task(help={"profile": PROFILE_HELP, "data": DATA_HELP, "seeds": SEEDS_HELP, "force": "retrain every experiment even if cached",
            "strict": "fail the build when the data contradicts a claim of the prose",
            "mixed_precision": MIXED_HELP, "verbose": VERBOSE_HELP})
def all(c, profile="full", data=None, seeds=None, force=False, strict=False, mixed_precision=MIXED, verbose=False):
    """Run every experiment (cached), draw the figures, render report.html/.pdf and the zip."""
    with _user_errors(verbose):
        from experiments import build

        build.run_all(_settings(profile, data, seeds, strict, mixed_precision=mixed_precision), force=force)


@task(help={"name": "experiment to retrain (see `invoke list`)", "profile": PROFILE_HELP, "data": DATA_HELP,
            "seeds": SEEDS_HELP, "strict": "fail on a contradicted claim",
            "mixed_precision": MIXED_HELP, "verbose": VERBOSE_HELP})
def experiment(c, name, profile="full", data=None, seeds=None, strict=False, mixed_precision=MIXED, verbose=False):
    """Retrain one experiment even if cached, then rebuild figures, report and zip."""
    with _user_errors(verbose):
        from experiments import build

        build.run_experiment(_settings(profile, data, seeds, strict, mixed_precision=mixed_precision), name)


@task(help={"profile": PROFILE_HELP, "data": DATA_HELP, "seeds": SEEDS_HELP, "strict": "fail on a contradicted claim",
            "mixed_precision": MIXED_HELP})
def report(c, profile="full", data=None, seeds=None, strict=False, mixed_precision=MIXED):
    """Figures, HTML and PDF from existing results; never trains."""
    with _user_errors():
        from experiments import build

        build.run_report(_settings(profile, data, seeds, strict, mixed_precision=mixed_precision))


@task(help={"experiment": "only this experiment's model (default: the ones the report shows)",
            "layer": "only this layer's figures", "image_index": f"training image to feed (default {DEFAULT_IMAGE_INDEX}); the first training image of another class is drawn too",
            "profile": PROFILE_HELP, "data": DATA_HELP, "seeds": SEEDS_HELP, "mixed_precision": MIXED_HELP})
def visualize(c, experiment=None, layer=None, image_index=None, profile="full", data=None, seeds=None,
              mixed_precision=MIXED):
    """Exercise 2: filters, activation maps and augmentation grids from saved models."""
    with _user_errors():
        from experiments import build

        settings = _settings(profile, data, seeds, image_index=image_index, mixed_precision=mixed_precision)
        manifest = build.run_visualize(settings, experiment, layer)
        n = sum(len(m["figures"]) for m in manifest["models"].values()) + len(manifest["augmentation"])
        print(f"{n} figures for {', '.join(manifest['models'])}")


@task(help={"profile": PROFILE_HELP, "data": DATA_HELP, "seeds": SEEDS_HELP, "mixed_precision": MIXED_HELP})
def zip(c, profile="full", data=None, seeds=None, mixed_precision=MIXED):
    """Pack the report and the sources into dist/pw09-submission.zip."""
    with _user_errors():
        from experiments import build

        print(build.run_zip(_settings(profile, data, seeds, mixed_precision=mixed_precision)))


@task(name="list", help={"profile": PROFILE_HELP, "data": DATA_HELP, "seeds": SEEDS_HELP,
                         "mixed_precision": MIXED_HELP})
def list_(c, profile="full", data=None, seeds=None, mixed_precision=MIXED):
    """Each experiment with its status for a profile: cached, partial, stale or missing."""
    with _user_errors():
        from experiments import build

        settings = _settings(profile, data, seeds, mixed_precision=mixed_precision)
        rows = build.status_table(settings)
        print(f"{'experiment':<12} {'status':<22} {'epochs':>6} {'images':>7} {'seeds':>5} {'estimate':>12}  description")
        for r in rows:
            print(f"{r['experiment']:<12} {r['status']:<22} {r['epochs']:>6} {r['train_size']:>7} {r['seeds']:>5} "
                  f"{r['estimate']:>12}  {r['title']}")
        print(build.status_footer(rows))
        for step, state in build.artifact_states(settings).items():
            shown = {"current": "cached", "damaged": "damaged (`invoke all` rebuilds it)"}.get(state, "missing")
            print(f"{step:<12} {shown}")


@task(help={"all": "also delete trained runs and the decoded-data cache"})
def clean(c, all=False):
    """Delete generated results, figures, report and zip (trained runs are kept)."""
    with _user_errors():
        from experiments import build
        from experiments.settings import Settings

        for path in build.clean(Settings(profile="smoke"), everything=all):
            print(f"removed {path}")


@task(help={"smoke": "tiny step counts: checks the plumbing in a few minutes (CI)",
            "data": DATA_HELP,
            "build_from": "time the no-op build and `invoke report` on a copy of this build folder's runs "
                          "(default: train a smoke build in a scratch folder; skipped with --smoke)",
            "profile": "profile of --build-from's runs (default smoke)",
            "only": "comma-separated sections: data, training, augmentation, flops, precision, build, estimate "
                    "(default: all of these), and tta (opt-in: trains vgg_aug's full run, hours on a CPU)",
            "out": "where to write the JSON (default: build/bench.json)",
            "reps": "rounds of each side-by-side comparison, a positive whole number (default: 3, smoke 1)"})
def bench(c, smoke=False, data=None, build_from=None, profile="smoke", only=None, out=None, reps=None):
    """Throughput, augmentation cost, GFLOP/s, precision, data, build timings, estimates -> table + build/bench.json."""
    with _user_errors():
        from experiments import bench as benchmark

        sections = [s.strip() for s in only.split(",") if s.strip()] if only else None
        benchmark.run_bench(_settings(profile, data), smoke=smoke, build_from=build_from,
                            sections=sections, out=out, reps=_int(reps, "--reps"))
