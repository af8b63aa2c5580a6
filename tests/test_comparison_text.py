"""The sentences of the home page and lessons 1, 2 and 8, on small hand-made results: the wording on both
sides of every threshold, and silence where the numbers cannot carry a sentence (diverged, too few
steps, within the seeds' spread)."""

import math

import numpy as np
import pandas as pd
import pytest

from bn_demo.core.config import FIT_EVAL_MODE, TrainConfig
from bn_demo.core.results import RunResult
from bn_demo.views import comparison_text as ct
from bn_demo.views.verdicts import SILENT


def make_run(
    norm: str = "bn",
    *,
    seed: int = 0,
    steps: int = 500,
    accuracy: float = 0.96,
    loss: float = 0.14,
    ms: float = 3.0,
    diverged_at: int | None = None,
    train_size: int = 0,
    fit: tuple[float, float] = (1.0, 0.002),  # final accuracy and loss on the training subset
    var: tuple[float, float] = (1.0, 1.0),
    p50: tuple[float, float] = (0.0, 0.0),
    width: tuple[float, float] = (2.0, 2.0),
    unit_drift: float = 0.0,  # every unit's change of mean
    unit_var: float = 1.0,  # every unit's variance at the first record
    name: str | None = None,
) -> RunResult:
    """A run of `steps` steps with two records (first and last step) of one hidden layer of 4 units."""
    config = TrainConfig(
        norm=norm if norm != "dropout" else "plain", seed=seed, steps=max(steps, 1), train_size=train_size
    )
    trained = diverged_at if diverged_at is not None else steps
    record_steps = [0, max(trained - 1, 0)] if trained >= 2 else ([0] if trained == 1 else [])
    k = len(record_steps)
    history = pd.DataFrame(
        {"step": record_steps, "train_loss": [2.3, loss][:k] if k == 2 else [2.3] * k, "train_accuracy": [0.1] * k}
    )
    rows = []
    for i, step in enumerate(record_steps):
        j = 0 if i == 0 else 1
        centre, half = p50[j], width[j] / 2
        for prefix in ("", "bn_in_") if norm != "plain" else ("",):
            values = {"mean": 0.0, "var": var[j], "p15": centre - half, "p50": centre, "p85": centre + half}
            rows += [(step, 1, prefix + q, v) for q, v in values.items()]
    layers = pd.DataFrame(rows, columns=["step", "layer", "quantity", "value"])
    unit_rows = [(step, 1, u, unit_drift * (i > 0), unit_var) for i, step in enumerate(record_steps) for u in range(4)]
    units = pd.DataFrame(unit_rows, columns=["step", "layer", "unit", "mean", "var"])
    evals = [(s, "eval", loss, accuracy) for s in record_steps]
    if train_size:
        evals += [(s, FIT_EVAL_MODE, fit[1], fit[0]) for s in record_steps]
    diverged = diverged_at is not None
    return RunResult(
        name=name or norm,
        config=config,
        steps=trained,
        seconds=ms / 1000 * trained,
        diverged=diverged,
        diverged_at=diverged_at,
        test_loss=math.nan if diverged else loss,
        test_accuracy=math.nan if diverged else accuracy,
        train_loss=loss,
        tables={
            "history": history,
            "layers": layers,
            "units": units,
            "evals": pd.DataFrame(evals, columns=["step", "mode", "loss", "accuracy"]),
            "snapshots": pd.DataFrame(columns=["step", "layer", "value"]),
        },
    )


def seeds(*pairs: tuple[dict, dict], **common) -> list[dict[str, RunResult]]:
    """One {bn, plain} comparison per seed from (bn kwargs, plain kwargs)."""
    return [
        {"bn": make_run("bn", seed=i, **common, **a), "plain": make_run("plain", seed=i, **common, **b)}
        for i, (a, b) in enumerate(pairs)
    ]


# ---- accuracy ------------------------------------------------------------------------------------------------


def test_accuracy_gap_beyond_the_spread_names_the_winner():
    per_seed = seeds(*[({"accuracy": 0.960 + d}, {"accuracy": 0.950 + d}) for d in (0.0, 0.001, -0.001)])
    finding = ct.accuracy_verdict(per_seed)
    assert "BN's final test accuracy was higher than no BN's by 1.00 points, in 3 of 3 seeds" in finding.text
    assert finding.numbers["gap"] == pytest.approx(0.01)


def test_accuracy_gap_within_the_spread_names_no_winner():
    per_seed = seeds(({"accuracy": 0.962}, {"accuracy": 0.950}), ({"accuracy": 0.950}, {"accuracy": 0.960}))
    finding = ct.accuracy_verdict(per_seed)
    assert "within seed-to-seed noise" in finding.text and "higher than" not in finding.text


@pytest.mark.parametrize(("gap", "decided"), [(0.004, True), (0.002, False)])  # one seed's noise: 0.3 points
def test_one_seed_decides_only_a_gap_above_the_typical_spread(gap, decided):
    finding = ct.accuracy_verdict(seeds(({"accuracy": 0.95 + gap}, {"accuracy": 0.95})))
    assert ("higher than no BN's" in finding.text) is decided
    assert ("run 3 or more seeds" in finding.text) is not decided


@pytest.mark.parametrize(("steps", "silent"), [(49, True), (50, False)])
def test_no_accuracy_verdict_after_too_few_steps(steps, silent):
    finding = ct.accuracy_verdict(seeds(({"accuracy": 0.9}, {"accuracy": 0.8}), steps=steps))
    assert (finding == SILENT) is silent


def test_accuracy_verdict_skips_diverged_seeds_and_is_silent_when_one_net_always_diverged():
    always = seeds(({}, {"diverged_at": 3}), ({}, {"diverged_at": 5}))
    assert ct.accuracy_verdict(always) == SILENT
    sometimes = seeds(({"accuracy": 0.96}, {"diverged_at": 3}), ({"accuracy": 0.96}, {"accuracy": 0.90}))
    assert ct.accuracy_verdict(sometimes).numbers["n"] == 1
    assert ct.accuracy_verdict([{"bn": make_run("bn")}]) == SILENT  # one net: nothing to compare


def test_net_finding_quotes_its_numbers_and_says_when_it_diverged():
    per_seed = seeds(({"accuracy": 0.96, "var": (1.0, 1.2)}, {}), ({"accuracy": 0.98, "var": (1.0, 1.4)}, {}))
    finding = ct.net_finding(per_seed, "bn")
    assert "test accuracy 97.00% ± 1.41% after 500 steps" in finding.text
    assert "went from 1 to 1.3 (mean over 2 seeds)" in finding.text
    diverged = seeds(({}, {"diverged_at": 3}))
    assert ct.net_finding(diverged, "plain").text == "diverged at step 3."
    same = seeds(({}, {"diverged_at": 3}), ({}, {"diverged_at": 3}), ({}, {"diverged_at": 5}))
    assert "diverged in 3 of 3 seeds (at steps 3, 5)" in ct.net_finding(same, "plain").text
    partly = seeds(({}, {"diverged_at": 3}), ({}, {}))
    assert "diverged in 1 of 2 seeds (at step 3)" in ct.net_finding(partly, "plain").text
    nothing = seeds(({"steps": 1}, {}))
    assert ct.net_finding(nothing, "bn").text == "stopped before two steps were recorded."


# ---- cost of BN ------------------------------------------------------------------------------------------------


def test_cost_of_bn_beyond_the_timings_spread():
    per_seed = seeds(*[({"ms": 3.0 * r}, {"ms": 3.0}) for r in (1.28, 1.30, 1.32)])
    finding = ct.cost_of_bn(per_seed)
    assert "BN took 1.30 ± 0.02× the time of no BN" in finding.text
    assert finding.numbers["ratio"] == pytest.approx(1.30)


@pytest.mark.parametrize(
    ("ratios", "words"),
    [
        ((1.06,), "BN took 1.06×"),
        ((1.04,), "about as long"),
        ((1.2, 0.9, 1.2), "about as long"),  # not slower in every seed
        ((0.8,), "quicker here (0.80×)"),
    ],
)
def test_cost_of_bn_words_follow_the_ratio_and_its_noise(ratios, words):
    finding = ct.cost_of_bn(seeds(*[({"ms": 3.0 * r}, {"ms": 3.0}) for r in ratios]))
    assert words in finding.text


@pytest.mark.parametrize(("steps", "silent"), [(99, True), (100, False)])
def test_cost_of_bn_needs_enough_steps(steps, silent):
    assert (ct.cost_of_bn(seeds(({"ms": 6.0}, {}), steps=steps)) == SILENT) is silent


def test_no_cost_of_bn_from_a_diverged_run():
    """ "Cost of BN 2.25×" came from the two steps a diverged run made."""
    per_seed = seeds(({"ms": 4.5}, {"ms": 2.0, "diverged_at": 2}))
    assert ct.cost_of_bn(per_seed) == SILENT
    mixed = seeds(({"ms": 4.5}, {"ms": 2.0, "diverged_at": 2}), ({"ms": 3.3}, {"ms": 3.0}))
    assert ct.cost_of_bn(mixed).numbers["n"] == 1 and ct.cost_of_bn(mixed).numbers["ratio"] == pytest.approx(1.1)


# ---- try next ------------------------------------------------------------------------------------------------


def advice(**settings) -> str:
    seeds_ = settings.pop("seeds", 3)
    names = settings.pop("names", ("bn", "plain"))
    return ct.try_next(TrainConfig(**settings), seeds=seeds_, names=names).text


@pytest.mark.parametrize(("lr", "expected"), [(0.1, "to 1 "), (1.0, "to 3 "), (3.0, "to 10 ")])
def test_try_next_raises_the_learning_rate_above_the_current_one(lr, expected):
    text = advice(lr=lr)
    assert f"raise the learning rate {expected}" in text
    assert f"learning rate to {lr:g} " not in text


@pytest.mark.parametrize("lr", [10.0, 30.0])
def test_try_next_lowers_a_learning_rate_that_cannot_go_higher(lr):
    assert "lower the learning rate to 0.1" in advice(lr=lr) and "raise the learning rate" not in advice(lr=lr)


@pytest.mark.parametrize(("batch", "shrink"), [(128, True), (8, True), (4, False), (2, False)])
def test_try_next_shrinks_the_batch_only_when_it_is_larger_than_4(batch, shrink):
    text = advice(batch_size=batch)
    assert ("shrink the batch to 4" in text) is shrink
    assert ("raise the batch to 128" in text) is not shrink


def test_try_next_fits_init_seeds_and_nets():
    assert "pick the gaussian initialization" in advice()
    assert "lower the gaussian std to 0.001" in advice(init="gaussian", init_std=1.0)
    assert "raise the gaussian std to 1" in advice(init="gaussian", init_std=0.001)
    assert "run 3 seeds" in advice(seeds=1) and "run 3 seeds" not in advice(seeds=3)
    only_plain = advice(names=("plain",))
    assert "batch" not in only_plain and "train both nets" in only_plain


def test_ics_and_regularisation_advice_fit_their_settings():
    assert "switch to sigmoid" in ct.ics_try_next(TrainConfig()).text
    sigmoid = ct.ics_try_next(TrainConfig(activation="sigmoid", lr=10.0, hidden=(256,) * 4)).text
    assert "sigmoid" not in sigmoid.split("and see")[0] and "lower the learning rate" in sigmoid
    small = ct.regularisation_try_next(TrainConfig(train_size=1000, batch_size=32, steps=1000)).text
    assert "5,000 images instead of 1,000" in small and "double the steps" in small
    big = ct.regularisation_try_next(TrainConfig(train_size=5000, batch_size=8, steps=4000)).text
    assert "500 images instead of 5,000" in big and "halve the steps" in big and "batches of 128" in big


# ---- internal covariate shift ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "text"),
    [
        (2.039, 1.921, "narrowed from 2.04 to 1.92"),  # the page once said "widened" here
        (1.0, 1.06, "widened from 1 to 1.06"),
        (1.0, 0.94, "narrowed from 1 to 0.94"),
        (1.0, 1.04, "kept its width (1 → 1.04)"),
        (1.0, 0.96, "kept its width (1 → 0.96)"),
        (0.0, 1.0, ""),
        (1.0, float("nan"), ""),
    ],
)
def test_width_change_words_follow_the_sign(first, last, text):
    assert ct.width_change(first, last) == text


def ics_seeds(bn_drifts, plain_drifts, **common):
    return seeds(
        *[({"unit_drift": a}, {"unit_drift": b}) for a, b in zip(bn_drifts, plain_drifts, strict=True)], **common
    )


def test_ics_verdict_names_the_net_that_drifted_less_beyond_the_spread():
    finding = ct.ics_verdict(ics_seeds([0.005, 0.006, 0.004], [8.0, 7.5, 8.5]), 1)
    assert "BN's average drift of layer 1's unit means" in finding.text and "was lower than no BN's" in finding.text
    assert finding.numbers["gap"] == pytest.approx(0.005 - 8.0)


def test_ics_verdict_is_noise_for_1_66_against_1_83():
    """ "Steadier with BN" was once printed for 1.66 vs 1.83."""
    several = ct.ics_verdict(ics_seeds([1.66, 1.9, 1.5], [1.83, 1.7, 1.9]), 1)
    assert "within seed-to-seed noise" in several.text and "lower than" not in several.text
    one = ct.ics_verdict(ics_seeds([1.66], [1.83]), 1)  # one seed must beat 10% of 1.83
    assert "within seed-to-seed noise" in one.text
    clear = ct.ics_verdict(ics_seeds([1.0], [1.83]), 1)
    assert "was lower than no BN's" in clear.text


def test_ics_verdict_is_silent_after_too_few_steps_or_when_a_net_always_diverged():
    assert ct.ics_verdict(ics_seeds([0.0], [5.0], steps=40), 1) == SILENT
    assert ct.ics_verdict(seeds(({}, {"diverged_at": 1})), 1) == SILENT


def test_ics_moves_are_in_band_widths_so_that_scales_compare():
    """A median moving by 2 on a band 4 wide (before BN) and by 0.1 on a band 1 wide (after) are 0.5 and 0.1
    band widths: comparing 2 with 0.1 would compare two scales."""
    run = make_run("bn", p50=(0.0, 2.0), width=(4.0, 4.0))
    after = make_run("bn", p50=(0.0, 0.1), width=(1.0, 1.0))
    # BN's input and output share the hand-made run's numbers; give BN's output its own
    layers = run.layers.copy()
    output = ~layers["quantity"].str.startswith("bn_in_")
    layers.loc[output, "value"] = after.layers.loc[~after.layers["quantity"].str.startswith("bn_in_"), "value"].values
    run.tables["layers"] = layers
    finding = ct.bn_before_after([{"bn": run}], 1)
    assert finding.numbers["moved_in_widths"] == pytest.approx(0.5)
    assert finding.numbers["moved_out_widths"] == pytest.approx(0.1)
    assert "moved by 0.50 band widths before BN and 0.10 after it" in finding.text
    net = ct.ics_net_finding([{"bn": run}], "bn", 1)
    assert net.numbers["median_moved_widths"] == pytest.approx(0.1)
    assert "kept its width" in net.text


def test_ics_drift_is_in_first_standard_deviations():
    run = make_run("plain", unit_drift=0.6, unit_var=0.04)  # moved by 0.6 where the std was 0.2: 3 stds
    assert ct.mean_relative_drift(run, 1) == pytest.approx(3.0)
    assert (
        "moved by 3.000 of the layer's first standard deviation"
        in ct.ics_net_finding([{"plain": run}], "plain", 1).text
    )


# ---- regularisation --------------------------------------------------------------------------------------------


def fit_seeds(bn: list[tuple[float, float]], plain: list[tuple[float, float]], **common):
    """Per seed, (test accuracy, test loss) of BN and no BN; both fit their 1,000 images to 100%, loss 0.002."""
    return [
        {
            "bn": make_run("bn", seed=i, train_size=1000, accuracy=a[0], loss=a[1], **common),
            "plain": make_run("plain", seed=i, train_size=1000, accuracy=b[0], loss=b[1], **common),
        }
        for i, (a, b) in enumerate(zip(bn, plain, strict=True))
    ]


def test_gap_verdict_on_the_final_train_test_gap():
    per_seed = fit_seeds([(0.905, 0.33), (0.903, 0.34), (0.906, 0.32)], [(0.910, 0.35), (0.909, 0.36), (0.911, 0.34)])
    accuracy = ct.gap_verdict(per_seed, "bn", "accuracy_gap")
    assert "BN's train − test accuracy gap was higher than no BN's by 0.53 points, in 3 of 3 seeds" in accuracy.text
    loss = ct.gap_verdict(per_seed, "bn", "loss_gap")
    assert "BN's test − train loss gap was lower than no BN's by 0.020 nats" in loss.text
    assert "disagree" in ct.regularisation_conclusion(per_seed).text


@pytest.mark.parametrize(
    ("bn", "plain", "words"),
    [
        ((0.92, 0.30), (0.90, 0.40), "overfit less than no BN on both measures"),
        ((0.88, 0.45), (0.90, 0.40), "overfit more than no BN on both measures"),
        ((0.9001, 0.4001), (0.90, 0.40), "Neither gap differs beyond seed-to-seed noise"),
    ],
)
def test_regularisation_conclusion_follows_both_outcomes(bn, plain, words):
    assert words in ct.regularisation_conclusion(fit_seeds([bn], [plain])).text


@pytest.mark.parametrize(("difference", "decided"), [(0.003, True), (0.001, False)])  # one seed's noise: 0.2 points
def test_one_seed_gap_verdict_needs_a_gap_above_the_typical_spread(difference, decided):
    finding = ct.gap_verdict(fit_seeds([(0.90 - difference, 0.3)], [(0.90, 0.3)]), "bn", "accuracy_gap")
    assert ("higher than no BN's" in finding.text) is decided


def test_gap_verdict_is_silent_without_a_subset_after_too_few_steps_or_diverged():
    full = seeds(({"accuracy": 0.9}, {"accuracy": 0.8}))
    assert ct.gap_verdict(full, "bn", "accuracy_gap") == SILENT
    assert ct.gap_verdict(fit_seeds([(0.9, 0.3)], [(0.8, 0.3)], steps=20), "bn", "accuracy_gap") == SILENT
    diverged = [{"bn": make_run("bn", train_size=1000), "plain": make_run("plain", train_size=1000, diverged_at=4)}]
    assert ct.gap_verdict(diverged, "bn", "accuracy_gap") == SILENT
    assert ct.regularisation_conclusion(diverged) == SILENT


def test_fit_finding_quotes_the_subset_the_test_set_and_the_gap():
    per_seed = fit_seeds([(0.905, 0.33)], [(0.91, 0.35)])
    text = ct.fit_finding(per_seed, "bn").text
    assert text == (
        "100.0% on its 1,000 training images, 90.5% on the 10,000 test images: a gap of 9.50 points "
        "(test loss − training loss +0.328)."
    )


# ---- home and shared -------------------------------------------------------------------------------------------


def test_stored_summary_says_paired_only_for_a_pair():
    pair = {"bn": make_run("bn", accuracy=0.97), "plain": make_run("plain", accuracy=0.965)}
    text = ct.stored_summary(pair).text
    assert "paired" in text and "**BN**: 97.0% test accuracy · **no BN**: 96.5% test accuracy" in text
    assert "paired" not in ct.stored_summary({"bn": pair["bn"]}).text
    assert ct.stored_summary({}) == SILENT


@pytest.mark.parametrize(
    ("steps", "batch", "images", "expected"),
    [
        (500, 128, 60000, "500 steps of 128 = 1.07 epochs (468 full batches per epoch; the last 96 images"),
        (600, 100, 60000, "600 steps of 100 = 1 epoch (600 full batches per epoch)"),
        (1000, 32, 1000, "1,000 steps of 32 = 32.3 epochs (31 full batches per epoch; the last 8 images"),
    ],
)
def test_epoch_text_counts_full_batches(steps, batch, images, expected):
    assert ct.epoch_text(steps, batch, images).startswith(expected)
    assert np.floor(images / batch) == int(expected.split("(")[1].split(" ")[0].replace(",", ""))
