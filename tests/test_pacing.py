"""The redraw interval: watching costs the server at most its budget, measured per redraw as the process's
CPU less the training threads'."""

import pytest

from lab_ui import pacing
from lab_ui.pacing import LEVELS, MEASURE_SECONDS, Pacer, interval_for


def test_the_budget_is_per_watcher_with_a_floor_for_a_few():
    assert pacing.watching_budget(1) == pacing.SOLO_CPU
    assert pacing.watching_budget(30) == pytest.approx(30 * pacing.WATCHER_CPU)
    assert pacing.watching_budget(30) <= 30 * 0.01  # the target: 0.01 CPU-s per watcher-second


@pytest.mark.parametrize(
    ("watchers", "redraw_cpu", "expected"),
    [
        (1, 0.05, 1.0),  # one student: 0.05 per second is within the floor of 0.08
        (1, 0.09, 2.0),  # just over it
        (10, 0.008, 1.0),  # 0.08 per second, exactly the budget
        (30, 0.008, 1.0),  # 0.24 per second: exactly 30 x 0.008
        (30, 0.0081, 2.0),
        (30, 0.02, 4.0),  # 0.6 per second at 1 s: 2.5 s needed
        (30, 1.0, LEVELS[-1]),  # however costly: at most the longest level
        (0, 1.0, 1.0),
    ],
)
def test_the_interval_is_the_shortest_level_within_the_budget(watchers, redraw_cpu, expected):
    interval = interval_for(watchers, redraw_cpu)
    assert interval == expected
    if interval < LEVELS[-1]:  # within budget at that level
        assert watchers * redraw_cpu / interval <= pacing.watching_budget(watchers) + 1e-12


class Clock:
    """A process whose CPU time and whose training threads' CPU time a test advances."""

    def __init__(self) -> None:
        self.process = self.jobs = 0.0

    def run(self, *, training: float, watching: float) -> None:
        self.jobs += training
        self.process += training + watching


def test_the_pacer_measures_a_redraw_without_the_training():
    clock = Clock()
    pacer = Pacer(lambda: clock.jobs, lambda: clock.process)
    assert pacer.redraw_cpu == pacing.FIRST_REDRAW_CPU  # until measured
    pacer.redrawn(now=0.0)  # the first redraw only marks the start
    for k in range(1, 31):  # thirty redraws over 3 s, 0.01 CPU-s each, while training takes a core
        clock.run(training=0.1, watching=0.01)
        pacer.redrawn(now=k * MEASURE_SECONDS / 30)
    assert pacer.redraw_cpu == pytest.approx(0.01)
    assert pacer.interval(30) == 2.0  # 30 x 0.01 / 1 s is over 0.24; at 2 s, 0.15 is within


def test_time_nobody_watched_is_not_charged_to_the_next_redraws():
    clock = Clock()
    pacer = Pacer(lambda: clock.jobs, lambda: clock.process)
    pacer.redrawn(now=0.0)
    clock.run(training=0.0, watching=50.0)  # an hour of page views, nobody watching a run
    pacer.redrawn(now=3600.0)
    for k in range(1, 5):
        clock.run(training=1.0, watching=0.005)
        pacer.redrawn(now=3600.0 + k)
    assert pacer.redraw_cpu == pytest.approx(0.005)
