"""Lesson: does BN make training less sensitive to the initial weights? Initialization schemes, and a
Gaussian's standard deviation from far too small to far too large, BN and no BN paired at each."""

import streamlit as st

from bn_demo import sweeps
from bn_demo.jobs import JobStatus
from lab_ui import live
from lab_ui.downloads import csv_download
from lab_ui.params import BATCH_SIZES, Param
from lab_ui.sweep_view import SEED, STEPS, base_from, count_param, run_controls, show_sweep, sweep_page

PAGE = "init_sweep"
GOOD_ACCURACY = 0.8
STDS = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)
SCHEMES = ("default", "xavier", "kaiming", "gaussian")
PARAMS = [
    Param("activation", "Activation", "sigmoid", options=("relu", "sigmoid", "tanh"), help="Sigmoid shows it best"),
    Param("layers", "Hidden layers of 100 units", 3, options=(1, 2, 3, 4)),
    Param("std_low", "Smallest Gaussian std", 1e-4, options=STDS, format="{:g}"),
    Param("std_high", "Largest Gaussian std", 10.0, options=STDS, format="{:g}"),
    count_param("Standard deviations (log-spaced)", 4),
    Param("scheme_std", "Std of the 'gaussian' scheme", 0.01, options=STDS, format="{:g}"),
    Param("lr", "Learning rate", 0.5, low=1e-4, high=100.0),
    STEPS,
    Param("batch_size", "Batch size", 128, options=BATCH_SIZES),
    SEED,
]

INTRO = (
    "The note claims BN **reduces sensitivity to initialization**. Here the same network trains with and "
    "without BN from four initialization schemes, and from Gaussian weights whose standard deviation runs "
    "from far too small (signals and gradients vanish) to far too large (sigmoids saturate)."
)


def build(s: dict) -> sweeps.Sweep:
    base = base_from(s, 100, lr=s["lr"])
    stds = sweeps.log_values("std", s["std_low"], s["std_high"], s["count"])
    schemes = sweeps.vary(base.with_(init_std=s["scheme_std"]), "init", SCHEMES)
    return sweeps.vary(base.with_(init="gaussian"), "init_std", stds) + schemes


s, sweep = sweep_page(PAGE, "Initialization sensitivity", INTRO, PARAMS, build)
run_controls(PAGE, ("init", sweep), sweep, sweeps.sweep_work(sweep))


def draw(result: sweeps.SweepResult, status: JobStatus) -> None:
    show_sweep(
        result,
        "init_std",
        "std of the Gaussian initial weights (log scale)",
        "initial std",
        GOOD_ACCURACY,
        status.state == "running",
    )
    show_sweep(
        result, "init", "initialization scheme", "initialization scheme", GOOD_ACCURACY, status.state == "running"
    )
    points = result.points()
    if result.complete:
        stds = points[points["setting"] == "init_std"]
        ok = {run: len(sweeps.working_values(stds, run, GOOD_ACCURACY)) for run in ("bn", "plain")}
        st.markdown(
            f"**What to look for:** out of {stds['value'].nunique()} standard deviations, BN reached "
            f"{GOOD_ACCURACY:.0%} from {ok['bn']} and no BN from {ok['plain']}. Where no BN is stuck near 10% "
            "(chance), its loss curve stays flat at ln 10 ≈ 2.3: no signal gets through. **Try next:** switch "
            "to relu or to one hidden layer and see how much of the gap remains; raise the steps to see whether "
            "no BN escapes later."
        )
    csv_download(points, "init_sweep.csv")


live.live_panel(PAGE, draw)
