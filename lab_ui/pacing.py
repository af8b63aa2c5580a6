"""How often watchers redraw a running job: as often as every second, as long as all the watching costs the
server no more than its budget.

What watching costs is measured, not estimated: the server process's CPU time less its job threads' (a
redraw's own thread time missed most of it: Streamlit's messages, the event loop, page reruns). The budget
is WATCHER_CPU per watcher, and never less than SOLO_CPU, so that one student or a few see the run every
second while thirty cost at most 0.24 of a core (the issue's target is 0.01 per watcher, 0.3 for thirty).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

REFRESH_SECONDS = 1.0  # at 0.5 s, redrawing (server and browser) slowed the default comparison from 5 s to 9 s
MAX_REFRESH_SECONDS = 15.0  # however costly the redraw, a watcher sees progress at least this often
WATCHER_CPU = 0.008  # CPU-seconds per second per watcher that watching may cost the server
SOLO_CPU = 0.08  # CPU-seconds per second that watching may cost, however few watch
MEASURE_SECONDS = 3.0  # the cost is measured over at least this long
AIM = 0.8  # of the budget: the interval is set so that watching costs this much of it
KEEP = 0.6  # between KEEP and 1 of the budget, the interval stays as it is
MAX_STEP = 2.0  # the interval moves by at most this factor per measurement
LEVELS = (1.0, 2.0, 4.0, 8.0, 15.0)  # the intervals a session redraws at (a change costs it a page rerun)
SPREAD = 0.3  # chance that a session takes a new level at a given redraw: a class does not rerun at once


def watching_budget(watchers: int) -> float:
    """CPU-seconds per second that `watchers` watching sessions may cost the server."""
    return max(SOLO_CPU, WATCHER_CPU * watchers)


def next_interval(interval: float, used: float, budget: float) -> float:
    """The interval after a measurement: watching costs about in inverse proportion to it, so it is scaled
    by used / (AIM × budget) when `used` falls outside [KEEP, 1] × budget, by at most MAX_STEP, and kept
    within [REFRESH_SECONDS, MAX_REFRESH_SECONDS]."""
    if KEEP * budget <= used <= budget:
        return interval
    factor = min(MAX_STEP, max(1 / MAX_STEP, used / (AIM * budget)))
    return min(MAX_REFRESH_SECONDS, max(REFRESH_SECONDS, interval * factor))


def level(interval: float) -> float:
    """The session's interval for the server's: the smallest level at least that long. Sessions change
    level, each with a page rerun, only when the server's interval crosses one."""
    return next((x for x in LEVELS if x >= interval - 1e-9), LEVELS[-1])


def take_level(current: float, interval: float, draw: float) -> bool:
    """Whether a session redrawing every `current` s moves to `interval`'s level now; `draw` in [0, 1) is
    random, so that thirty sessions spread their reruns over a few redraws (30 at once doubled the
    server's peak memory)."""
    return level(interval) != current and draw < SPREAD


class Pacer:
    """The server's redraw interval, shared by every watching session. `jobs_cpu()` is the job threads'
    CPU time (training is not watching); `process_cpu()` the whole process's."""

    def __init__(self, jobs_cpu: Callable[[], float], process_cpu: Callable[[], float] = time.process_time) -> None:
        self.jobs_cpu, self.process_cpu = jobs_cpu, process_cpu
        self.interval = REFRESH_SECONDS
        self.used: float | None = None  # CPU-seconds per second, at the last measurement
        self._lock = threading.Lock()
        self._mark: tuple[float, float, float] | None = None  # when, process CPU, jobs' CPU

    def update(self, watchers: int, now: float | None = None) -> float:
        """Measure (at most every MEASURE_SECONDS) and return the interval for `watchers` watching now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            sample = (now, self.process_cpu(), self.jobs_cpu())
            if watchers == 0:  # nobody watches: the next class starts at REFRESH_SECONDS
                self._mark, self.interval = sample, REFRESH_SECONDS
                return self.interval
            if self._mark is None:
                self._mark = sample
                return self.interval
            elapsed = now - self._mark[0]
            if elapsed < MEASURE_SECONDS:
                return self.interval
            watching = (sample[1] - self._mark[1]) - (sample[2] - self._mark[2])
            self._mark = sample
            self.used = max(0.0, watching) / elapsed
            self.interval = next_interval(self.interval, self.used, watching_budget(watchers))
            return self.interval
