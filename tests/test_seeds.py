"""Seed aggregation against numpy on known per-seed values, the noise rule on both sides of its threshold,
and the multi-seed runner's progress, stop and partial results."""

import math
import threading

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bn_demo.core.config import ConfigError
from bn_demo.core.seeds import MAX_SEEDS, SeededRun, Spread, band, paired_gap, seed_list


def test_seed_list_and_its_range():
    assert seed_list(7, 3) == (7, 8, 9)
    for bad in (0, MAX_SEEDS + 1):
        with pytest.raises(ConfigError, match="seeds"):
            seed_list(0, bad)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8))
def test_spread_matches_numpy(values):
    s = Spread.of(values)
    a = np.array(values)
    assert s.n == len(a)
    assert s.mean == pytest.approx(a.mean(), abs=1e-6)
    assert s.sd == pytest.approx(a.std(ddof=1) if len(a) > 1 else 0.0, abs=1e-6)
    assert (s.lo, s.hi) == (a.min(), a.max())


def test_spread_leaves_out_diverged_runs():
    s = Spread.of([0.9, math.nan, 0.8])
    assert s.n == 2 and s.mean == pytest.approx(0.85)
    assert Spread.of([math.nan]).n == 0 and Spread.of([]).text() == "n/a"
    assert Spread.of([0.5]).text("{:.1f}") == "0.5" and Spread.of([0.5, 0.7]).text("{:.1f}") == "0.6 ± 0.1"


def test_gap_outside_the_spread_is_decided():
    g = paired_gap([0.97, 0.96, 0.965], [0.95, 0.945, 0.955], one_seed_noise=0.005)
    assert g.outcome == "higher" and g.ahead == 3 and g.n == 3
    assert g.gap.mean == pytest.approx(np.mean([0.02, 0.015, 0.01]))
    assert paired_gap([0.95, 0.945, 0.955], [0.97, 0.96, 0.965], one_seed_noise=0.005).outcome == "lower"


def test_gap_inside_the_spread_is_noise():
    # mean gap 0.004 < the runs' sd across seeds (0.01)
    g = paired_gap([0.95, 0.96, 0.97], [0.946, 0.956, 0.966], one_seed_noise=0.0)
    assert g.noise == pytest.approx(0.01) and g.outcome == "noise"


def test_gap_with_mixed_signs_is_noise_even_when_large():
    g = paired_gap([0.99, 0.90], [0.90, 0.95], one_seed_noise=0.0)
    assert g.ahead == 1 and g.outcome == "noise"


def test_one_seed_uses_the_typical_spread():
    assert paired_gap([0.960], [0.958], one_seed_noise=0.005).outcome == "noise"
    assert paired_gap([0.960], [0.950], one_seed_noise=0.005).outcome == "higher"
    assert paired_gap([math.nan], [0.95], one_seed_noise=0.005).outcome == "none"
    with pytest.raises(ValueError):
        paired_gap([0.9, 0.8], [0.9], one_seed_noise=0.0)


def test_band_against_numpy_with_a_shorter_seed():
    a = pd.DataFrame({"step": [0, 1, 2], "loss": [2.0, 1.0, 0.5]})
    b = pd.DataFrame({"step": [0, 1], "loss": [3.0, 2.0]})  # diverged or stopped after step 1
    out = band([a, b], "step", "loss").set_index("step")
    assert out.loc[0, "mean"] == 2.5 and out.loc[0, "lo"] == 2.0 and out.loc[0, "hi"] == 3.0
    assert out.loc[1, "sd"] == pytest.approx(np.std([1.0, 2.0], ddof=1))
    assert out.loc[2, "n"] == 1 and out.loc[2, "mean"] == 0.5
    assert band([], "step", "loss").empty


class FakeRun:
    """A stand-in experiment: `steps` steps, result = (seed, steps done)."""

    def __init__(self, seed, steps=4, stop_after=None, stop=None):
        self.seed, self.steps, self.done, self.stop_after, self.stop = seed, steps, 0, stop_after, stop

    def run(self, progress, stop):
        for i in range(self.steps):
            if stop.is_set():
                break
            self.done = i + 1
            progress(self.done, self.steps)
            if self.stop_after is not None and (self.seed, self.done) == self.stop_after:
                stop.set()
        return (self.seed, self.done)

    def partial(self):
        return (self.seed, self.done)


def test_seeded_run_counts_progress_over_all_seeds():
    reports = []
    out = SeededRun(FakeRun, (3, 4)).run(progress=lambda d, t: reports.append((d, t)), stop=threading.Event())
    assert out.per_seed == [(3, 4), (4, 4)] and out.complete
    assert reports[0] == (1, 8) and reports[-1] == (8, 8)
    assert [d for d, _ in reports] == list(range(1, 9))


def test_seeded_run_stop_keeps_finished_and_interrupted_seeds():
    stop = threading.Event()
    runner = SeededRun(lambda s: FakeRun(s, stop_after=(1, 2)), (0, 1, 2))
    out = runner.run(progress=None, stop=stop)
    assert out.per_seed == [(0, 4), (1, 2)] and not out.complete
    assert runner.partial().per_seed == [(0, 4), (1, 2)]


# ---- the shared verdict sentence ------------------------------------------------------------------------

from bn_demo.views.verdicts import SILENT, bounded_share, gap_sentence  # noqa: E402


def test_gap_sentence_names_a_winner_only_outside_the_noise():
    won = gap_sentence(
        paired_gap([0.97, 0.965], [0.95, 0.952], one_seed_noise=0.005), a="BN", b="no BN", quantity="test accuracy"
    )
    assert "BN's test accuracy was higher than no BN's" in won.text and "in 2 of 2 seeds" in won.text
    assert won.numbers["gap"] == pytest.approx(0.0165)
    noise = gap_sentence(
        paired_gap([0.95, 0.96], [0.949, 0.962], one_seed_noise=0.005), a="BN", b="no BN", quantity="test accuracy"
    )
    assert "within seed-to-seed noise" in noise.text and "higher" not in noise.text


def test_gap_sentence_one_seed_says_it_cannot_decide():
    text = gap_sentence(
        paired_gap([0.960], [0.958], one_seed_noise=0.005), a="BN", b="no BN", quantity="test accuracy"
    ).text
    assert "one seed cannot beat" in text and "0.50 points" in text and "0.20 points" in text
    assert gap_sentence(paired_gap([math.nan], [0.9], one_seed_noise=0.005), a="BN", b="no BN", quantity="x") is SILENT


@given(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9))
def test_bounded_share_is_a_share_or_nothing(part, whole):
    share = bounded_share(abs(part), whole)
    assert share is None or 0.0 <= share <= 1.0
    assert bounded_share(1.0, 0.0) is None and bounded_share(1.0, 4.0) == 0.25


def test_seed_band_draws_the_band_only_for_several_seeds():
    from bn_demo.views.style import seed_band

    one = band([pd.DataFrame({"step": [0, 1], "loss": [2.0, 1.0]})], "step", "loss")
    assert len(seed_band(one, "step", "bn")) == 1
    two = band(
        [pd.DataFrame({"step": [0, 1], "loss": [2.0, 1.0]}), pd.DataFrame({"step": [0, 1], "loss": [3.0, 0.5]})],
        "step",
        "loss",
    )
    low, high, line = seed_band(two, "step", "plain")
    assert list(low.y) == [2.0, 0.5] and list(high.y) == [3.0, 1.0] and list(line.y) == [2.5, 0.75]
    assert high.fill == "tonexty" and line.name == "no BN"
