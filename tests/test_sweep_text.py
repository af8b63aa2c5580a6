"""The sweep lessons' sentences on small hand-made sweep results: the wording on both sides of every threshold,
the cases that must say nothing (unfinished runs, diverged runs, gaps within seed noise), and advice that fits
the settings."""

import math

import numpy as np
import pandas as pd
import pytest

from bn_demo.experiments.sweeps import by_value, decided
from bn_demo.views import sweep_text as text
from tests.sweep_tables import LN10, analysis, pair, points, sweep

# --- which rows may be quoted -------------------------------------------------------------------------------


def test_unfinished_runs_and_their_partners_are_left_out():
    rows = pair(0.1, 0, 0.95, 0.94) + pair(0.1, 1, 0.96, None) + pair(1.0, 0, "x", 0.5)
    kept = decided(points(rows))
    assert sorted(set(zip(kept["value"], kept["seed"], strict=True))) == [
        (0.1, 0),
        (1.0, 0),
    ]  # seed 1 at 0.1: no BN unfinished
    assert len(kept) == 4


def test_good_values_need_every_seed_at_the_line_and_no_divergence():
    p = sweep(
        {0.01: [(0.90, 0.95), (0.95, 0.95)], 0.1: [(0.95, 0.8999), (0.96, 0.95)], 1.0: [(0.97, 0.95), ("x", 0.95)]}
    )
    assert text.good_values(p, "bn", min_accuracy=0.9) == [0.01, 0.1]  # exactly 0.90 counts; 1.0 diverged in a seed
    assert text.good_values(p, "plain", min_accuracy=0.9) == [0.01, 1.0]  # 0.8999 in one seed at 0.1


# --- each run's summary -------------------------------------------------------------------------------------


def test_run_summary_counts_values_quotes_the_best_and_the_divergence():
    p = sweep({0.01: [(0.91, 0.90), (0.93, 0.92)], 0.5: [(0.97, 0.95), (0.95, 0.96)], 30.0: [(0.99, "x"), ("x", "x")]})
    bn = text.run_summary(p, "bn", noun="learning rate", min_accuracy=0.9)
    assert bn.text.startswith("**BN** reached ≥ 90% test accuracy in both seeds at 2 of 3 values (0.01 and 0.5)")
    assert "best 96.0% ± 1.4% at learning rate 0.5" in bn.text  # not 30, where a seed diverged
    assert bn.numbers["best"] == pytest.approx(np.mean([0.97, 0.95]))
    assert "diverged at learning rate 30 in 1 of 2 seeds (by step 5)" in bn.text
    plain = text.run_summary(p, "plain", noun="learning rate", min_accuracy=0.95)
    assert "at 1 of 3 values (0.5)" in plain.text and "in 2 of 2 seeds" in plain.text


def test_run_summary_says_none_in_words_and_one_seed_as_such():
    p = sweep({0.01: [(0.5, 0.4)], 0.1: [(0.6, 0.7)]})
    bn = text.run_summary(p, "bn", noun="learning rate", min_accuracy=0.9)
    assert "in its one seed at none of the 2 values" in bn.text and "(" not in bn.text.split("values")[1][:3]


def test_run_summary_is_silent_without_a_finished_run():
    p = points(pair(0.1, 0, None, None))
    assert not text.run_summary(p, "bn", noun="learning rate", min_accuracy=0.9)
    assert text.summarise(p, noun="learning rate", min_accuracy=0.9) == []


# --- per value: the table and its verdict --------------------------------------------------------------------


def test_value_table_gives_mean_sd_gap_and_ahead_count_against_numpy():
    bn, plain = [0.97, 0.96, 0.965], [0.95, 0.945, 0.955]
    p = sweep({0.1: list(zip(bn, plain, strict=True))})
    row = text.value_table(p, noun="learning rate", one_seed_noise=0.003).iloc[0]
    gaps = np.subtract(bn, plain) * 100
    assert row["BN"] == f"{np.mean(bn):.1%} ± {np.std(bn, ddof=1):.1%}"
    assert row["BN − no BN (points)"] == f"{gaps.mean():+.2f} ± {gaps.std(ddof=1):.2f}"
    assert row["BN ahead in"] == "3 of 3 seeds" and row["verdict"] == "BN higher"


def test_a_gap_within_the_seeds_spread_is_not_a_win():
    inside = sweep({0.1: [(0.95, 0.946), (0.96, 0.956), (0.97, 0.966)]})  # gap 0.4 points, sd 1 point
    assert text.value_verdict(inside, 0.1, one_seed_noise=0.003) == "within seed-to-seed noise"
    outside = sweep({0.1: [(0.95, 0.93), (0.96, 0.94), (0.97, 0.95)]})  # gap 2 points, sd 1 point
    assert text.value_verdict(outside, 0.1, one_seed_noise=0.003) == "BN higher"
    mixed = sweep({0.1: [(0.99, 0.90), (0.90, 0.95)]})
    assert text.value_verdict(mixed, 0.1, one_seed_noise=0.0) == "within seed-to-seed noise"
    lower = sweep({0.1: [(0.90, 0.95), (0.91, 0.96)]})
    assert text.value_verdict(lower, 0.1, one_seed_noise=0.003) == "no BN higher"


def test_one_seed_uses_the_typical_spread_on_both_sides():
    assert text.value_verdict(sweep({0.1: [(0.960, 0.958)]}), 0.1, one_seed_noise=0.003) == "within seed-to-seed noise"
    assert text.value_verdict(sweep({0.1: [(0.960, 0.956)]}), 0.1, one_seed_noise=0.003) == "BN higher"


def test_a_diverged_run_gives_no_accuracy_verdict():
    p = sweep({5.0: [(0.94, "x"), (0.95, "x"), (0.93, 0.2)], 30.0: [("x", "x"), ("x", "x"), ("x", "x")]})
    assert text.value_verdict(p, 5.0, one_seed_noise=0.003) == "no BN diverged in 2 of 3 seeds"
    assert text.value_verdict(p, 30.0, one_seed_noise=0.003) == "both diverged"
    some = sweep({20.0: [("x", "x"), (0.1, "x")]})
    assert text.value_verdict(some, 20.0, one_seed_noise=0.003) == "BN diverged in 1 of 2, no BN in 2 of 2"
    table = text.value_table(p, noun="learning rate", one_seed_noise=0.003).set_index("learning rate")
    assert table.loc["5", "no BN"] == "20.0% (✕ 2 of 3)" and table.loc["30", "BN"] == "✕ diverged (3 of 3)"
    assert table.loc["30", "BN ahead in"] == "–"


# --- page 3: the usable range -------------------------------------------------------------------------------


def lr_sweep(edges: dict[str, float], seeds: int = 2) -> pd.DataFrame:
    """Each net usable (0.95) up to its edge, diverged above it."""
    values = (0.01, 0.1, 1.0, 10.0)
    return sweep({v: [tuple(0.95 if v <= edges[r] else "x" for r in ("bn", "plain"))] * seeds for v in values})


def test_usable_range_in_words_that_match_the_sign():
    wider = text.usable_lr_range(lr_sweep({"bn": 1.0, "plain": 0.1}), min_accuracy=0.9)
    assert "BN 0.01 to 1 (3 of 4 values), no BN 0.01 to 0.1 (2 of 4 values)" in wider.text
    assert "BN's highest usable rate is 10× no BN's" in wider.text and wider.numbers["ratio"] == 10
    same = text.usable_lr_range(lr_sweep({"bn": 0.1, "plain": 0.1}), min_accuracy=0.9)
    assert "Both nets' highest usable rate was 0.1: at these settings BN did not raise it" in same.text
    narrower = text.usable_lr_range(lr_sweep({"bn": 0.1, "plain": 1.0}), min_accuracy=0.9)
    assert "No BN's highest usable rate, 1, was above BN's, 0.1" in narrower.text
    assert "×" not in narrower.text


def test_usable_range_never_prints_none_with_bn_and_none_without():
    neither = text.usable_lr_range(lr_sweep({"bn": 0.001, "plain": 0.001}), min_accuracy=0.9)
    assert neither.text.startswith("Neither BN nor no BN was usable") and "none with" not in neither.text
    only_bn = text.usable_lr_range(lr_sweep({"bn": 0.01, "plain": 0.001}), min_accuracy=0.9)
    assert "BN only 0.01; no BN none of the 4 tried" in only_bn.text
    assert "One seed only" not in only_bn.text
    one_seed = text.usable_lr_range(lr_sweep({"bn": 0.01, "plain": 0.001}, seeds=1), min_accuracy=0.9)
    assert "One seed only" in one_seed.text


# --- page 4: initial stds ------------------------------------------------------------------------------------


def std_sweep(good: dict[str, set], **kw) -> pd.DataFrame:
    values = (1e-4, 0.01, 1.0, 10.0)
    return sweep({v: [tuple(0.9 if v in good[r] else 0.1 for r in ("bn", "plain"))] * 2 for v in values}, **kw)


@pytest.mark.parametrize(
    ("bn", "plain", "words"),
    [
        ({0.01, 1.0}, {0.01, 1.0}, "BN did not widen the range"),
        ({1e-4, 0.01, 1.0}, {0.01, 1.0}, "BN widened it: only BN trained from std 0.0001."),
        ({0.01}, {0.01, 1.0}, "BN narrowed it: only no BN trained from std 1."),
        ({1e-4}, {1.0}, "Only BN trained from std 0.0001; only no BN from std 1."),
        ({1.0}, set(), "BN 1 of 4 (1), no BN 0 of 4. Only BN trained at all."),
        (set(), {0.01}, "BN 0 of 4, no BN 1 of 4 (0.01). Only no BN trained at all."),
    ],
)
def test_init_range_is_computed_from_the_sets(bn, plain, words):
    found = text.init_std_range(std_sweep({"bn": bn, "plain": plain}), min_accuracy=0.8)
    assert words in found.text and found.numbers["bn_good"] == len(bn)
    assert f"BN {len(bn)} of 4" in found.text


def test_init_range_with_no_good_std():
    found = text.init_std_range(std_sweep({"bn": set(), "plain": set()}), min_accuracy=0.8)
    assert found.text.startswith("Neither BN nor no BN reached")


def test_failures_read_the_loss_against_ln10_on_both_sides_of_each_line():
    def reading(loss: float) -> str:
        p = sweep({10.0: [(0.95, 0.15)] * 2}, plain_loss=loss)
        return text.failures(p, "plain", noun="std", min_accuracy=0.8).text

    assert "nothing got through" in reading(LN10 * 1.019)
    assert "nothing got through" not in reading(LN10 * 1.021)
    assert "confident where it is wrong" in reading(LN10 * 1.51)
    assert "confident where it is wrong" not in reading(LN10 * 1.49)
    assert "std 10: 15.0% ± 0.0%, test loss 6.40" in reading(6.4)  # what the run measured, not "ln 10"


def test_failures_say_nothing_of_good_or_diverged_values():
    p = sweep({0.01: [(0.95, 0.95)] * 2, 10.0: [(0.95, "x")] * 2})
    assert not text.failures(p, "plain", noun="std", min_accuracy=0.8)


def test_output_layer_reason_needs_bn_failing_at_the_top_with_a_huge_first_loss():
    good = {"bn": {1e-4, 0.01, 1.0}, "plain": {1e-4, 0.01, 1.0}}
    huge = std_sweep(good, first=3 * LN10)
    found = text.output_layer_reason(huge, min_accuracy=0.8)
    assert (
        found.text.startswith("At std 10 BN did not reach 80% in every seed either.") and "output layer" in found.text
    )
    assert found.numbers["first_loss"] == pytest.approx(3 * LN10)
    assert not text.output_layer_reason(std_sweep(good, first=1.9 * LN10), min_accuracy=0.8)
    assert not text.output_layer_reason(std_sweep({"bn": {0.01, 10.0}, "plain": {0.01}}, first=50.0), min_accuracy=0.8)


def test_output_layer_reason_says_bn_only_avoided_the_divergence():
    p = sweep({1.0: [(0.9, 0.9)] * 2, 10.0: [(0.5, "x")] * 2}, first=40.0)
    found = text.output_layer_reason(p, min_accuracy=0.8)
    assert "(it avoided no BN's divergence there, nothing more)" in found.text
    no_divergence = sweep({1.0: [(0.9, 0.9)] * 2, 10.0: [(0.5, 0.3)] * 2}, first=40.0)
    assert "avoided" not in text.output_layer_reason(no_divergence, min_accuracy=0.8).text
    plain_trained = sweep({1.0: [(0.9, 0.9)] * 2, 10.0: [(0.5, 0.85)] * 2}, first=40.0)
    assert "every seed." in text.output_layer_reason(plain_trained, min_accuracy=0.8).text  # no "either"


def test_no_page_calls_a_different_net_the_same_network():
    assert text.network_phrase(layers=3, width=100, activation="sigmoid") == (
        "a net of 3 hidden layers of 100 sigmoid units (the note's has one hidden layer of 256 relu units)"
    )
    assert text.network_phrase(layers=1, width=256, activation="relu").startswith("the note's network")
    assert "1 hidden layer of 100 relu" in text.network_phrase(layers=1, width=100, activation="relu")


# --- advice that fits the settings ---------------------------------------------------------------------------


def test_lr_advice_never_suggests_what_is_already_set():
    full = text.lr_try_next(layers=1, max_layers=4, activation="relu", steps=300, seeds=1).text
    assert "add hidden layers (now 1)" in full and "switch to sigmoid" in full
    assert "raise the steps (now 300)" in full and "3 or more seeds (now 1)" in full
    done = text.lr_try_next(layers=4, max_layers=4, activation="sigmoid", steps=300, seeds=3).text
    assert "add hidden layers" not in done and "sigmoid" not in done and "seeds" not in done
    assert "raise the steps" in text.lr_try_next(layers=4, max_layers=4, activation="sigmoid", steps=5000, seeds=3).text
    assert not text.lr_try_next(layers=4, max_layers=4, activation="sigmoid", steps=5001, seeds=3)


def test_init_advice_fits_the_settings():
    assert "switch to relu" in text.init_try_next(layers=3, activation="sigmoid", steps=300, seeds=3).text
    relu_one = text.init_try_next(layers=1, activation="relu", steps=300, seeds=3).text
    assert "relu" not in relu_one and "one hidden layer" not in relu_one


def test_batch_advice_never_suggests_a_smallest_batch_of_2_when_it_is_2():
    common = {"min_smallest": 2, "max_lr": 30.0, "seeds": 3}
    assert "a smallest batch of 2 (now 4)" in text.batch_try_next(smallest=4, lr=0.1, budget="steps", **common).text
    at_two = text.batch_try_next(smallest=2, lr=30.0, budget="steps", **common).text
    assert "smallest batch" not in at_two and "larger learning rate" not in at_two
    assert "fixed examples seen instead of fixed steps" in at_two
    assert "fixed steps instead" in text.batch_try_next(smallest=2, lr=30.0, budget="examples", **common).text


# --- page 5: inference -------------------------------------------------------------------------------------


METHODS = {"running": "R", "batch": "B", "biased": "1/m", "recomputed": "recomputed", "reset": "reset"}


def test_running_against_batch_statistics_is_decided_from_the_spread():
    a = analysis(
        {
            4: {"running": [0.81, 0.80, 0.82], "batch": [0.71, 0.70, 0.72], "reset": [0.7, 0.7, 0.7]},
            256: {"running": [0.953, 0.952, 0.954], "batch": [0.952, 0.953, 0.953], "reset": [0.9, 0.9, 0.9]},
        }
    )
    first, last, rest = text.inference_findings(a, methods=METHODS, one_seed_noise=0.003)
    assert first.text.startswith(
        "Eval mode's test accuracy at batch size 4 was higher than train mode's by 10.00 points"
    )
    assert last.text.startswith("Eval mode and train mode: test accuracy at batch size 256 within seed-to-seed noise")
    assert "(batch size 4 / 256): reset: 70.0% ± 0.0% / 90.0% ± 0.0%." in rest.text


def test_inference_findings_of_one_batch_size_and_of_none():
    a = analysis({16: {"running": [0.9], "batch": [0.85]}})
    (only,) = text.inference_findings(a, methods=METHODS, one_seed_noise=0.003)
    assert "at batch size 16 was higher" in only.text and "(one seed" in only.text
    assert text.inference_findings(a.iloc[0:0], methods=METHODS, one_seed_noise=0.003) == []


def test_variance_factor_states_m_over_m_minus_1_and_its_measured_effect():
    a = analysis({4: {"running": [0.81, 0.80, 0.82], "biased": [0.80, 0.79, 0.83], "batch": [0.7] * 3}, 16: {}})
    found = text.variance_factor(a, one_seed_noise=0.003)
    assert found.text.startswith("At batch size 4 the running variance averages 4/3 = 1.33 × σ²_B")
    assert "gave 81.0% ± 1.0%; with the factor taken out (the 1/m variance) 80.7% ± 2.1%" in found.text
    assert "within seed-to-seed noise: the factor helped in 2 of 3 seeds only." in found.text
    assert found.numbers["factor"] == pytest.approx(4 / 3)
    helped = text.variance_factor(analysis({8: {"running": [0.9, 0.91], "biased": [0.8, 0.81]}}), one_seed_noise=0.003)
    assert "8/7 = 1.14" in helped.text and "the factor was worth 10.00 points, in 2 of 2 seeds." in helped.text
    cost = text.variance_factor(analysis({8: {"running": [0.8], "biased": [0.81]}}), one_seed_noise=0.003)
    assert "(one seed): the factor cost 1.00 points." in cost.text
    small = text.variance_factor(analysis({8: {"running": [0.8], "biased": [0.802]}}), one_seed_noise=0.003)
    assert "the difference, 0.20 points, is within seed-to-seed noise (0.30 points)." in small.text
    assert not text.variance_factor(analysis({4: {"running": [0.8]}}), one_seed_noise=0.003)


def test_by_value_table_matches_numpy():
    bn, plain = [0.97, 0.96, math.nan], [0.95, 0.97, 0.94]
    p = sweep({0.1: [(0.97, 0.95), (0.96, 0.97), ("x", 0.94)]})
    table = by_value(p).set_index("run")
    assert table.loc["bn", "test_accuracy_mean"] == pytest.approx(np.nanmean(bn))
    assert table.loc["bn", "test_accuracy_sd"] == pytest.approx(np.nanstd(bn, ddof=1))
    assert table.loc["plain", "test_accuracy_min"] == min(plain) and table.loc["plain", "test_accuracy_max"] == max(
        plain
    )
    assert table.loc["bn", "diverged_seeds"] == 1 and table.loc["bn", "seeds"] == 3
    assert table.loc["bn", "ahead_seeds"] == 1 and table.loc["plain", "ahead_seeds"] == 1
    assert table.loc["bn", "compared_seeds"] == 2
