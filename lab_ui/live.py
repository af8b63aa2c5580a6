"""Live view of a background job: a fragment that redraws every second while the job trains.

The training thread never calls Streamlit; this fragment polls it. Results survive page changes
(the session remembers which job a page started, the server keeps the job), and clicking any
widget while it trains only reruns the script: the job goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import streamlit as st
import torch

from bn_demo import train
from bn_demo.config import ConfigError, TrainConfig
from bn_demo.data import DataError, load_mnist
from bn_demo.jobs import Job, JobRegistry, JobStatus, check_budget

REFRESH_SECONDS = 1.0  # at 0.5 s, redrawing (server and browser) slowed the default comparison from 5 s to 9 s
FIRST_STEP_WAIT_SECONDS = 0.8  # a run just started usually reports its first step well within this


@st.cache_resource
def registry() -> JobRegistry:
    """One per server: identical requests from a whole class train once. Each job trains on one thread:
    jobs run one per core, and torch's default of one thread per core per job oversubscribes the cores as
    soon as two jobs (or another process) run, which made every step about 20x slower on 2 cores."""
    torch.set_num_threads(1)
    return JobRegistry()


@st.cache_data(show_spinner="Timing a few training steps on this server…", ttl=600, max_entries=32)
def estimate(configs: tuple[TrainConfig, ...]) -> train.Estimate:
    """Measured here, with jobs' thread setting, for time estimates; re-measured every ten minutes."""
    registry()  # one torch thread, as the jobs train
    return train.estimate({str(i): c for i, c in enumerate(configs)})


def require_data() -> None:
    """Load MNIST once per process, or stop the page with a message saying how to fix it."""
    try:
        load_mnist()
    except DataError as e:
        st.error(f"MNIST could not be loaded. {e}")
        st.stop()


def start(page: str, key: Hashable, work: Callable[[Job], Any], steps: int, runs: int, total: int) -> Job | None:
    """Submit (or join) the job for `key`, within the per-request budget; remembered for this page."""
    try:
        check_budget(steps, runs)
    except ConfigError as e:
        st.error(str(e))
        return None
    job = registry().submit(key, work, total)
    st.session_state[f"{page}:job"] = (key, job)
    return job


def join(page: str, key: Hashable) -> Job | None:
    """Show the server's job for `key` on this page, if one exists (trained on another page or by another user)."""
    job = registry().get(key)
    if job is not None:
        st.session_state[f"{page}:job"] = (key, job)
    return job


def current_key(page: str) -> Hashable | None:
    entry = st.session_state.get(f"{page}:job")
    return None if entry is None else entry[0]


def current(page: str) -> Job | None:
    """The page's job: the server's for its key or, once the server has dropped it (stopped, failed),
    the session's own reference, so that a stopped run keeps showing what it recorded."""
    entry = st.session_state.get(f"{page}:job")
    if entry is None:
        return None
    key, job = entry
    return registry().get(key) or job


def progress_text(status: JobStatus, unit: str) -> str:
    if status.state == "queued":
        return "Waiting for a free core: other experiments are training…"
    left = status.seconds_left
    eta = f" · about {left:.0f} s left" if left is not None else ""
    return f"{status.state.capitalize()}: {status.done:,} / {status.total:,} {unit} · {status.elapsed:.1f} s{eta}"


def live_panel(page: str, draw: Callable[[Any, JobStatus], None], unit: str = "steps") -> None:
    """Progress bar, stop button and `draw(result, status)`, redrawn while the page's job runs."""
    job = current(page)
    if job is None:
        return
    running = not job.finished

    @st.fragment(run_every=REFRESH_SECONDS if running else None)
    def panel() -> None:
        job.wait_for_progress(FIRST_STEP_WAIT_SECONDS)  # returns at once after the first step
        status = job.status()
        if not job.finished:
            cols = st.columns([5, 1])
            cols[0].progress(status.fraction, text=progress_text(status, unit))
            if cols[1].button("■ Stop training", key=f"{page}:stop", help="Ends the run and keeps what it recorded"):
                job.stop()
        elif status.state == "failed":
            st.error(f"The experiment failed: {status.error}")
        elif status.state == "stopped":
            st.info(f"Stopped by a user after {status.done:,} of {status.total:,} {unit}; what was recorded is shown.")
        result = job.peek()
        if result is not None:
            draw(result, status)
        if job.finished:
            st.container(key="run-finished").caption(f"Finished in {status.elapsed:.1f} s.")
            if running:  # the job ended during this fragment's life: rerun once so the timer stops
                st.rerun()

    panel()
