"""Lesson: does BN let the same network train at higher learning rates? A log-spaced learning-rate sweep,
BN and no BN paired at every value."""

import streamlit as st

from bn_demo import sweeps
from bn_demo.jobs import JobStatus
from lab_ui import live
from lab_ui.downloads import csv_download
from lab_ui.params import BATCH_SIZES, LEARNING_RATES, Param
from lab_ui.sweep_view import SEED, STEPS, base_from, count_param, run_controls, show_sweep, sweep_page

PAGE = "lr_sweep"
GOOD_ACCURACY = 0.9
PARAMS = [
    Param("lr_low", "Lowest learning rate", 0.01, options=LEARNING_RATES),
    Param("lr_high", "Highest learning rate", 30.0, options=LEARNING_RATES),
    count_param("Learning rates (log-spaced)"),
    STEPS,
    Param("batch_size", "Batch size", 128, options=BATCH_SIZES),
    Param("layers", "Hidden layers of 256 units", 1, options=(1, 2, 3, 4)),
    Param("activation", "Activation", "relu", options=("relu", "sigmoid", "tanh")),
    SEED,
]

INTRO = (
    "The note claims BN allows **higher learning rates**. Here the same network trains with and without BN "
    "at log-spaced learning rates (plain SGD, paired: same initial weights, same batches). Look for where "
    "each version stops learning or *diverges* (training loss NaN or above 1,000: marked ✕)."
)


def build(s: dict) -> sweeps.Sweep:
    rates = sweeps.log_values("learning rate", s["lr_low"], s["lr_high"], s["count"])
    return sweeps.vary(base_from(s, 256), "lr", rates)


s, sweep = sweep_page(PAGE, "Learning-rate sensitivity", INTRO, PARAMS, build)
st.caption(f"Learning rates: {', '.join(sweeps.value_text(p.value) for p in sweep.points)}.")
run_controls(PAGE, ("lr", sweep), sweep, sweeps.sweep_work(sweep))


def draw(result: sweeps.SweepResult, status: JobStatus) -> None:
    show_sweep(result, "lr", "learning rate (log scale)", "learning rate", GOOD_ACCURACY, status.state == "running")
    if result.complete:
        points = result.points()
        ok = {run: sweeps.working_values(points, run, GOOD_ACCURACY) for run in ("bn", "plain")}
        top = {run: sweeps.value_text(max(v)) if v else "none" for run, v in ok.items()}
        st.markdown(
            f"**What to look for:** the highest learning rate that still reached {GOOD_ACCURACY:.0%} was "
            f"{top['bn']} with BN and {top['plain']} without. Compare the curves of the panels near that edge: "
            "the run that is about to diverge shows spikes first. **Try next:** add hidden layers or switch to "
            "sigmoid and see whether the gap widens; raise the steps to see whether the small learning rates "
            "catch up."
        )
    csv_download(result.points(), "lr_sweep.csv")


live.live_panel(PAGE, draw)
