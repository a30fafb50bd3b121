"""experiments.stats on hand-made numbers with known answers."""

import math

import pytest

from experiments import stats

T_975_DF2 = 4.302652729749462  # t_{0.975, 2}, from tables


def test_mean_std_uses_sample_std():
    mean, std = stats.mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == pytest.approx(2.5)
    assert std == pytest.approx(math.sqrt(5 / 3))  # squared deviations sum to 5, ddof=1


def test_mean_std_of_one_value_has_zero_std():
    assert stats.mean_std([0.7]) == (0.7, 0.0)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")], [None], ["x"]])
def test_mean_std_rejects_empty_and_non_finite(bad):
    with pytest.raises(ValueError):
        stats.mean_std(bad)


def test_paired_difference_known_interval():
    # Differences a - b = [1, 2, 3]: mean 2, sd 1, df 2.
    d = stats.paired_difference([11, 12, 13], [10, 10, 10])
    half = T_975_DF2 / math.sqrt(3)
    assert d["mean"] == pytest.approx(2.0)
    assert d["std"] == pytest.approx(1.0)
    assert (d["n"], d["df"], d["paired_n"], d["n_a"], d["n_b"]) == (3, 2, 3, 3, 3)
    assert d["lo"] == pytest.approx(2 - half)  # -0.484...
    assert d["hi"] == pytest.approx(2 + half)  # 4.484...
    assert d["confidence"] == 0.95
    assert stats.direction(d) == stats.UNCLEAR  # 2 - 2.484 < 0: the interval includes zero


def test_paired_difference_confidence_level_changes_the_width():
    narrow = stats.paired_difference([11, 12, 13], [10, 10, 10], confidence=0.5)
    wide = stats.paired_difference([11, 12, 13], [10, 10, 10])
    assert narrow["hi"] - narrow["lo"] < wide["hi"] - wide["lo"]
    assert stats.direction(narrow) == stats.HIGHER


def test_paired_difference_single_pair_has_no_interval():
    d = stats.paired_difference([0.72], [0.70])
    assert d["mean"] == pytest.approx(0.02)
    assert (d["n"], d["df"], d["std"], d["lo"], d["hi"]) == (1, 0, 0.0, None, None)
    assert stats.direction(d) == stats.SINGLE


def test_zero_variance_collapses_the_interval_to_the_mean():
    d = stats.paired_difference([3.0, 4.0, 5.0], [2.5, 3.5, 4.5])
    assert d["std"] == 0.0
    assert d["lo"] == d["hi"] == pytest.approx(0.5)
    assert stats.direction(d) == stats.HIGHER
    assert stats.direction(stats.paired_difference([1.0, 2.0], [1.5, 2.5])) == stats.LOWER
    # A constant difference of exactly zero shows nothing either way.
    assert stats.direction(stats.paired_difference([1.0, 2.0], [1.0, 2.0])) == stats.UNCLEAR


def test_direction_lower_and_higher():
    assert stats.direction(stats.paired_difference([1, 2, 3], [11, 12.5, 13])) == stats.LOWER
    assert stats.direction(stats.paired_difference([11, 12.5, 13], [1, 2, 3])) == stats.HIGHER


def test_unequal_lengths_pair_the_common_prefix():
    d = stats.paired_difference([11, 12, 13, 99], [10, 10, 10])
    assert d["mean"] == pytest.approx(2.0)
    assert (d["n"], d["paired_n"], d["n_a"], d["n_b"]) == (3, 3, 4, 3)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_paired_difference_rejects_bad_confidence(confidence):
    with pytest.raises(ValueError):
        stats.paired_difference([1, 2], [1, 2], confidence=confidence)


def test_paired_difference_rejects_nan():
    with pytest.raises(ValueError):
        stats.paired_difference([1, float("nan")], [1, 2])
