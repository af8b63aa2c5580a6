"""The redraw interval: watching costs the server at most its budget, measured as the process's CPU less
the training threads'."""

import pytest

from lab_ui import pacing
from lab_ui.pacing import MAX_REFRESH_SECONDS, MEASURE_SECONDS, REFRESH_SECONDS, Pacer, next_interval


def test_the_budget_is_per_watcher_with_a_floor_for_a_few():
    assert pacing.watching_budget(1) == pacing.SOLO_CPU
    assert pacing.watching_budget(30) == pytest.approx(30 * pacing.WATCHER_CPU)
    assert pacing.watching_budget(30) <= 30 * 0.01  # the target: 0.01 CPU-s per watcher-second


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        (0.6 * 0.24, 4.0),  # within [KEEP, 1] of the budget: kept
        (1.0 * 0.24, 4.0),
        (1.2 * 0.24, 4.0 * 1.2 / pacing.AIM),  # over: slower, aiming at AIM of the budget
        (0.5 * 0.24, 4.0 * 0.5 / pacing.AIM),  # under: faster
        (10 * 0.24, 8.0),  # at most MAX_STEP per measurement
        (0.0, 2.0),
    ],
)
def test_the_interval_scales_with_the_cost_outside_a_band(used, expected):
    assert next_interval(4.0, used, 0.24) == pytest.approx(expected)


def test_the_interval_stays_within_its_bounds():
    assert next_interval(REFRESH_SECONDS, 0.0, 0.24) == REFRESH_SECONDS
    assert next_interval(MAX_REFRESH_SECONDS, 100.0, 0.24) == MAX_REFRESH_SECONDS


class Clock:
    """A process whose CPU time and whose training threads' CPU time a test advances."""

    def __init__(self) -> None:
        self.process = self.jobs = 0.0

    def run(self, seconds: float, *, training: float, watching: float) -> None:
        self.jobs += training * seconds
        self.process += (training + watching) * seconds


def test_the_pacer_measures_watching_without_the_training_and_slows_down_for_a_class():
    clock = Clock()
    pacer = Pacer(lambda: clock.jobs, lambda: clock.process)
    t = 0.0
    assert pacer.update(30, now=t) == REFRESH_SECONDS  # first sample: nothing measured yet
    clock.run(MEASURE_SECONDS, training=1.0, watching=0.9)  # thirty watchers at 1 s cost 0.9 of a core
    t += MEASURE_SECONDS
    interval = pacer.update(30, now=t)
    assert pacer.used == pytest.approx(0.9)  # the training's core is not counted
    assert interval == pytest.approx(2.0)  # at most MAX_STEP at a time
    clock.run(1.0, training=1.0, watching=5.0)
    assert pacer.update(30, now=t + 1.0) == interval  # measured over MEASURE_SECONDS at least
    pacer.update(0, now=t + 2.0)
    assert pacer.interval == REFRESH_SECONDS  # nobody watches: the next class starts at one second


def test_one_watcher_redraws_every_second_within_the_floor():
    clock = Clock()
    pacer = Pacer(lambda: clock.jobs, lambda: clock.process)
    pacer.update(1, now=0.0)
    clock.run(MEASURE_SECONDS, training=1.0, watching=0.9 * pacing.SOLO_CPU)
    assert pacer.update(1, now=MEASURE_SECONDS) == REFRESH_SECONDS


def test_sessions_redraw_at_a_few_levels_and_spread_their_moves():
    assert [pacing.level(x) for x in (0.5, 1.0, 1.2, 2.0, 3.9, 9.0, 15.0, 99.0)] == [1, 1, 2, 2, 4, 15, 15, 15]
    assert not pacing.take_level(2.0, 1.7, draw=0.0)  # the same level: no rerun
    assert pacing.take_level(2.0, 3.0, draw=0.0)  # another level, and this session's turn
    assert not pacing.take_level(2.0, 3.0, draw=pacing.SPREAD)  # not its turn yet
