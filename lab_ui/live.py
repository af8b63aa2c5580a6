"""Live view of a background job: a fragment that redraws while the job trains, for every session
watching it, without the watching costing more than the training.

The training thread never calls Streamlit; this fragment polls it and, by polling, tells the server
that this session still watches (a job nobody watches is stopped). ■ Stop detaches this session only.
The page's job is remembered per session and named in the link (`run=`), so a reload after a slider
moved still shows the run. Redraws adapt to what watching costs the server (lab_ui.pacing): every
second, or less often when many sessions watch, and the progress bar then says how often.
"""

from __future__ import annotations

import atexit
import gc
import uuid
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Protocol

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from bn_demo.core import train
from bn_demo.core.config import ConfigError, TrainConfig
from bn_demo.core.data import DataError, load_mnist
from bn_demo.serving.jobs import (
    MAX_COST,
    Job,
    JobRegistry,
    JobStatus,
    ServerBusy,
    check_budget,
    duration_text,
    request_cost,
    torch_threads,
)
from bn_demo.serving.memory import configure_allocators, trim_every
from bn_demo.serving.store import ResultStore, key_digest
from lab_ui.downloads import results_from
from lab_ui.pacing import REFRESH_SECONDS, Pacer

STOP_WAIT_SECONDS = 5.0  # a stopped job ends within one step (or one probe): then its end is drawn at once
FIRST_STEP_WAIT_SECONDS = 0.8  # a run just started usually reports its first step well within this
TORCH_THREADS_PER_JOB = 1  # see registry()
LINK = "run"  # the query parameter naming the page's run


@st.cache_resource
def registry() -> JobRegistry:
    """One per server: identical requests from a whole class train once, and results trained before (also
    before a restart) come from the stores: the writable one, then the lessons shipped in the repository.

    Each job trains on one torch thread: jobs run one per core, and torch's default of one thread per core
    per job oversubscribes the cores as soon as two jobs (or another process) run, which made every step
    about 20x slower on 2 cores. The allocators are set to give freed memory back (bn_demo.serving.memory), and
    trimmed every few seconds, since sessions leave without telling the app. Torch's training code is
    warmed up, and the objects of the libraries loaded by now are frozen out of the garbage collector's
    sight (see freeze_loaded_objects)."""
    configure_allocators()
    trim_every()
    with torch_threads(TORCH_THREADS_PER_JOB):
        train.warm_up()
    freeze_loaded_objects()
    jobs = JobRegistry(
        stores=[ResultStore.default(), ResultStore.lessons()],
        threads_per_job=TORCH_THREADS_PER_JOB,
        session_alive=session_connected,
    )
    atexit.register(jobs.shutdown)
    return jobs


@st.cache_resource
def pacer() -> Pacer:
    """What a redraw costs this server, measured, for the interval between redraws (lab_ui.pacing)."""
    return Pacer(registry().workers_cpu)


def freeze_loaded_objects() -> None:
    """A full garbage collection with torch, pandas and Plotly loaded scans some 270,000 objects: 0.27 s of
    CPU under the GIL the training needs. Streamlit ran one after every script run, each fragment redraw
    included (runner.postScriptGC, now off in .streamlit/config.toml): ten watchers cost three cores.
    Python still runs its own full collections now and then; freezing what is alive once the libraries
    are loaded (gc.freeze) leaves them only the objects made since: milliseconds."""
    gc.collect()
    gc.freeze()


@st.cache_data(show_spinner="Timing a few training steps on this server…", ttl=600, max_entries=32)
def estimate(configs: tuple[TrainConfig, ...]) -> train.Estimate:
    """Measured here, with the jobs' thread setting, for time estimates; re-measured every ten minutes."""
    with torch_threads(TORCH_THREADS_PER_JOB):
        return train.estimate({str(i): c for i, c in enumerate(configs)})


def session_id() -> str:
    """This session, for the registry: a token of its own (AppTest gives every session the same runtime
    id), then "@" and Streamlit's session id, by which `session_connected` asks the runtime."""
    if "live:session" not in st.session_state:
        ctx = get_script_run_ctx()
        st.session_state["live:session"] = f"{uuid.uuid4().hex[:12]}@{ctx.session_id if ctx else ''}"
    return st.session_state["live:session"]


def session_connected(session: str) -> bool:
    """Whether a browser tab still holds this session open (also while it shows another page)."""
    runtime_id = session.partition("@")[2]
    return bool(runtime_id) and Runtime.exists() and Runtime.instance().is_active_session(runtime_id)


def require_data() -> None:
    """Load MNIST once per process, or stop the page with a message saying how to fix it. Called first on
    every lesson page, it also notes the run named in the link, before the settings rewrite the URL."""
    st.session_state["live:link"] = st.query_params.get(LINK)  # this run's link only, never an earlier page's
    try:
        load_mnist()
    except DataError as e:
        st.error(f"MNIST could not be loaded. {e}")
        st.stop()


def cost_text(runs: Iterable[TrainConfig]) -> str:
    """What a request costs, of the budget, and how long it will take here once the server has timed a job."""
    cost = request_cost(runs)
    rate = registry().seconds_per_cost
    time_here = f", about {duration_text(cost * rate)} on this server" if rate else ""
    return (
        f"{cost / 1e9:,.0f} billion multiply-adds{time_here}; the budget per request is {MAX_COST / 1e9:,.0f} billion"
    )


def start(
    page: str, *, key: Hashable, work: Callable[[Job], Any], total: int, runs: Iterable[TrainConfig]
) -> Job | None:
    """Train `runs` as the job for `key` (or show the server's result for it), within the per-request
    budget; it becomes this session's job on this page, replacing its earlier one there."""
    reg = registry()
    if reg.find(key) is None:
        try:
            check_budget(request_cost(runs), seconds_per_cost=reg.seconds_per_cost)
        except ConfigError as e:
            st.error(f"Not started: {e}.")
            return None
    try:
        job = reg.submit(key, work, total, cost=request_cost(runs), session=session_id(), page=page)
    except ServerBusy as e:
        st.warning(str(e))
        return None
    remember(page, key, job)
    return job


class Request(Protocol):
    """What a page asks to train (lab_ui.experiments.JobSpec, research.JobRequest, sweep_view.SweepRequest)."""

    key: Hashable
    work: Callable[[Job], Any]
    total: int

    @property
    def trained(self) -> tuple[TrainConfig, ...]: ...


def run_button(page: str, request: Request, *, label: str, waiting: str) -> None:
    """The ▶ button that trains `request`, or shows at once the server's result or run for these settings
    (trained by another student, before a restart, or shipped as the lesson's default); says what to do
    while nothing is shown, and when the run shown was made with other settings."""
    if st.button(label, key="run", type="primary"):
        start(page, key=request.key, work=request.work, total=request.total, runs=request.trained)
    if current(page, request.key) is None:
        st.info(waiting)
    elif current_key(page) != request.key:
        st.info(f"The charts show your previous run; the settings have changed since. Press **{label}** to run them.")


def remember(page: str, key: Hashable, job: Job) -> None:
    st.session_state[f"{page}:job"] = (key, job)
    st.session_state.pop(f"{page}:left", None)


def join(page: str, key: Hashable) -> Job | None:
    """Show the server's job for `key` on this page, if it has one (trained on another page, by another
    user, or before a restart)."""
    job = registry().find(key)
    if job is not None:
        remember(page, key, job)
    return job


def current_key(page: str) -> Hashable | None:
    entry = st.session_state.get(f"{page}:job")
    return None if entry is None else entry[0]


def current(page: str, key: Hashable | None = None) -> Job | None:
    """The page's job: this session's, else the run the link names, else (given `key`) the server's
    result or run for these settings. A stopped job stays the session's, showing what it recorded."""
    entry = st.session_state.get(f"{page}:job")
    if entry is not None:
        return entry[1]
    linked = st.session_state.pop("live:link", None)
    job = registry().find_digest(linked) if linked else None
    if job is not None:
        remember(page, job.key, job)
        return job
    return join(page, key) if key is not None else None


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def progress_text(status: JobStatus, unit: str, every: float = REFRESH_SECONDS) -> str:
    if status.state == "queued":
        place = "next in line" if status.position == 1 else f"{ordinal(status.position or 0)} in line"
        wait = (
            f"starts in about {duration_text(status.wait)}, measured from the runs ahead"
            if status.wait is not None
            else "its wait is not measured yet"
        )
        return f"Queued, {place} for a free core: {wait}."
    left = status.seconds_left
    eta = f" · about {duration_text(left)} left" if left is not None else ""
    others = f" · {status.watchers} watching" if status.watchers > 1 else ""
    redrawn = f" · redrawn every {every:.0f} s" if every >= 1.5 * REFRESH_SECONDS else ""
    done = f"{status.done:,} / {status.total:,} {unit}"
    return f"{status.state.capitalize()}: {done} · {status.elapsed:.1f} s{eta}{others}{redrawn}"


def stopped_text(status: JobStatus, unit: str) -> str:
    if status.done == 0 and status.elapsed == 0:
        return "Stopped before it started: nobody was waiting for it any more. ▶ Train queues it again."
    return (
        f"Stopped after {status.done:,} of {status.total:,} {unit}, when nobody was left watching it; what it "
        "recorded is shown. ▶ Train trains these settings again from the start."
    )


def finished_text(status: JobStatus) -> str:
    if status.stored:
        return f"Finished in {status.elapsed:.1f} s, trained earlier on this server: shown without training again."
    return f"Finished in {status.elapsed:.1f} s."


def _link(job: Job | None) -> None:
    """Name the page's run in the URL (the settings panel rewrites the URL with the settings alone)."""
    if job is not None:
        st.query_params[LINK] = key_digest(job.key)
    elif LINK in st.query_params:
        del st.query_params[LINK]


def live_panel(page: str, draw: Callable[[Any, JobStatus], None], unit: str = "steps") -> None:
    """Progress bar, stop button and `draw(result, status)`, redrawn while the page's job runs."""
    job = current(page)
    _link(job)
    if job is None:
        return
    reg, me = registry(), session_id()
    left_at = st.session_state.get(f"{page}:left")
    watching = left_at is None and not reg.status(job).finished
    every = pacer().interval(reg.watching() + 1) if watching else None  # chosen now, for this page run

    @st.fragment(run_every=every)
    def panel() -> None:
        if watching:
            reg.watch(job, me)
        job.wait_for_progress(FIRST_STEP_WAIT_SECONDS)  # returns at once after the first step
        status = reg.status(job)
        if watching and status.finished:  # it ended since the page ran: the page reruns without the timer
            st.rerun()  # and draws the result once (drawing it here too doubled a class's work at the end)
        if not status.finished and not watching:
            st.info(
                f"You stopped watching after {left_at:,} {unit}; the run goes on for the "
                f"{status.watchers} other session{'s' if status.watchers != 1 else ''} watching it. "
                "▶ Train watches it again."
            )
        elif not status.finished:
            cols = st.columns([5, 1])
            cols[0].progress(status.fraction, text=progress_text(status, unit, every or REFRESH_SECONDS))
            help_text = "Stops it for you; it ends when nobody else watches it, keeping what it recorded"
            if cols[1].button("■ Stop", key=f"{page}:stop", help=help_text):
                if reg.leave(job, me):  # nobody else watches: it ends at its next step, keeping what it recorded
                    job.wait(STOP_WAIT_SECONDS)
                else:
                    st.session_state[f"{page}:left"] = status.done
                st.rerun()
        elif status.state == "failed":
            st.error(f"The experiment failed: {status.error}")
        elif status.state == "stopped":
            st.info(stopped_text(status, unit))
        result = job.peek()
        if result is not None:
            with results_from(job.peek):  # downloads keep the job, not the result
                draw(result, status)
        if status.finished:
            st.container(key="run-finished").caption(finished_text(status))
        elif watching:
            pacer().redrawn()

    panel()
