"""Lesson: does BN make training less sensitive to the initial weights? Initialization schemes, and a
Gaussian's standard deviation from far too small to far too large, BN and no BN paired at each, over seeds."""

import streamlit as st

from bn_demo.core.seeds import SeedResults
from bn_demo.serving.jobs import JobStatus
from bn_demo.views import sweep_text
from lab_ui import live
from lab_ui.sweep_view import INIT_LESSON, INIT_WIDTH, downloads, run_controls, show_sweep, sweep_page, write

LESSON = INIT_LESSON


def intro(s: dict) -> str:
    net = sweep_text.network_phrase(layers=s["layers"], width=INIT_WIDTH, activation=s["activation"])
    return (
        f"The note claims BN **reduces sensitivity to initialization**. Here {net} trains with and without BN "
        "from four initialization schemes, and from Gaussian weights (in every layer, the output layer too) whose "
        "standard deviation runs from far too small (signals and gradients vanish) to far too large (units "
        "saturate or blow up, and so do the logits)."
    )


s, seeded = sweep_page(LESSON, "Initialization sensitivity", intro)
run_controls(LESSON, s, seeded)


def draw(results: SeedResults, status: JobStatus) -> None:
    training = status.state == "running"
    common = {"min_accuracy": LESSON.min_accuracy, "training": training}
    axis = "std of the Gaussian initial weights (log scale)"
    st.subheader("Gaussian initial weights, from far too small to far too large")
    stds = show_sweep(results, "init_std", axis_title=axis, noun="initial std", **common)
    if not training and not stds.empty:
        write(
            sweep_text.init_std_range(stds, min_accuracy=LESSON.min_accuracy),
            *(sweep_text.failures(stds, run, noun="std", min_accuracy=LESSON.min_accuracy) for run in ("bn", "plain")),
            sweep_text.output_layer_reason(stds, min_accuracy=LESSON.min_accuracy),
        )
    st.subheader("Initialization schemes")
    show_sweep(results, "init", axis_title="initialization scheme", noun="initialization scheme", **common)
    if not training:
        write(
            sweep_text.init_try_next(layers=s["layers"], activation=s["activation"], steps=s["steps"], seeds=s["seeds"])
        )
    downloads("init_sweep")


live.live_panel(LESSON.page, draw)
