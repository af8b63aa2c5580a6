"""The sentences of pages 6 and 7 (bn_demo.views.research_text) on hand-made results: the wording on both sides of
every threshold (a gap beyond the seeds' spread, within it, one seed against the typical spread), and the cases
that must say nothing or give no number (diverged, stopped, too few steps or probes)."""

import math

import numpy as np
import pytest

from bn_demo.views import research_text as rt
from tests import fake_runs as f

EVALS_BN_FIRST = [(0, 0.1), (100, 0.91), (200, 0.96)]
EVALS_PLAIN = [(0, 0.1), (100, 0.5), (200, 0.92), (300, 0.955)]


def flat(value: float = 0.0, n: int = 100) -> dict[str, np.ndarray]:
    return {q: np.full(n, value) for q in ("p15", "p50", "p85")}


def wiggle(amplitude: float, n: int = 100) -> dict[str, np.ndarray]:
    """Percentiles that alternate by `amplitude` every record: summed jitter 3 * amplitude."""
    return {q: np.tile([0.0, amplitude], n // 2) for q in ("p15", "p50", "p85")}


def ramp(height: float, n: int = 100, early: bool = False) -> dict[str, np.ndarray]:
    """Percentiles rising by `height`, evenly, or all within the first tenth (early)."""
    values = (
        np.r_[np.linspace(0, height, n // 10), np.full(n - n // 10, height)] if early else np.linspace(0, height, n)
    )
    return dict.fromkeys(("p15", "p50", "p85"), values)


# ---- page 6 -----------------------------------------------------------------------------------------------------


def test_race_names_who_reached_each_target_first_in_every_seed():
    per_seed = [
        {"bn": f.run("bn", evals=EVALS_BN_FIRST, seed=i), "plain": f.run("plain", evals=EVALS_PLAIN, seed=i)}
        for i in range(3)
    ]
    text = rt.race_text(per_seed).text
    assert text == "BN reached 90% and 95% first in all 3 seeds; neither run reached 97% within 1,000 steps."
    assert (
        rt.race_text(per_seed[:1]).text == "BN reached 90% and 95% first; neither run reached 97% within 1,000 steps."
    )
    swapped = [{"bn": r["plain"], "plain": r["bn"]} for r in per_seed]
    assert rt.race_text(swapped, (0.9,)).text == "No BN reached 90% first in all 3 seeds."
    tie = [{"bn": f.run("bn", evals=EVALS_BN_FIRST), "plain": f.run("plain", evals=EVALS_BN_FIRST)}]
    assert rt.race_text(tie, (0.9,)).text == "Both reached 90% at the same evaluation."


def test_race_says_when_the_seeds_disagree():
    per_seed = [
        {"bn": f.run("bn", evals=EVALS_BN_FIRST), "plain": f.run("plain", evals=EVALS_PLAIN)},
        {"bn": f.run("bn", evals=EVALS_PLAIN), "plain": f.run("plain", evals=EVALS_BN_FIRST)},
        {"bn": f.run("bn", evals=[(0, 0.1)]), "plain": f.run("plain", evals=[(0, 0.1)])},
    ]
    finding = rt.race_text(per_seed, (0.9,))
    assert finding.text == "Who reached 90% first varied across seeds (BN in 1, no BN in 1 and neither in 1 of 3)."
    assert (finding.numbers["0.9_bn"], finding.numbers["0.9_plain"], finding.numbers["0.9_neither"]) == (1, 1, 1)
    assert not rt.race_text([])


def test_ioffe_verdict_names_bn_higher_only_beyond_the_seeds_spread():
    ahead = f.seeds({"bn": [0.976, 0.977, 0.975], "plain": [0.970, 0.971, 0.969]})
    text = rt.ioffe_findings(ahead).text
    assert "BN's final test accuracy was higher than no BN's by 0.60 points, in 3 of 3 seeds" in text
    assert "97.60% ± 0.10%" in text and "all 10,000 test images" in text
    assert "reached none of 90%, 95% or 97% (held-out evaluations)" in text
    reaching = f.seeds({"bn": [0.976, 0.977, 0.975], "plain": [0.970, 0.971, 0.969]}, evals=EVALS_BN_FIRST)
    assert "first reached 90% at step 100 (median of 3 seeds), 95% at step 200 (median of 3 seeds); never 97%" in (
        rt.ioffe_findings(reaching).text
    )
    behind = f.seeds({"bn": [0.970, 0.971, 0.969], "plain": [0.976, 0.977, 0.975]})
    assert "was lower than no BN's by 0.60 points" in rt.ioffe_findings(behind).text
    mixed = f.seeds({"bn": [0.976, 0.970, 0.975], "plain": [0.970, 0.975, 0.969]})  # BN behind in one seed
    text = rt.ioffe_findings(mixed).text
    assert "within seed-to-seed noise" in text and "BN was ahead in 2 of 3 seeds only" in text
    assert "higher than" not in text and "lower than" not in text


def test_one_seed_decides_only_a_gap_beyond_the_typical_spread():
    noise = rt.ONE_SEED_NOISE["ioffe_accuracy"]
    small = f.seeds({"bn": [0.970 + noise / 2], "plain": [0.970]})
    text = rt.ioffe_findings(small).text
    assert "which one seed cannot beat; run 3 or more seeds to decide it" in text and "higher than" not in text
    large = f.seeds({"bn": [0.970 + 2 * noise], "plain": [0.970]})
    assert "was higher than no BN's" in rt.ioffe_findings(large).text


def test_ioffe_findings_leave_out_diverged_and_stopped_seeds():
    per_seed = f.seeds({"bn": [0.976, 0.977, 0.975], "plain": [0.970, 0.971, 0.969]})
    per_seed[1]["bn"] = f.run("bn", seed=1, diverged_at=40)
    finding = rt.ioffe_findings(per_seed)
    assert "Diverged, and left out of every number: BN in 1 of 3 seeds." in finding.text
    assert finding.numbers["n"] == 2 and finding.numbers["a_mean"] == pytest.approx(0.9755)
    per_seed[2]["plain"] = f.run("plain", seed=2, stopped=True)
    assert rt.ioffe_findings(per_seed).numbers["seeds"] == 2  # the stopped seed is left out
    all_diverged = [{"bn": f.run("bn", diverged_at=0), "plain": f.run("plain")}]
    text = rt.ioffe_findings(all_diverged).text
    assert "n/a" in text and "higher" not in text and "lower" not in text
    assert not rt.ioffe_findings([]) and not rt.ioffe_findings([{"bn": f.run("bn", stopped=True)}])


def test_drift_verdict_from_the_seeds_spread_and_a_bounded_early_share():
    steady = [
        {
            "bn": f.run("bn", seed=i, percentiles=ramp(0.1)),
            "plain": f.run("plain", seed=i, percentiles=ramp(1 + i / 10, early=True)),
        }
        for i in range(3)
    ]
    finding = rt.drift_text(steady, layer=f.LAYER)
    assert "BN's summed drift was lower than no BN's" in finding.text and "**steadier with BN**" in finding.text
    assert "the median went from 0.00 to 0.10" in finding.text
    assert 0.9 <= finding.numbers["early_plain"] <= 1.0  # all of the plain net's movement was in the first tenth
    assert finding.numbers["early_bn"] == pytest.approx(0.2, abs=0.02)  # an even ramp: the first fifth's share
    assert "an even pace would give 20%" in finding.text
    unsteady = [{"bn": r["plain"], "plain": r["bn"]} for r in steady]
    assert "**not steadier with BN**" in rt.drift_text(unsteady, layer=f.LAYER).text
    same = [
        {
            "bn": f.run("bn", seed=i, percentiles=ramp(1.0 + (i == 1) * 0.2)),
            "plain": f.run("plain", seed=i, percentiles=ramp(1.0 + (i != 1) * 0.1)),
        }
        for i in range(3)
    ]
    text = rt.drift_text(same, layer=f.LAYER).text
    assert "within seed-to-seed noise" in text and "steadier" not in text


def test_drift_text_guards():
    few = [{n: f.run(n, percentiles=ramp(1.0, n=10), records=10) for n in ("bn", "plain")}]
    assert "How early" not in rt.drift_text(few, layer=f.LAYER).text  # 10 records cannot time a drift
    diverged = [{"bn": f.run("bn", diverged_at=0), "plain": f.run("plain", percentiles=ramp(1.0))}]
    text = rt.drift_text(diverged, layer=f.LAYER).text
    assert "- **BN**: diverged at step 0." in text and "steadier" not in text
    flat_runs = [{n: f.run(n, percentiles=flat()) for n in ("bn", "plain")}]
    assert "the median did not move enough to time" in rt.drift_text(flat_runs, layer=f.LAYER).text
    assert "%" not in rt.drift_text(flat_runs, layer=f.LAYER).text.split("How early")[1].split("an even")[0]
    assert not rt.drift_text([], layer=f.LAYER)


# ---- page 7: noisy BN ---------------------------------------------------------------------------------------------


def noise_seeds(accuracy: dict[str, list[float]], jitter: dict[str, float] | None = None) -> list[dict]:
    jitter = jitter or {"bn": 0.1, "plain": 0.2, "noisy_bn": 1.0}
    n = len(accuracy["bn"])
    return [
        {name: f.run(name, seed=i, accuracy=accuracy[name][i], percentiles=wiggle(jitter[name])) for name in accuracy}
        for i in range(n)
    ]


LEVEL = {"bn": [0.960, 0.961, 0.962], "plain": [0.950, 0.951, 0.949], "noisy_bn": [0.961, 0.960, 0.963]}


def test_noisy_bn_level_with_bn_and_above_no_bn_supports_the_paper():
    finding = rt.noise_text(noise_seeds(LEVEL), layer=f.LAYER)
    assert "moved 5.0× as much per step as no BN's and 10.0× as much as BN's" in finding.text
    assert "Noisy BN and BN: test accuracy within seed-to-seed noise" in finding.text
    assert "Noisy BN's test accuracy was higher than no BN's by 1.13 points, in 3 of 3 seeds" in finding.text
    assert "stayed level with BN within seed-to-seed noise, and above no BN, as Santurkar et al. found" in finding.text
    above = {**LEVEL, "noisy_bn": [0.966, 0.967, 0.968]}
    assert "even ended above BN" in rt.noise_text(noise_seeds(above), layer=f.LAYER).text


def test_noisy_bn_between_or_at_no_bn_says_so():
    between = {**LEVEL, "noisy_bn": [0.955, 0.956, 0.954]}
    assert "Noisy BN ended between BN and no BN" in rt.noise_text(noise_seeds(between), layer=f.LAYER).text
    low = {**LEVEL, "noisy_bn": [0.950, 0.949, 0.951]}
    text = rt.noise_text(noise_seeds(low), layer=f.LAYER).text
    assert "Noisy BN did no better than no BN here" in text and "Santurkar et al. found" not in text


def test_one_seed_within_the_typical_spread_draws_no_conclusion():
    noise = rt.ONE_SEED_NOISE["noise_accuracy"]
    one = {"bn": [0.960], "plain": [0.950], "noisy_bn": [0.960 - noise / 2]}
    text = rt.noise_text(noise_seeds(one), layer=f.LAYER).text
    assert "one seed cannot beat" in text and "Santurkar et al. found" not in text and "ended between" not in text
    decided = {"bn": [0.960], "plain": [0.960 - 3 * noise], "noisy_bn": [0.960 + 2 * noise]}
    assert "even ended above BN" in rt.noise_text(noise_seeds(decided), layer=f.LAYER).text


def test_no_jitter_ratio_from_a_diverged_run_or_a_still_one():
    per_seed = noise_seeds(LEVEL)
    per_seed[0]["plain"] = f.run("plain", diverged_at=3)
    text = rt.noise_text(per_seed, layer=f.LAYER).text
    assert "× as much" not in text and "Diverged, and left out of every number: no BN in 1 of 3 seeds." in text
    still = rt.noise_text(noise_seeds(LEVEL, {"bn": 0.1, "plain": 0.0, "noisy_bn": 1.0}), layer=f.LAYER)
    assert "× as much" not in still.text and "jitter_vs_plain" not in still.numbers
    assert not rt.noise_text([], layer=f.LAYER)


# ---- page 7: ICS three ways -----------------------------------------------------------------------------------


def ics(bn: tuple[float, float, float, float], plain: tuple[float, float, float, float], n: int = 3, **kw):
    """(l2, relative, cosine, grad_norm) of each run at every probe, the same in every seed but for a small
    seed-to-seed wobble so that the spread across seeds is not zero."""
    keys = ("l2", "relative", "cosine", "grad_norm")
    out = []
    for i in range(n):
        wobble = 0.001 * i
        values = {("bn", k): v + wobble for k, v in zip(keys, bn, strict=True)}
        values |= {("plain", k): v - wobble for k, v in zip(keys, plain, strict=True)}
        out.append(f.probed(f.ics_probes(values, **kw), seed=i))
    return out


def test_ics_verdict_rests_on_the_scale_free_measures():
    reduced = rt.ics_text(ics((0.13, 0.60, 0.90, 0.20), (0.09, 0.70, 0.80, 0.13)))
    assert "BN **reduced** ICS at layers 2, 3 and 4" in reduced.text
    change, size = 0.131 / 0.089, 0.201 / 0.129  # means over seeds of the wobbled values
    assert (
        f"absolute change ‖G − G′‖ was {change:.2f}× no BN's with BN, while the gradient ‖G‖ itself was "
        f"{size:.2f}× as large" in reduced.text
    )
    assert reduced.numbers["reduced"] == 3
    increased = rt.ics_text(ics((0.09, 0.70, 0.80, 0.13), (0.13, 0.60, 0.90, 0.20)))
    assert "BN **increased** ICS at layers 2, 3 and 4" in increased.text
    disagree = rt.ics_text(ics((0.13, 0.60, 0.80, 0.20), (0.09, 0.70, 0.90, 0.13)))  # lower change, lower cosine
    assert "At layers 2, 3 and 4 the two measures disagree or the gap is within seed-to-seed noise." in disagree.text
    assert "reduced" not in disagree.text.split("**In this run:**")[1]


def test_ics_one_seed_and_guards():
    noise = rt.ONE_SEED_NOISE
    within = rt.ics_text(ics((0.1, 0.6, 0.9, 0.2), (0.1, 0.6 + noise["relative"] / 2, 0.9, 0.2), n=1))
    assert "the typical spread of one seed, which one run cannot decide" in within.text
    beyond = rt.ics_text(
        ics((0.1, 0.6, 0.9, 0.2), (0.1, 0.6 + 2 * noise["relative"], 0.9 - 2 * noise["cosine"], 0.2), n=1)
    )
    assert "BN **reduced** ICS" in beyond.text
    few = ics((0.1, 0.6, 0.9, 0.2), (0.1, 0.7, 0.8, 0.2), probes=2)
    assert not rt.ics_text(few)  # two probes give no median worth a sentence
    diverged = ics((0.1, 0.6, 0.9, 0.2), (0.1, 0.7, 0.8, 0.2))
    diverged = [f.probed(p.probes, diverged="bn", seed=i) for i, p in enumerate(diverged)]
    text = rt.ics_text(diverged).text
    assert "reduced" not in text and "increased" not in text and "disagree" not in text  # nothing from a diverged run
    assert "×" not in text
    assert not rt.ics_text([])


# ---- page 7: loss landscape ---------------------------------------------------------------------------------


def landscape(bn_loss, plain_loss, bn_l, plain_l, n: int = 3, probes: int = 5):
    out = []
    for i in range(n):
        w = 0.001 * i
        values = {
            ("bn", "loss"): (1.0, 1.0 + bn_loss + w),
            ("plain", "loss"): (1.0, 1.0 + plain_loss - w),
            ("bn", "grad_change"): (0.1, 0.2),
            ("plain", "grad_change"): (0.1, 0.3),
            ("bn", "smoothness"): (0.5, bn_l + w),
            ("plain", "smoothness"): (0.5, plain_l - w),
        }
        out.append(f.probed(f.landscape_probes(values, probes=probes), seed=i))
    return out


def test_landscape_smoother_only_when_both_measures_say_so():
    smoother = rt.landscape_text(landscape(0.1, 0.3, 1.3, 2.0))
    assert "narrower than no BN's in all 3 seeds" in smoother.text and "**smoother with BN**" in smoother.text
    assert smoother.numbers["loss_range_gap"] == pytest.approx(-0.2 + 0.002)  # mean of the wobbled gaps
    rougher = rt.landscape_text(landscape(0.3, 0.1, 2.0, 1.3))
    assert "**not smoother with BN**" in rougher.text and "wider" in rougher.text and "larger" in rougher.text
    mixed = rt.landscape_text(landscape(0.1, 0.3, 2.0, 1.3))
    assert "not clearly smoother with BN" in mixed.text
    noise = rt.ONE_SEED_NOISE
    one = rt.landscape_text(landscape(0.1, 0.1 + noise["loss_range"] / 2, 1.3, 1.3 + noise["smoothness"] / 2, n=1))
    assert "within seed-to-seed noise" in one.text and "**smoother" not in one.text


def test_landscape_guards():
    assert not rt.landscape_text(landscape(0.1, 0.3, 1.3, 2.0, probes=2))
    diverged = [f.probed(p.probes, diverged="plain", seed=i) for i, p in enumerate(landscape(0.1, 0.3, 1.3, 2.0))]
    text = rt.landscape_text(diverged).text
    assert "smoother" not in text and "n/a" in text
    assert not rt.landscape_text([])


def test_every_number_quoted_is_finite_or_says_n_a():
    for finding in (
        rt.noise_text(noise_seeds(LEVEL), layer=f.LAYER),
        rt.ics_text(ics((0.13, 0.60, 0.90, 0.20), (0.09, 0.70, 0.80, 0.13))),
        rt.landscape_text(landscape(0.1, 0.3, 1.3, 2.0)),
    ):
        assert "nan" not in finding.text.lower() and "inf" not in finding.text
        assert all(math.isfinite(v) for v in finding.numbers.values())


def test_a_no_bn_net_still_on_its_plateau_is_flagged_not_read_as_smooth():
    reduced = ics((0.13, 0.60, 0.90, 0.20), (0.09, 0.70, 0.80, 0.13))
    smooth = landscape(0.1, 0.3, 1.3, 2.0)
    for stuck in (rt.PLATEAU_ACCURACY - 0.01, rt.PLATEAU_ACCURACY + 0.01):
        for verdict, per_seed in ((rt.ics_text, reduced), (rt.landscape_text, smooth)):
            runs = [f.probed(p.probes, seed=i, plain=stuck) for i, p in enumerate(per_seed)]
            flagged = "had not left its early plateau" in verdict(runs).text
            assert flagged == (stuck < rt.PLATEAU_ACCURACY)
    assert "in both seeds" in rt.landscape_text(smooth[:2]).text
