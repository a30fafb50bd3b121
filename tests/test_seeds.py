"""Several seeds: each seed its own cached run, mean ± std in tables, bands on curves."""

from __future__ import annotations

import re

import pytest

from experiments import figures, report
from experiments.runs import plan_runs
from experiments.settings import Settings

from conftest import fake_results


def test_raising_the_seed_count_keeps_the_runs_already_made(tmp_path):
    two = Settings(profile="smoke", build=tmp_path, dist=tmp_path, n_seeds=2)
    three = Settings(profile="smoke", build=tmp_path, dist=tmp_path, n_seeds=3)
    keys2 = [r.key for r in plan_runs(two, "baseline", "sha256:x")]
    keys3 = [r.key for r in plan_runs(three, "baseline", "sha256:x")]
    assert keys3[:2] == keys2 and len(set(keys3)) == 3


def test_profiles_default_seed_counts():
    assert Settings(profile="full").seeds == [1234, 1235, 1236]
    assert len(Settings(profile="quick").seeds) == 1
    assert len(Settings(profile="smoke").seeds) == 1


def test_aggregate_keeps_per_seed_values_and_mean_std(results_three_seeds):
    r = results_three_seeds["baseline"]
    assert r["n_seeds"] == 3 and r["seeds"] == [1234, 1235, 1236]
    assert r["per_seed"]["test_accuracy"] == [0.600, 0.605, 0.598]
    assert r["test_accuracy"] == pytest.approx(0.601)
    assert r["std"]["test_accuracy"] == pytest.approx(0.0036056, rel=1e-4)
    assert len(r["history_std"]["test_loss"]) == len(r["history"]["epoch"])


def test_table_shows_mean_and_std_only_with_several_seeds(results_three_seeds, results_one_seed):
    def cells(html):
        return [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html)]

    many = cells(report.results_table(results_three_seeds, ["baseline", "aug_flip"]))
    assert "60.1 % ± 0.4" in many
    one = cells(report.results_table(results_one_seed, ["baseline", "aug_flip"]))
    assert not any("±" in c for c in one) and "60.0 %" in one


def test_curves_get_a_band_across_seeds(tmp_path, results_three_seeds, results_one_seed):
    rec = figures.plot_curves(results_three_seeds, ["baseline", "aug_flip"], tmp_path / "c3.png", "c3", "Test")
    assert "band = ±1 standard deviation" in rec["caption"] and "3 seeds" in rec["caption"]
    assert (tmp_path / "c3.png").read_bytes()[:4] == b"\x89PNG"
    rec1 = figures.plot_curves(results_one_seed, ["baseline", "aug_flip"], tmp_path / "c1.png", "c1", "Test")
    assert "one seed per experiment" in rec1["caption"]


def test_two_seed_claim_uses_the_interval():
    from experiments.claims import ClaimBook

    clear = fake_results({"baseline": [(0.60, 0.7), (0.61, 0.7)], "aug_flip": [(0.65, 0.7), (0.665, 0.7)]})
    text = ClaimBook(clear).compare("test_accuracy", "aug_flip", "baseline")
    assert "95 % CI" in text and "higher" in text
    noisy = fake_results({"baseline": [(0.60, 0.7), (0.64, 0.7)], "aug_flip": [(0.63, 0.7), (0.62, 0.7)]})
    assert "no clear difference" in ClaimBook(noisy).compare("test_accuracy", "aug_flip", "baseline")
