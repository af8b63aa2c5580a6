"""How often watchers redraw a running job: every second, or less often when all the watching together would
cost the server more than its budget.

What watching costs is measured, not estimated: the server process's CPU time less its job threads', per
redraw (a redraw's own thread time missed most of it: Streamlit's messages, the event loop, page runs).
The budget is WATCHER_CPU per watcher, and never less than SOLO_CPU, so that one student or a few see the
run every second while thirty cost at most 0.24 of a core (the issue's target is 0.01 per watcher, 0.3 for
thirty).

A session's interval is chosen when its page runs (pressing ▶ Train, moving a slider), never by rerunning
it for that: a page run costs more than many redraws, and thirty of them at once doubled the server's
peak memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

REFRESH_SECONDS = 1.0  # at 0.5 s, redrawing (server and browser) slowed the default comparison from 5 s to 9 s
LEVELS = (1.0, 2.0, 4.0, 8.0)  # seconds between a session's redraws: at most 8 s without seeing progress
WATCHER_CPU = 0.008  # CPU-seconds per second per watcher that watching may cost the server
SOLO_CPU = 0.08  # CPU-seconds per second that watching may cost, however few watch
MEASURE_SECONDS = 3.0  # the cost per redraw is measured over at least this long
FIRST_REDRAW_CPU = 0.03  # CPU-seconds per redraw assumed until the server has measured its own (0.02–0.03 here)


def watching_budget(watchers: int) -> float:
    """CPU-seconds per second that `watchers` watching sessions may cost the server."""
    return max(SOLO_CPU, WATCHER_CPU * watchers)


def interval_for(watchers: int, redraw_cpu: float) -> float:
    """The shortest level at which `watchers` sessions, each redraw costing `redraw_cpu`, stay within the
    budget (the longest level however costly)."""
    needed = watchers * redraw_cpu / watching_budget(watchers) if watchers else 0.0
    return next((x for x in LEVELS if x >= needed), LEVELS[-1])


class Pacer:
    """Measures the server's CPU per redraw, shared by every watching session. `jobs_cpu()` is the job
    threads' CPU time (training is not watching); `process_cpu()` the whole process's."""

    def __init__(self, jobs_cpu: Callable[[], float], process_cpu: Callable[[], float] = time.process_time) -> None:
        self.jobs_cpu, self.process_cpu = jobs_cpu, process_cpu
        self.redraw_cpu = FIRST_REDRAW_CPU
        self._lock = threading.Lock()
        self._mark = (0.0, 0.0, 0.0)  # when, process CPU, jobs' CPU: set at the first redraw
        self._redraws = 0  # since the mark
        self._last = float("-inf")  # the last redraw

    def redrawn(self, now: float | None = None) -> None:
        """Count a watcher's redraw; every MEASURE_SECONDS, measure what the redraws since cost."""
        now = time.monotonic() if now is None else now
        with self._lock:
            sample = (now, self.process_cpu(), self.jobs_cpu())
            idle = now - self._last > MEASURE_SECONDS  # nobody watched meanwhile: that time is not theirs
            self._last = now
            if idle:  # (also the first redraw)
                self._mark, self._redraws = sample, 0
                return
            self._redraws += 1
            if now - self._mark[0] < MEASURE_SECONDS:
                return
            watching = (sample[1] - self._mark[1]) - (sample[2] - self._mark[2])
            self.redraw_cpu = max(0.0, watching) / self._redraws
            self._mark, self._redraws = sample, 0

    def interval(self, watchers: int) -> float:
        return interval_for(watchers, self.redraw_cpu)
