"""experiments.claims on hand-made result dicts: the pure evaluators, wording, verdicts, ids, strict mode."""

import math
import subprocess
import sys

import pytest

from experiments import analysis, claims, formats
from experiments.claims import ClaimBook, Series
from experiments.formats import num, pct, pts
from experiments.errors import ReportError

BASE = [0.70, 0.71, 0.72]


def run(name, test_acc, train_acc=None, test_loss=None, seeds=None, title=None):
    """A result dict as the report builder passes it, from per-seed test accuracies."""
    n = len(test_acc)
    train_acc = train_acc or [a + 0.05 for a in test_acc]
    test_loss = test_loss or [1.5 - a for a in test_acc]
    per_seed = {"test_accuracy": test_acc, "train_accuracy": train_acc,
                "test_loss": test_loss, "train_loss": [0.5] * n}
    result = {"experiment": name, "n_seeds": n, "seeds": seeds or [1234 + i for i in range(n)],
              "per_seed": per_seed,
              **{k: sum(v) / n for k, v in per_seed.items()}}
    if title:
        result["title"] = title
    return result


def shifted(values, by):
    return [v + d for v, d in zip(values, by)]


def book(*runs, **kwargs):
    return ClaimBook({r["experiment"]: r for r in runs}, **kwargs)


# --- formatting ------------------------------------------------------------------------

def test_pct_and_num():
    assert pct(0.7123) == "71.2 %"
    assert pct(0.7123, digits=0) == "71 %"
    assert pct(1) == "100.0 %"
    assert num(0.81234) == "0.812"
    assert num(0.05, sign=True) == "+0.050"
    assert num(-0.05, sign=True) == "-0.050"
    assert num(-0.0001) == "0.000"  # never "-0.000"


def test_pts_signs_and_singular_point():
    assert pts(0.014) == "+1.4 points"
    assert pts(-0.023) == "-2.3 points"
    assert pts(0.01) == "+1.0 point"
    assert pts(-0.0099) == "-1.0 point"  # singular when it *formats* as 1.0
    assert pts(0.01, digits=0) == "+1 point"
    assert pts(0.0) == "0.0 points"
    assert pts(-0.0001) == "0.0 points"  # no sign on a zero


@pytest.mark.parametrize("fmt", [pct, pts, num])
@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), -math.inf, "0.5", True])
def test_formatters_refuse_non_numbers(fmt, bad):
    with pytest.raises(ValueError):
        fmt(bad)


# --- compare: wording and verdicts -----------------------------------------------------

def test_compare_higher_supported():
    b = book(run("baseline", BASE), run("aug_flip", shifted(BASE, [0.02, 0.025, 0.03])))
    text = b.compare("test_accuracy", "aug_flip", "baseline", expect="higher")
    assert text == ("Baseline CNN + horizontal flips has a higher test accuracy than Baseline "
                    "CNN, no augmentation: +2.5 points (95 % CI +1.3 to +3.7, n = 3 seeds).")
    claim = b.records[0]
    assert (claim.id, claim.verdict, claim.expected, claim.found) == (
        "ex1.aug_flip_vs_baseline.test_accuracy", "supported", "higher", "higher")
    assert claim.numbers["difference"] == pytest.approx(0.025)
    half = 4.302653 * 0.005 / math.sqrt(3)  # t_{0.975,2} * sd / sqrt(n)
    assert claim.numbers["difference_ci_lo"] == pytest.approx(0.025 - half)
    assert claim.numbers["aug_flip.test_accuracy"] == pytest.approx(0.735)
    assert claim.numbers["difference_n"] == 3


def test_compare_lower_contradicts_an_expected_higher():
    b = book(run("baseline", BASE), run("aug_flip", shifted(BASE, [-0.02, -0.025, -0.03])))
    text = b.compare("test_accuracy", "aug_flip", "baseline", expect="higher")
    assert text == ("Baseline CNN + horizontal flips has a lower test accuracy than Baseline "
                    "CNN, no augmentation: -2.5 points (95 % CI -3.7 to -1.3, n = 3 seeds).")
    assert (b.records[0].verdict, b.records[0].found) == ("contradicted", "lower")
    assert b.failures() == b.records


def test_compare_unclear_is_undecided():
    # Differences of 1, 2, 3 points: mean 2, sd 1, CI 2 -/+ 4.303 / sqrt(3) = -0.5 .. +4.5.
    b = book(run("baseline", BASE), run("aug_flip", shifted(BASE, [0.01, 0.02, 0.03])))
    text = b.compare("test_accuracy", "aug_flip", "baseline", expect="higher")
    assert text == ("There is no clear difference in test accuracy between Baseline CNN + "
                    "horizontal flips and Baseline CNN, no augmentation: +2.0 points "
                    "(95 % CI -0.5 to +4.5, n = 3 seeds; the interval includes zero).")
    assert (b.records[0].verdict, b.records[0].found) == ("undecided", "unclear")


def test_compare_single_run_matching_sign_is_undecided():
    b = book(run("vgg", [0.698]), run("vgg_aug", [0.712]))
    text = b.compare("test_accuracy", "vgg_aug", "vgg", expect="higher")
    assert text == ("Comparing the test accuracy of VGG-style CNN + horizontal flips and "
                    "VGG-style CNN, no augmentation, with one seed per experiment there is no interval "
                    "to tell the difference from seed noise: 71.2 % vs 69.8 % (+1.4 points).")
    claim = b.records[0]
    assert (claim.verdict, claim.found) == ("undecided", "single")
    assert "difference_ci_lo" not in claim.numbers  # no interval from one pair


def test_compare_single_run_opposite_sign_contradicts():
    b = book(run("vgg", [0.698]), run("vgg_aug", [0.712]))
    b.compare("test_accuracy", "vgg_aug", "vgg", expect="lower")
    assert (b.records[0].verdict, b.records[0].found) == ("contradicted", "single")


def test_compare_without_expectation_is_supported_whatever_the_data():
    b = book(run("baseline", BASE), run("aug_flip", shifted(BASE, [-0.02, -0.025, -0.03])))
    b.compare("test_accuracy", "aug_flip", "baseline")
    assert (b.records[0].verdict, b.records[0].expected) == ("supported", None)


def test_compare_loss_and_gap_wording():
    b = book(run("baseline", BASE),
             run("aug_flip", BASE, train_acc=shifted(BASE, [0.01, 0.012, 0.011])))
    # Same test accuracy, training accuracy 1.0-1.2 points above it instead of 5: smaller gap.
    assert b.compare("gap", "aug_flip", "baseline", expect="lower").startswith(
        "Baseline CNN + horizontal flips has a lower train–test accuracy gap than Baseline CNN, "
        "no augmentation: -3.9 points (95 % CI")
    assert b.records[-1].verdict == "supported"

    b = book(run("baseline", BASE, test_loss=[0.90, 0.95, 1.00]),
             run("aug_flip", BASE, test_loss=[0.85, 0.91, 0.95]))
    assert b.compare("test_loss", "aug_flip", "baseline") == (
        "Baseline CNN + horizontal flips has a lower test loss than Baseline CNN, no "
        "augmentation: -0.047 (95 % CI -0.061 to -0.032, n = 3 seeds).")


def test_compare_missing_experiment():
    b = book(run("baseline", BASE))
    text = b.compare("test_accuracy", "vgg", "baseline", expect="higher")
    assert text == ("VGG-style CNN, no augmentation has no results yet, so its test accuracy "
                    "cannot be compared with that of Baseline CNN, no augmentation yet.")
    claim = b.records[0]
    assert (claim.verdict, claim.found, claim.numbers) == ("missing", "missing", {})
    assert b.failures() == []

    assert book().compare("test_accuracy", "vgg", "vgg_aug") == (
        "VGG-style CNN, no augmentation and VGG-style CNN + horizontal flips have no results "
        "yet, so their test accuracy cannot be compared yet.")


def test_compare_pairs_by_seed_and_says_so():
    b = book(run("baseline", BASE), run("aug_flip", [0.73, 0.745], seeds=[1234, 1235]))
    text = b.compare("test_accuracy", "aug_flip", "baseline")
    assert "n = 2 seeds run by both" in text
    assert b.records[0].numbers["difference"] == pytest.approx(0.0325)

    b = book(run("baseline", BASE), run("aug_flip", [0.60], seeds=[1236]))
    assert "with only one seed run by both, there is no interval to tell the difference from seed noise: 60.0 % vs 72.0 %" in (
        b.compare("test_accuracy", "aug_flip", "baseline"))

    b = book(run("baseline", BASE), run("aug_flip", [0.60], seeds=[99]))
    with pytest.raises(ReportError, match="share no seed"):
        b.compare("test_accuracy", "aug_flip", "baseline")


def test_custom_label_replaces_the_metric_phrase():
    b = book(run("baseline", BASE), run("aug_flip", shifted(BASE, [0.02, 0.025, 0.03])))
    assert b.compare("test_accuracy", "aug_flip", "baseline", label="accuracy on unseen images") \
        .startswith("Baseline CNN + horizontal flips has a higher accuracy on unseen images than")


# --- best ----------------------------------------------------------------------------------

def three_augmentations():
    return book(run("baseline", BASE),
                run("aug_flip", shifted(BASE, [0.010, 0.012, 0.011])),
                run("aug_shift", shifted(BASE, [0.030, 0.034, 0.032])))


def test_best_clear_winner():
    b = three_augmentations()
    text = b.best("test_accuracy", ["baseline", "aug_flip", "aug_shift"], expect="aug_shift")
    # Lead over aug_flip: differences of 2.0, 2.2, 2.1 points, so sd 0.1 and a narrow CI.
    assert text == (
        "Baseline CNN + flips and shifts has the highest test accuracy of the 3 compared "
        "experiments: 74.2 % against 72.1 % for Baseline CNN + horizontal flips (runner-up); "
        "difference +2.1 points (95 % CI +1.9 to +2.3, n = 3 seeds).")
    claim = b.records[0]
    assert claim.id == "ex1.best_of_baseline+aug_flip+aug_shift.test_accuracy"
    assert (claim.verdict, claim.expected, claim.found) == ("supported", "aug_shift", "aug_shift")
    assert claim.numbers["lead"] == pytest.approx(0.021)


def test_best_contradicts_a_clearly_beaten_expectation():
    b = three_augmentations()
    b.best("test_accuracy", ["baseline", "aug_flip", "aug_shift"], expect="baseline")
    claim = b.records[0]
    assert claim.verdict == "contradicted"
    assert claim.numbers["best_minus_expected"] == pytest.approx(0.032)


def test_best_of_a_loss_is_the_lowest():
    b = book(run("baseline", BASE, test_loss=[0.90, 0.95, 1.00]),
             run("aug_flip", BASE, test_loss=[0.85, 0.91, 0.95]))
    text = b.best("test_loss", ["baseline", "aug_flip"], expect="aug_flip")
    assert text.startswith("Baseline CNN + horizontal flips has the lowest test loss of the 2 "
                           "compared experiments: 0.903 against 0.950 for Baseline CNN, no "
                           "augmentation (runner-up); difference -0.047")
    assert b.records[0].verdict == "supported"


def test_best_single_runs():
    b = book(run("vgg", [0.80]), run("vgg_aug", [0.83]))
    assert b.best("test_accuracy", ["vgg", "vgg_aug"], expect="vgg") == (
        "VGG-style CNN + horizontal flips has the highest test accuracy of the 2 compared "
        "experiments, 83.0 % against 80.0 % for VGG-style CNN, no augmentation (runner-up; "
        "difference +3.0 points), but with one seed per experiment there is no interval to tell the lead "
        "from seed noise.")
    claim = b.records[0]
    assert (claim.verdict, claim.found) == ("contradicted", "single: vgg_aug leads")
    b.best("test_accuracy", ["vgg_aug", "vgg"], expect="vgg_aug")
    assert b.records[1].verdict == "undecided"


def test_best_unclear_lead():
    b = book(run("baseline", BASE), run("aug_flip", shifted(BASE, [0.01, 0.02, 0.03])))
    text = b.best("test_accuracy", ["baseline", "aug_flip"], expect="aug_flip")
    assert "has the highest mean test accuracy" in text
    assert ("but the lead is not clear: difference +2.0 points "
            "(95 % CI -0.5 to +4.5 includes zero") in text
    assert (b.records[0].verdict, b.records[0].found) == ("undecided", "unclear: aug_flip leads")


def test_best_missing_candidate():
    b = book(run("vgg", [0.80]))
    assert b.best("test_accuracy", ["vgg", "vgg_aug"]) == (
        "VGG-style CNN + horizontal flips has no results yet, so the best of the 2 compared "
        "experiments by test accuracy cannot be named yet.")
    assert b.records[0].verdict == "missing"


# --- in_range and increasing -----------------------------------------------------------------

@pytest.mark.parametrize("accs, found, verdict", [
    ([0.78, 0.79, 0.77], "below", "contradicted"),
    ([0.82, 0.83, 0.81], "within", "supported"),
    ([0.86, 0.87, 0.88], "above", "contradicted"),
])
def test_in_range(accs, found, verdict):
    b = book(run("vgg", accs))
    text = b.in_range("test_accuracy", "vgg", 0.80, 0.85, "the assignment's expected range",
                      expect=True)
    mean = sum(accs) / 3
    assert text == (f"VGG-style CNN, no augmentation has a test accuracy of {pct(mean)} (mean of "
                    f"3 seeds, sd 1.0 point), {found} the assignment's expected range of "
                    "80.0–85.0 %.")
    claim = b.records[0]
    assert (claim.id, claim.found, claim.verdict, claim.expected) == (
        "ex3.vgg.test_accuracy.in_0.8_0.85", found, verdict, "within")


def test_in_range_single_seed_expecting_outside_and_missing():
    b = book(run("vgg", [0.78]))
    assert b.in_range("test_accuracy", "vgg", 0.80, 0.85, "the expected range", expect=False) == (
        "VGG-style CNN, no augmentation has a test accuracy of 78.0 % (one seed), below the "
        "expected range of 80.0–85.0 %.")
    assert b.records[0].verdict == "supported"
    assert b.in_range("test_accuracy", "vgg_aug", 0.80, 0.85, "the expected range") == (
        "VGG-style CNN + horizontal flips has no results yet, so its test accuracy cannot be "
        "set against the expected range of 80.0–85.0 % yet.")
    assert b.records[1].verdict == "missing"
    with pytest.raises(ReportError, match="reversed"):
        b.in_range("test_accuracy", "vgg", 0.85, 0.80, "the expected range")


def test_increasing_true_from_facts():
    b = book(facts={"zero_fraction": [("relu1", 0.41), ("relu2", 0.52), ("relu3", 0.63)]})
    assert b.increasing("zero_fraction", "fraction of zero activations", expect=True) == (
        "The fraction of zero activations rises at every step: 41.0 % (relu1), 52.0 % (relu2), "
        "63.0 % (relu3).")
    claim = b.records[0]
    assert (claim.id, claim.verdict, claim.found) == ("increasing.zero_fraction", "supported",
                                                      "increasing")
    assert claim.numbers == {"relu1": 0.41, "relu2": 0.52, "relu3": 0.63}


def test_increasing_false_contradicts():
    b = book()
    text = b.increasing({"relu1": 0.41, "relu2": 0.41, "relu3": 0.63},
                        "fraction of zero activations", expect=True)
    assert text == ("The fraction of zero activations does not rise at every step: 41.0 % "
                    "(relu1), 41.0 % (relu2), 63.0 % (relu3); it stays level from relu1 to relu2.")
    claim = b.records[0]
    assert claim.id == "increasing.fraction_of_zero_activations.relu1+relu2+relu3"
    assert (claim.verdict, claim.found, claim.expected) == (
        "contradicted", "not increasing", "increasing")
    assert b.increasing([("a", 3), ("b", 2)], "loss", percent=False) == (
        "The loss does not rise at every step: 3.000 (a), 2.000 (b); it falls from a to b.")


def test_increasing_missing_fact():
    b = book()
    assert b.increasing("zero_fraction", "fraction of zero activations") == (
        "The fraction of zero activations has no results yet.")
    assert b.records[0].verdict == "missing"


# --- ids, de-duplication, strict mode ---------------------------------------------------------

def test_ids_are_deterministic_and_claims_recorded_once():
    def make():
        return book(run("baseline", BASE), run("aug_flip", shifted(BASE, [0.02, 0.025, 0.03])),
                    run("vgg", [0.8]))

    b1, b2 = make(), make()
    for b in (b1, b2):
        first = b.compare("test_accuracy", "aug_flip", "baseline", expect="higher")
        assert b.compare("test_accuracy", "aug_flip", "baseline", expect="higher") == first
        b.compare("test_loss", "aug_flip", "baseline")
        b.compare("test_accuracy", "vgg", "baseline")
    assert [c.id for c in b1.records] == [c.id for c in b2.records] == [
        "ex1.aug_flip_vs_baseline.test_accuracy",
        "ex1.aug_flip_vs_baseline.test_loss",
        "ex1+3.vgg_vs_baseline.test_accuracy",
    ]


def test_same_id_with_different_arguments_is_refused():
    b = book(run("baseline", BASE), run("aug_flip", BASE))
    b.compare("test_accuracy", "aug_flip", "baseline", expect="higher")
    with pytest.raises(ReportError, match="ex1.aug_flip_vs_baseline.test_accuracy"):
        b.compare("test_accuracy", "aug_flip", "baseline", expect="lower")


@pytest.mark.parametrize("call", [
    lambda b: b.compare("accuracy", "aug_flip", "baseline"),
    lambda b: b.compare("test_accuracy", "aug_flop", "baseline"),
    lambda b: b.compare("test_accuracy", "baseline", "baseline"),
    lambda b: b.compare("test_accuracy", "aug_flip", "baseline", expect="better"),
    lambda b: b.best("test_accuracy", ["baseline"]),
    lambda b: b.best("test_accuracy", ["baseline", "aug_flip"], expect="vgg"),
    lambda b: b.increasing([("a", 0.1)], "x"),
    lambda b: b.increasing([("a", 0.1), ("b", float("nan"))], "x"),
])
def test_template_mistakes_raise_report_errors(call):
    with pytest.raises(ReportError):
        call(book(run("baseline", BASE), run("aug_flip", BASE)))


def test_damaged_results_raise_report_errors():
    broken = run("aug_flip", BASE)
    broken["per_seed"]["test_accuracy"] = [0.7, float("nan"), 0.7]
    with pytest.raises(ReportError, match="aug_flip"):
        book(run("baseline", BASE), broken).compare("test_accuracy", "aug_flip", "baseline")
    del broken["per_seed"]["test_accuracy"]
    with pytest.raises(ReportError, match="no per-seed test_accuracy"):
        book(run("baseline", BASE), broken).compare("test_accuracy", "aug_flip", "baseline")


def contradicting_book(strict):
    b = book(run("baseline", BASE), run("aug_flip", shifted(BASE, [-0.02, -0.025, -0.03])),
             run("vgg", [0.78]), strict=strict)
    b.compare("test_accuracy", "aug_flip", "baseline", expect="higher")   # contradicted
    b.compare("test_loss", "aug_flip", "baseline", expect="higher")       # supported
    b.in_range("test_accuracy", "vgg", 0.80, 0.85, "the range", expect=True)  # contradicted
    return b


def test_strict_lists_every_contradicted_claim():
    b = contradicting_book(strict=True)
    with pytest.raises(ReportError) as info:
        b.check_strict()
    message = str(info.value)
    assert message.startswith("2 checked claim(s)")
    assert ("ex1.aug_flip_vs_baseline.test_accuracy: the prose expects higher, "
            "the data shows lower") in message
    assert "difference=-0.025" in message and "difference_ci_hi=" in message
    assert "ex3.vgg.test_accuracy.in_0.8_0.85" in message and "vgg.test_accuracy=0.78" in message
    assert "has a lower test accuracy than" in message  # the claim's text
    assert "ex1.aug_flip_vs_baseline.test_loss" not in message


def test_non_strict_only_reports_failures():
    b = contradicting_book(strict=False)
    b.check_strict()  # no error
    assert [c.id for c in b.failures()] == ["ex1.aug_flip_vs_baseline.test_accuracy",
                                            "ex3.vgg.test_accuracy.in_0.8_0.85"]
    assert [c.verdict for c in b.records] == ["contradicted", "supported", "contradicted"]


def test_strict_without_failures_passes():
    b = book(run("baseline", BASE), strict=True)
    b.compare("test_accuracy", "vgg", "baseline", expect="higher")  # missing, not a failure
    b.check_strict()


def test_titles_come_from_results_when_present():
    b = book(run("baseline", BASE, title="Plain CNN"),
             run("aug_flip", shifted(BASE, [0.02, 0.025, 0.03])))
    assert b.compare("test_accuracy", "aug_flip", "baseline").endswith(
        "higher test accuracy than Plain CNN: +2.5 points (95 % CI +1.3 to +3.7, n = 3 seeds).")


def test_modules_import_without_training_dependencies():
    # In a fresh interpreter: other tests of the suite may have imported TensorFlow already.
    code = ("import sys, experiments.claims, experiments.stats; "
            "print(sorted({m.split('.')[0] for m in sys.modules} "
            "& {'tensorflow', 'keras', 'matplotlib'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the pure evaluators, the units, the one rule for "best" -------------------------------------

def test_evaluators_are_pure_functions_of_series():
    a = Series("aug_flip", "flip", (1, 2, 3), (0.72, 0.735, 0.75))
    b = Series("baseline", "plain", (1, 2, 3), (0.70, 0.71, 0.72))
    claim = claims.evaluate_compare(a, b, "test_accuracy", expect="higher")
    assert claim.text.startswith("flip has a higher test accuracy than plain: +2.5 points (95 % CI +1.3 to +3.7")
    assert (claim.id, claim.verdict, claim.found, claim.where) == ("", "supported", "higher", "")
    # The same inputs give the same record; nothing is kept between calls.
    assert claims.evaluate_compare(a, b, "test_accuracy", expect="higher") == claim
    assert claims.evaluate_compare(a, Series("vgg", "deep"), "test_accuracy").verdict == "missing"
    best = claims.evaluate_best([b, a], "test_accuracy", expect="baseline")
    assert (best.found, best.verdict) == ("aug_flip", "contradicted")


def test_series_reads_per_seed_values_and_the_gap(results_three_seeds):
    s = claims.series(results_three_seeds, "baseline", "gap", "baseline")
    assert s.exp == "baseline" and s.seeds == (1234, 1235, 1236)
    assert s.values == pytest.approx((0.15, 0.155, 0.142))
    assert claims.series({}, "vgg", "test_accuracy").missing


@pytest.mark.parametrize("gaps, found, verdict, words", [
    ([0.07, 0.072, 0.068], "positive", "supported",
     "b fits its training images better than new ones: its training accuracy is above its test accuracy by 7.0 points "
     "(95 % CI +6.5 to +7.5, n = 3 seeds)."),
    ([-0.03, -0.031, -0.029], "negative", "contradicted",
     "b does not fit its training images better than new ones: its training accuracy is below its test accuracy by "
     "3.0 points (95 % CI -3.2 to -2.8, n = 3 seeds)."),
    ([0.01, -0.01, 0.02], "unclear", "undecided", "There is no clear gap between the training and the test accuracy of b"),
    ([0.15], "single", "undecided", "In its one run the training accuracy of b is above its test accuracy by 15.0 points;"),
    ([-0.02], "single", "contradicted", "In its one run the training accuracy of b is below its test accuracy by 2.0 points;"),
    ([0.0], "single", "undecided", "In its one run the training accuracy of b equals its test accuracy to 0.1 points;"),
])
def test_overfits_against_a_positive_gap(gaps, found, verdict, words):
    gap = Series("baseline", "b", tuple(range(len(gaps))), tuple(gaps))
    claim = claims.evaluate_overfits(gap, expect=True)
    assert (claim.expected, claim.found, claim.verdict) == ("positive", found, verdict)
    assert claim.text.startswith(words), claim.text
    assert " by +" not in claim.text and " by -" not in claim.text  # a size after "by" has no sign
    assert claims.evaluate_overfits(gap).verdict == "supported"  # asserting nothing


@pytest.mark.parametrize("gains, found, verdict, words", [
    ([0.009, 0.0087, 0.0095], "positive", "supported",
     "For d, averaging each test image's prediction with its mirror image's raises the test accuracy by 0.9 points "
     "(95 % CI +0.8 to +1.0, n = 3 seeds)."),
    ([-0.004, -0.005, -0.006], "negative", "contradicted",
     "For d, averaging each test image's prediction with its mirror image's lowers the test accuracy by 0.5 points"),
    ([0.01, -0.01, 0.002], "unclear", "undecided", "For d, averaging each test image's prediction with its mirror "
                                                   "image's changes the test accuracy by no clear amount"),
    ([0.012], "single", "undecided", "In the one run of d, averaging each test image's prediction with its mirror "
                                     "image's raises the test accuracy by 1.2 points;"),
    ([-0.003], "single", "contradicted", "In the one run of d, averaging each test image's prediction with its "
                                         "mirror image's lowers the test accuracy by 0.3 points;"),
    ([0.0], "single", "undecided", "In the one run of d, averaging each test image's prediction with its mirror "
                                   "image's leaves the test accuracy unchanged to 0.1 points;"),
])
def test_mirror_gain_against_zero(gains, found, verdict, words):
    gain = Series("vgg", "d", tuple(range(len(gains))), tuple(gains))
    claim = claims.evaluate_mirror_gain(gain, expect=True)
    assert (claim.expected, claim.found, claim.verdict) == ("positive", found, verdict)
    assert claim.text.startswith(words), claim.text
    assert claims.evaluate_mirror_gain(gain).verdict == "supported"  # asserting nothing
    assert claims.evaluate_mirror_gain(Series("vgg", "d")).verdict == "missing"


def test_mirror_gain_is_read_per_seed_from_the_two_test_accuracies():
    r = run("vgg", [0.82, 0.83, 0.84])
    r["per_seed"]["test_accuracy_mirror"] = [0.83, 0.835, 0.835]  # +1.0, +0.5, -0.5 points
    b = book(r, strict=True)
    b.mirror_gain("vgg", expect=True, where="3: mirror averaging helps")
    claim = b.records[0]
    assert claim.id == "ex3.vgg.mirror_gain" and claim.verdict == "undecided"
    assert claim.numbers["gain"] == pytest.approx(0.00333, abs=1e-5)
    with pytest.raises(ReportError, match="the results of vgg have no per-seed test_accuracy_mirror"):
        book(run("vgg", [0.82])).mirror_gain("vgg")


def test_overfits_through_the_book_is_recorded_with_the_prose_words():
    b = book(run("baseline", BASE, train_acc=[a - 0.03 for a in BASE]), strict=True)
    b.overfits("baseline", expect=True, where="1 b): the baseline overfits")
    claim = b.records[0]
    assert (claim.id, claim.verdict, claim.where) == ("ex1.baseline.overfits", "contradicted", "1 b): the baseline overfits")
    assert b.asserted == [claim] and b.worded == []
    with pytest.raises(ReportError, match=r'ex1\.baseline\.overfits \(the prose says: "1 b\): the baseline overfits"\)'):
        b.check_strict()


def test_where_is_kept_only_for_asserted_claims():
    b = three_augmentations()
    b.compare("test_accuracy", "aug_flip", "baseline", where="ignored: nothing is asserted")
    b.compare("test_accuracy", "aug_shift", "baseline", expect="higher", where="1 a): it helps")
    assert [c.where for c in b.records] == ["", "1 a): it helps"]
    assert [c.id for c in b.worded] == ["ex1.aug_flip_vs_baseline.test_accuracy"]


def test_units_values_in_percent_differences_in_points():
    P, G, L = formats.PERCENT, formats.POINTS, formats.PLAIN
    assert [formats.value(0.712, u) for u in (P, G, L)] == ["71.2 %", "71.2 points", "0.712"]
    assert [formats.difference(-0.006, u) for u in (P, G, L)] == ["-0.6 points", "-0.6 points", "-0.006"]
    assert [formats.magnitude(-0.006, u) for u in (P, G, L)] == ["0.6 points", "0.6 points", "0.006"]
    assert formats.interval(0.013, 0.037, P) == "95 % CI +1.3 to +3.7"
    assert formats.span(0.8, 0.85, P) == "80.0–85.0 %" and formats.span(0.02, 0.05, G) == "2.0–5.0 points"
    assert formats.spread(0.01, P) == "1.0 point" and formats.delta(0.026) == "+2.6"


def test_gap_values_are_points_in_every_wording():
    b = book(run("vgg", [0.80], train_acc=[0.802]), run("vgg_aug", [0.81], train_acc=[0.818]))
    text = b.compare("gap", "vgg_aug", "vgg")
    assert text.endswith(": 0.8 points vs 0.2 points (+0.6 points).")
    assert "%" not in text


def test_best_and_best_experiment_follow_one_ranking():
    assert analysis.ranking({"a": 0.7, "b": 0.8, "c": 0.8}) == ["b", "c", "a"]  # first listed wins a tie
    assert analysis.ranking({"a": 0.7, "b": 0.8}, higher=False) == ["a", "b"]
    tie = book(run("aug_flip", [0.7]), run("aug_shift", [0.7]))
    for order in (["aug_flip", "aug_shift"], ["aug_shift", "aug_flip"]):
        claim = tie.best("test_accuracy", order).claim
        assert claim.found == f"single: {analysis.best_experiment(tie.results, order)} leads" == f"single: {order[0]} leads"
