"""Background training jobs, shared per server: identical settings train once, however many students
press Train, and everyone watching sees the same live run.

A job runs in a thread that never touches the UI; the UI polls `job.status()` and `job.peek()`.
A semaphore caps how many jobs train at once (two cores are shared by the whole class); the rest
wait in a queue and say so. Stopped or failed jobs are forgotten, so pressing Train again retrains.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from bn_demo.config import ConfigError

MAX_STEP_RUNS = 60_000  # per request: training steps x runs, so one user cannot starve the rest
MAX_CONCURRENT_JOBS = 2  # one per core
MAX_FINISHED_JOBS = 64  # finished results kept per server


def check_budget(steps: int, runs: int, limit: int = MAX_STEP_RUNS) -> None:
    """Refuse a request whose steps x runs exceed the per-request budget, saying what the limit is."""
    if steps * runs > limit:
        raise ConfigError(
            f"steps x runs: {steps:,} steps x {runs} runs = {steps * runs:,} is over this server's "
            f"budget of {limit:,} per request; lower the steps or the number of runs"
        )


@dataclass
class JobStatus:
    state: str  # "queued", "running", "done", "stopped", "failed"
    done: int  # steps (or runs, for a sweep) completed
    total: int
    elapsed: float  # seconds since the job started training
    error: str | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def seconds_left(self) -> float | None:
        if self.done == 0 or self.state != "running":
            return None
        return self.elapsed / self.done * (self.total - self.done)


class Job:
    """Runs `work(job)` in a daemon thread. `work` calls `job.report(done, total)`, checks
    `job.stop_event`, may set `job.peek_fn` to expose partial results, and returns the result."""

    def __init__(self, work: Callable[[Job], Any], gate: threading.Semaphore, total: int) -> None:
        self.work, self.gate = work, gate
        self.stop_event = threading.Event()
        self.peek_fn: Callable[[], Any] | None = None
        self.result: Any = None
        self._state, self._done, self._total = "queued", 0, total
        self._started: float | None = None
        self._error: str | None = None
        self._lock = threading.Lock()
        self._progressed = threading.Event()  # set by the first report, or when the job ends
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Job:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self._run_gated()
        finally:
            self._progressed.set()

    def _run_gated(self) -> None:
        with self.gate:
            with self._lock:
                if self.stop_event.is_set():
                    self._state = "stopped"
                    return
                self._state, self._started = "running", time.perf_counter()
            try:
                result = self.work(self)
            except Exception as e:  # shown to the user as a message, never as a traceback
                with self._lock:
                    self._state, self._error = "failed", f"{type(e).__name__}: {e}"
                return
            with self._lock:
                self.result = result
                self._state = "stopped" if self.stop_event.is_set() else "done"

    def report(self, done: int, total: int) -> None:
        with self._lock:
            self._done, self._total = done, total
        self._progressed.set()

    def stop(self) -> None:
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> JobStatus:
        self.thread.join(timeout)
        return self.status()

    def wait_for_progress(self, timeout: float) -> bool:
        """Block up to `timeout` s for a first reported step (or the end): a page that has just pressed
        Train can then draw its first chart at once instead of one refresh interval later."""
        return self._progressed.wait(timeout)

    def peek(self) -> Any:
        """The finished result, or the partial one while it trains (None before any)."""
        if self.result is not None:
            return self.result
        return self.peek_fn() if self.peek_fn is not None else None

    def status(self) -> JobStatus:
        with self._lock:
            elapsed = time.perf_counter() - self._started if self._started else 0.0
            return JobStatus(self._state, self._done, self._total, elapsed, self._error)

    @property
    def finished(self) -> bool:
        return self.status().state in ("done", "stopped", "failed")


class JobRegistry:
    """Jobs by key (a frozen config, or a tuple of them): one training per distinct request."""

    def __init__(self, max_concurrent: int = MAX_CONCURRENT_JOBS, max_finished: int = MAX_FINISHED_JOBS) -> None:
        self.gate = threading.Semaphore(max_concurrent)
        self.max_finished = max_finished
        self.jobs: OrderedDict[Hashable, Job] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> Job | None:
        with self.lock:
            job = self.jobs.get(key)
            if job is not None and job.status().state in ("stopped", "failed"):
                del self.jobs[key]  # not a result worth sharing: the next request retrains
            return self.jobs.get(key)

    def submit(self, key: Hashable, work: Callable[[Job], Any], total: int) -> Job:
        """The job for `key`: the running or finished one if there is one, else a new one."""
        existing = self.get(key)
        if existing is not None:
            with self.lock:
                self.jobs.move_to_end(key)
            return existing
        with self.lock:
            job = self.jobs[key] = Job(work, self.gate, total).start()
            finished = [k for k, j in self.jobs.items() if j.finished]
            for k in finished[: max(0, len(finished) - self.max_finished)]:
                del self.jobs[k]
            return job


class LiveRun(Protocol):
    """What a job trains: PairedTraining, sweeps.SweepRunner, research.ProbedTraining."""

    def run(self, progress: Callable[[int, int], None], stop: threading.Event) -> Any: ...

    def partial(self) -> Any: ...


def live_work(make: Callable[[], LiveRun]) -> Callable[[Job], Any]:
    """A job's work: make the runner in the job's thread (models and data load there, not in the page),
    expose its partial results to `job.peek`, and run it with the job's progress and stop."""

    def work(job: Job) -> Any:
        runner = make()
        job.peek_fn = runner.partial
        return runner.run(progress=job.report, stop=job.stop_event)

    return work


def training_work(configs: dict, data=None) -> Callable[[Job], Any]:
    """A job's work for paired training of `configs` (name -> TrainConfig), with live partial results."""
    from bn_demo.train import PairedTraining  # torch is imported only when a job is made

    return live_work(lambda: PairedTraining(configs, data))
