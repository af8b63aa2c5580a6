"""Background training jobs, shared per server: identical settings train once, however many students press
Train, and everyone watching sees the same live run.

A job's work runs on one of a fixed pool of worker threads (one per core) and never touches the UI;
pages poll `registry.status(job)` and `job.peek()`. Jobs past the pool wait in a bounded queue and say
where they stand and how long that will take, measured from the jobs ahead. A finished result is kept
in memory (bounded in bytes, least recently used out) and written to the result stores on disk, so the
next request for the same settings, even after a restart, gets it without training.

Nobody's Stop ends a run for others: a session that leaves a job only detaches, and a job stops when no
session is left watching it (sessions show they watch by a heartbeat, or by being connected), keeping
what it recorded. A stopped job is never handed to a new request: that one trains afresh.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import heapq
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bn_demo.core.config import ConfigError, TrainConfig
from bn_demo.serving.memory import libc, trim
from bn_demo.serving.store import ResultStore, Stored, key_digest, result_bytes

MAX_CONCURRENT_JOBS = 2  # one per core
MAX_QUEUED_JOBS = 6  # past this, a request gets "server busy" instead of a place in the queue
MEMORY_BYTES = 16 * 2**20  # finished results held in memory; the stores on disk hold the rest (read back in ms)
GRACE_SECONDS = 90.0  # a job nobody has watched for this long is stopped (a hidden tab polls once a minute)
PEEK_SECONDS = 1.0  # a running job's partial result is rebuilt at most this often, however many watch
MNIST_TRAIN, MNIST_CLASSES = 60_000, 10
TEST_IMAGES, INPUTS = 10_000, 784
MAX_COST = 5e12  # multiply-adds per request: the old budget's largest (60,000 steps x 128, one layer)
MIN_RATE_STEPS, MIN_RATE_SECONDS = 20, 2.0  # a time left is quoted only from a rate measured this long


class ServerBusy(RuntimeError):
    """The queue is full; the message says how long until a place frees up, measured."""


def forward_cost(config: TrainConfig) -> int:
    """Multiply-adds of one example through the network (its Linear layers; BN and activations are cheap)."""
    widths = (INPUTS, *config.hidden, MNIST_CLASSES)
    return sum(a * b for a, b in zip(widths, widths[1:], strict=False))


def training_cost(config: TrainConfig) -> float:
    """Multiply-adds to train and evaluate one run: each step's forward and backward pass (about 3
    forwards), the held-out evaluations (twice for BN, which is also evaluated in train mode) and the
    final test on all 10,000 test images."""
    passes = 2 if config.uses_bn else 1
    evaluations = config.steps // config.effective_eval_every + 2
    examples = 3 * config.steps * config.batch_size + evaluations * passes * config.eval_size + TEST_IMAGES
    return float(examples * forward_cost(config))


def request_cost(configs: Iterable[TrainConfig]) -> float:
    """The cost of a request: every run it trains (paired runs, sweep points, seeds)."""
    return sum(training_cost(c) for c in configs)


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def check_budget(cost: float, *, limit: float = MAX_COST, seconds_per_cost: float | None = None) -> None:
    """Refuse a request whose cost (multiply-adds, `request_cost`) exceeds the per-request budget,
    saying both in multiply-adds and, once this server has measured its speed, in time."""
    if cost <= limit:
        return

    def amount(x: float) -> str:
        time_here = f" (about {duration_text(x * seconds_per_cost)} here)" if seconds_per_cost else ""
        return f"{x / 1e9:,.0f} billion multiply-adds{time_here}"

    raise ConfigError(
        f"this request needs {amount(cost)}, over this server's budget of {amount(limit)} per request; "
        "lower the steps, the batch size, the layers or the number of runs"
    )


def start_wait(running_left: Sequence[float], ahead: Sequence[float], workers: int) -> float:
    """Seconds before a job starts: workers free up as the running jobs end (`running_left`), and each
    job ahead in the queue takes the first free worker for its own duration."""
    free = sorted([*running_left, *[0.0] * max(0, workers - len(running_left))])[:workers]
    heapq.heapify(free)
    for duration in ahead:
        heapq.heappush(free, heapq.heappop(free) + duration)
    return free[0]


@dataclass(frozen=True)
class JobStatus:
    state: str  # "queued", "running", "done", "stopped", "failed"
    done: int  # steps (or runs, for a sweep) completed
    total: int
    elapsed: float  # seconds of training: since it started, or its own duration once it ended
    error: str | None = None
    position: int | None = None  # place in the queue (1 = next), while queued
    wait: float | None = None  # seconds before it starts, while queued, once the server knows its speed
    watchers: int = 0  # sessions watching it now
    stored: bool = False  # trained earlier and read back (from memory or disk), not trained for this request

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def seconds_left(self) -> float | None:
        """From the job's own rate, once it has run long enough to have one."""
        if self.state != "running" or self.done < MIN_RATE_STEPS or self.elapsed < MIN_RATE_SECONDS:
            return None
        return self.elapsed / self.done * (self.total - self.done)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "failed")


class Job:
    """`work(job)` run once on a worker: it calls `job.report(done, total)`, checks `job.stop_event`, may
    set `job.peek_fn` to expose partial results, and returns the result. When it ends, the work and its
    trainer are dropped: a finished job holds its result and nothing else."""

    def __init__(self, key: Hashable, work: Callable[[Job], Any] | None, total: int, cost: float = 0.0) -> None:
        self.key, self.work, self.cost = key, work, cost
        self.stop_event = threading.Event()
        self.peek_fn: Callable[[], Any] | None = None
        self.result: Any = None
        self.stored = False  # read back from a store, or written to one: memory may drop it and reload
        self.reload: Callable[[], Any] | None = None
        self.watchers: dict[str, float] = {}  # session -> last heartbeat
        self.on_report: Callable[[Job], None] | None = None
        self._state, self._done, self._total = "queued", 0, total
        self._started: float | None = None
        self._ended: float | None = None
        self._seconds: float | None = None  # a stored job's own duration
        self._error: str | None = None
        self._lock = threading.Lock()
        self._peek_lock = threading.Lock()
        self._peeked: tuple[float, Any] | None = None  # (when, partial result), shared by all watchers
        self._progressed = threading.Event()  # set by the first report, or when the job ends
        self._ended_event = threading.Event()

    @classmethod
    def from_store(cls, key: Hashable, stored: Stored) -> Job:
        """A finished job for a result trained earlier: no training, its own duration kept."""
        job = cls(key, None, total=0)
        job.result, job.stored, job._state, job._seconds = stored.result, True, "done", stored.seconds
        job.close()
        return job

    def execute(self) -> None:
        """Run the work (on a worker thread) unless the job was stopped while it queued; `close` then
        tells the waiters, once the registry has kept and stored the result."""
        with self._lock:
            if self._state != "queued":
                return
            self._state, self._started = "running", time.perf_counter()
        try:
            result = self.work(self)
        except Exception as e:  # shown to the user as a message, never as a traceback
            with self._lock:
                self._state, self._error = "failed", f"{type(e).__name__}: {e}"
        else:
            with self._lock:
                self.result = result
                self._state = "stopped" if self.stop_event.is_set() else "done"
        finally:
            with self._lock:
                self._ended = time.perf_counter()
            self.work = self.peek_fn = self.on_report = None  # the trainer, its models and buffers go
            self._peeked = None

    def close(self) -> None:
        self._progressed.set()
        self._ended_event.set()

    def report(self, done: int, total: int) -> None:
        with self._lock:
            self._done, self._total = done, total
        self._progressed.set()
        hook = self.on_report
        if hook is not None:
            hook(self)

    def stop(self) -> None:
        """Tell the work to stop; a job still queued is stopped at once and never runs."""
        self.stop_event.set()
        with self._lock:
            if self._state != "queued":
                return
            self._state = "stopped"
        self.close()

    def wait(self, timeout: float | None = None) -> JobStatus:
        self._ended_event.wait(timeout)
        return self.status()

    def wait_for_progress(self, timeout: float) -> bool:
        """Block up to `timeout` s for a first reported step (or the end): a page that has just pressed
        Train can then draw its first chart at once instead of one refresh interval later."""
        return self._progressed.wait(timeout)

    def peek(self) -> Any:
        """The finished result, or the partial one while it trains (None before any). A partial result
        is rebuilt at most every PEEK_SECONDS and the same object is handed to every watcher: thirty watchers
        cost one rebuild of the tables a second, not thirty."""
        if self.result is not None:
            return self.result
        if self.finished:
            reload = self.reload
            return reload() if reload is not None else None
        with self._peek_lock:
            now = time.monotonic()
            if self._peeked is not None and now - self._peeked[0] < PEEK_SECONDS:
                return self._peeked[1]
            fn = self.peek_fn
            if fn is None:
                return None
            partial = fn()
            if not self.finished:
                self._peeked = (now, partial)
            return partial

    def release(self, reload: Callable[[], Any]) -> None:
        """Drop the result from memory; `peek` reads it back (from the store) when asked."""
        self.reload, self.result = reload, None

    def status(self) -> JobStatus:
        with self._lock:
            if self._seconds is not None:
                elapsed = self._seconds
            elif self._started is None:
                elapsed = 0.0
            else:
                elapsed = (self._ended or time.perf_counter()) - self._started
            return JobStatus(
                self._state,
                self._done,
                self._total,
                elapsed,
                self._error,
                watchers=len(self.watchers),
                stored=self._seconds is not None,
            )

    @property
    def finished(self) -> bool:
        """Ended, and its result kept and stored (a stopped queued job ends at once)."""
        return self._ended_event.is_set()


def _set_torch_threads(threads: int) -> None:
    import torch  # only the workers need it; importing jobs must not load torch

    torch.set_num_threads(threads)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run a block (in this thread) with `threads` torch threads, as the jobs train, then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def name_os_thread(name: str) -> None:
    """Give the calling thread its name in the OS too (top -H, /proc/<pid>/task), so that the training's
    CPU time can be told apart from the rest of the server's."""
    lib = libc()
    if lib is not None and hasattr(lib, "pthread_setname_np"):
        lib.pthread_setname_np(ctypes.c_ulong(threading.get_ident()), name.encode()[:15])


class JobRegistry:
    """Jobs by key (a frozen config, a tuple of them, a sweep, or an experiment's name and configs): one
    training per distinct request, a bounded queue, finished results in memory (bounded in bytes) and in
    `stores` (searched in order; written to the writable ones).

    `session_alive(session)` says whether a session is still connected: a watcher counts while it is
    connected or has sent a heartbeat within `grace_seconds`. `threads_per_job` sets torch's threads in
    each worker."""

    def __init__(
        self,
        *,
        stores: Sequence[ResultStore] = (),
        max_concurrent: int = MAX_CONCURRENT_JOBS,
        max_queued: int = MAX_QUEUED_JOBS,
        memory_bytes: int = MEMORY_BYTES,
        grace_seconds: float = GRACE_SECONDS,
        threads_per_job: int | None = None,
        session_alive: Callable[[str], bool] | None = None,
    ) -> None:
        self.tasks: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self.workers = [
            threading.Thread(target=self._worker, args=(threads_per_job,), name=f"bn-job-{i}", daemon=True)
            for i in range(max_concurrent)
        ]
        for worker in self.workers:
            worker.start()
        self.stores, self.max_concurrent, self.max_queued = list(stores), max_concurrent, max_queued
        self.memory_bytes, self.grace_seconds, self.session_alive = memory_bytes, grace_seconds, session_alive
        self.active: dict[Hashable, Job] = {}  # queued or running, not told to stop
        self.queue: list[Job] = []  # the queued ones, first in line first
        self.kept: OrderedDict[Hashable, tuple[Job, int]] = OrderedDict()  # finished: job, bytes
        self.owned: dict[tuple[str, str], Job] = {}  # (session, page) -> its unfinished job
        self.seconds_per_cost: float | None = None  # measured on finished jobs
        self.lock = threading.RLock()
        self._last_reap = 0.0

    # finding and starting jobs

    def find(self, key: Hashable) -> Job | None:
        """The running, queued or finished job for `key`, or one read back from a store; None if the
        request must train. A job told to stop is never returned."""
        with self.lock:
            self.reap()
            job = self.active.get(key)
            if job is None and key in self.kept:
                self.kept.move_to_end(key)
                job = self.kept[key][0]
            if job is not None:
                return job
        for store in self.stores:
            stored = store.get(key)
            if stored is not None:
                job = Job.from_store(key, stored)
                with self.lock:
                    self._keep(job)
                return job
        return None

    def find_digest(self, digest: str) -> Job | None:
        """The job whose key has this digest (a link names a run by it): running, queued, finished in
        memory, or stored."""
        with self.lock:
            keys = [*self.active, *self.kept]
        for key in keys:
            if key_digest(key) == digest:
                return self.find(key)
        for store in self.stores:
            found = store.get_digest(digest)
            if found is not None:
                return self.find(found)
        return None

    def submit(
        self,
        key: Hashable,
        work: Callable[[Job], Any],
        total: int,
        *,
        cost: float = 0.0,
        session: str | None = None,
        page: str | None = None,
    ) -> Job:
        """The job for `key`: the running or finished one if there is one, else a new one (ServerBusy if
        the queue is full). With a session and a page, it becomes that session's job on that page and
        the session's earlier job there is left (stopped if nobody else watches it)."""
        job = self.find(key)
        with self.lock:
            if job is None:
                job = self.active.get(key) or self._start(key, work, total, cost)
            if session is not None:
                self.watch(job, session)
                if page is not None:
                    earlier = self.owned.get((session, page))
                    if earlier is not None and earlier is not job:
                        self.leave(earlier, session)
                    if not job.finished:
                        self.owned[(session, page)] = job
        return job

    def _start(self, key: Hashable, work: Callable[[Job], Any], total: int, cost: float) -> Job:
        running = sum(1 for j in self.active.values() if j.status().state == "running")
        if running >= self.max_concurrent and len(self.queue) >= self.max_queued:
            raise ServerBusy(self.busy_text())
        job = Job(key, work, total, cost)
        job.on_report = self._reported
        self.active[key] = job
        self.queue.append(job)
        self.tasks.put(job)
        return job

    def _worker(self, threads: int | None) -> None:
        """One of `max_concurrent` daemon threads: jobs in order, one at a time. Daemon, so that a server
        shutting down never waits for a training to end (ThreadPoolExecutor joins its workers at exit)."""
        name_os_thread(threading.current_thread().name)
        if threads:
            _set_torch_threads(threads)
        while True:
            job = self.tasks.get()
            with self.lock:
                if job in self.queue:
                    self.queue.remove(job)
                if self._abandoned(job):
                    self._stop(job)
            job.execute()
            self._finished(job)
            job.close()

    def _finished(self, job: Job) -> None:
        status = job.status()
        with self.lock:
            if self.active.get(job.key) is job:
                del self.active[job.key]
            for owner in [o for o, j in self.owned.items() if j is job]:
                del self.owned[owner]
            job.watchers.clear()
            if status.state == "done":
                if job.cost and status.elapsed > 0:
                    rate = status.elapsed / job.cost
                    self.seconds_per_cost = (
                        rate if self.seconds_per_cost is None else 0.7 * self.seconds_per_cost + 0.3 * rate
                    )
                self._keep(job)
        if status.state == "done":
            for store in self.stores:
                if not store.read_only and store.put(job.key, job.result, seconds=status.elapsed):
                    job.stored = True
        trim()

    def _keep(self, job: Job) -> None:
        """Hold a finished result in memory, dropping the least recently used past the byte bound
        (a result that is also on disk is released from its job too; the job reads it back when asked)."""
        if job.key in self.kept:
            return
        self.kept[job.key] = (job, result_bytes(job.result))
        total = sum(size for _, size in self.kept.values())
        while total > self.memory_bytes and len(self.kept) > 1:  # the newest stays, however large
            key, (old, size) = self.kept.popitem(last=False)
            total -= size
            if old.stored:
                old.release(lambda key=key: self._reload(key))

    def _reload(self, key: Hashable) -> Any:
        job = self.find(key)
        return None if job is None else job.result

    # watching, leaving and abandoned jobs

    def watch(self, job: Job, session: str) -> None:
        """A heartbeat: `session` is watching `job` now."""
        with self.lock:
            if not job.finished:
                job.watchers[session] = time.monotonic()

    def leave(self, job: Job, session: str) -> bool:
        """`session` stops watching `job`: the job stops only if nobody else still watches it (what it
        recorded stays available). True if the job was stopped."""
        with self.lock:
            job.watchers.pop(session, None)
            for owner in [o for o, j in self.owned.items() if j is job and o[0] == session]:
                del self.owned[owner]
            if job.finished or any(self._alive(s, t) for s, t in job.watchers.items()):
                return False
            self._stop(job)
            return True

    def workers_cpu(self) -> float:
        """CPU seconds the worker threads have used: the training, told apart from the rest of the server."""
        return sum(time.clock_gettime(time.pthread_getcpuclockid(w.ident)) for w in self.workers if w.ident)

    def watching(self) -> int:
        """Sessions watching a running or queued job now (for the redraw interval)."""
        with self.lock:
            return len({s for job in self.active.values() for s in job.watchers})

    def _alive(self, session: str, last_seen: float) -> bool:
        if time.monotonic() - last_seen < self.grace_seconds:
            return True
        return self.session_alive is not None and self.session_alive(session)

    def _abandoned(self, job: Job) -> bool:
        """Watched once, and by nobody alive now (jobs started without a session are never abandoned)."""
        if not job.watchers:
            return False
        alive = {s: t for s, t in job.watchers.items() if self._alive(s, t)}
        if alive:
            job.watchers = alive
        return not alive

    def _stop(self, job: Job) -> None:
        job.stop()
        if self.active.get(job.key) is job:
            del self.active[job.key]  # a new request for these settings trains afresh
        if job in self.queue:
            self.queue.remove(job)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every job and wait up to `timeout` s for them to end (each ends at its next step): at exit,
        a worker killed inside torch aborts the process ("terminate called without an active exception")."""
        with self.lock:
            jobs = list(self.active.values())
            for job in jobs:
                self._stop(job)
        deadline = time.monotonic() + timeout
        for job in jobs:
            job.wait(max(0.0, deadline - time.monotonic()))

    def reap(self) -> None:
        """Stop every job nobody watches any more."""
        with self.lock:
            self._last_reap = time.monotonic()
            for job in list(self.active.values()):
                if self._abandoned(job):
                    self._stop(job)

    def _reported(self, job: Job) -> None:
        if time.monotonic() - self._last_reap >= 1.0:  # from the training thread: at most once a second
            self.reap()

    # what the pages say

    def status(self, job: Job) -> JobStatus:
        """The job's status, with its place in the queue and the measured wait while it queues."""
        status = job.status()
        if status.state != "queued":
            return status
        with self.lock:
            if job not in self.queue:
                return status
            position = self.queue.index(job) + 1
            wait = self._wait_before(self.queue[: position - 1])
        return dataclasses.replace(status, position=position, wait=wait)

    def _expected(self, job: Job) -> float | None:
        """Seconds the job still needs: from its own rate while running, else from the server's."""
        status = job.status()
        if status.seconds_left is not None:
            return status.seconds_left
        if self.seconds_per_cost is None or not job.cost:
            return None
        return max(0.0, job.cost * self.seconds_per_cost - status.elapsed)

    def _wait_before(self, ahead: list[Job]) -> float | None:
        running = [j for j in self.active.values() if j.status().state == "running"]
        left = [self._expected(j) for j in running + ahead]
        if any(x is None for x in left):
            return None
        return start_wait(left[: len(running)], left[len(running) :], self.max_concurrent)

    def busy_text(self) -> str:
        with self.lock:
            wait = self._wait_before(list(self.queue))
        when = f"a place frees up in about {duration_text(wait)}" if wait is not None else "try again in a minute"
        return (
            f"The server is busy: its queue is full ({plural(len(self.queue), 'experiment')} waiting for "
            f"{plural(self.max_concurrent, 'core')}); {when} (measured from the runs ahead). Settings someone "
            "has already trained show at once."
        )


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
    from bn_demo.core.train import PairedTraining  # torch is imported only when a job is made

    return live_work(lambda: PairedTraining(configs, data))


def seeded_training_work(configs: dict, seeds: tuple[int, ...], data=None) -> Callable[[Job], Any]:
    """A job's work: `configs` trained paired once per seed (the seed replaces the configs' own), one seed
    after another, with live partial results (the finished seeds and the current one's)."""
    from bn_demo.core.seeds import SeededRun
    from bn_demo.core.train import PairedTraining  # torch is imported only when a job is made

    def make(seed: int) -> PairedTraining:
        return PairedTraining({name: c.with_(seed=seed) for name, c in configs.items()}, data)

    return live_work(lambda: SeededRun(make, seeds))
