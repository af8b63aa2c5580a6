"""Lesson: the note's two limitations, measured. BN depends on the batch size, and at inference it uses
running averages that may be badly calibrated: one BN net per batch size, evaluated under five sources
of normalising statistics."""

import streamlit as st

from bn_demo import calibration, sweeps
from bn_demo.jobs import JobStatus
from bn_demo.style import PNG_CONFIG
from bn_demo.sweep_figures import calibration_figure
from lab_ui import live
from lab_ui.downloads import csv_download
from lab_ui.params import LEARNING_RATES, Param
from lab_ui.sweep_view import SEED, run_controls, show_sweep, sweep_page

PAGE = "batch_sweep"
GOOD_ACCURACY = 0.9
BUDGETS = {"steps": "fixed steps", "examples": "fixed examples seen"}
PARAMS = [
    Param("b_low", "Smallest batch size", 4, options=(2, 4, 8, 16, 32)),
    Param("b_high", "Largest batch size", 256, options=(64, 128, 256, 512, 1024)),
    Param("ratio", "Batch size grows ×", 4, options=(2, 4)),
    Param("budget", "Compare at", "steps", options=tuple(BUDGETS), format="{}", widget="segmented"),
    Param("steps", "Training steps per run (fixed steps)", 300, low=10, high=20000),
    Param("examples", "Examples seen per run (fixed examples)", 38_400, low=1_000, high=600_000),
    Param("lr", "Learning rate", 0.1, options=LEARNING_RATES),
    SEED,
]

INTRO = (
    "The note lists two limitations: **batch dependence** (small batches give inaccurate statistics) and "
    "the **training / inference difference** (at inference BN uses running averages, which hurt if badly "
    "calibrated). Here the note's network trains with and without BN at several batch sizes; then each BN "
    "net is evaluated on the 10,000 test images with its mean and variance taken from five sources."
)


def build(s: dict) -> sweeps.Sweep:
    sizes = sweeps.geometric_ints("batch size", s["b_low"], s["b_high"], s["ratio"])
    base = sweeps.base_config(lr=s["lr"], steps=s["steps"], seed=s["seed"])
    return sweeps.batch_size_sweep(base, sizes, s["examples"] if s["budget"] == "examples" else None)


s, sweep = sweep_page(PAGE, "Batch size and inference", INTRO, PARAMS, build)
fixed_examples = s["budget"] == "examples"
st.caption(
    f"Batch sizes: {', '.join(str(p.value) for p in sweep.points)}; "
    + (
        f"every run sees {s['examples']:,} examples, so small batches take more steps."
        if fixed_examples
        else f"every run trains {s['steps']:,} steps, so large batches see more examples."
    )
)
run_controls(PAGE, ("batch", sweep), sweep, sweeps.sweep_work(sweep, analyse=calibration.analyse_point))


def accuracy(analysis, method: str, value) -> float:
    row = analysis[(analysis["method"] == method) & (analysis["value"] == value)]
    return float(row["test_accuracy"].iloc[0]) if len(row) else float("nan")


def conclusions(analysis) -> None:
    small, large = analysis["value"].min(), analysis["value"].max()

    def both(method: str) -> str:
        return f"{accuracy(analysis, method, small):.1%} / {accuracy(analysis, method, large):.1%}"

    gap = {b: accuracy(analysis, "running", b) - accuracy(analysis, "batch", b) for b in (small, large)}
    verdict = "beat" if gap[small] > 0 else "did not beat"
    st.markdown(
        f"**What a student should conclude** (numbers at batch size {small} / {large}). Normalising each test "
        f"batch by its own statistics gave {both('batch')}, the running averages {both('running')}: at batch "
        f"size {small} the averages over many batches {verdict} the noisy statistics of one batch by "
        f"{abs(gap[small]) * 100:.1f} percentage points, at batch size {large} the difference was "
        f"{abs(gap[large]) * 100:.1f}. The averages are "
        f"only as good as their calibration: recomputed over {calibration.RECOMPUTE_EXAMPLES:,} training images "
        f"they gave {both('recomputed')}; built with momentum {calibration.LAG_MOMENTUM} over "
        f"{calibration.LAG_BATCHES} batches (still {calibration.LAG_INITIAL_WEIGHT:.0%} made of the initial 0 / 1) "
        f"{both('lagging')}; reset to 0 / 1 {both('reset')}. **Try next:** a smallest batch of 2, a larger "
        "learning rate, or fixed examples seen instead of fixed steps."
    )


def draw(result: sweeps.SweepResult, status: JobStatus) -> None:
    show_sweep(
        result, "batch_size", "training batch size (log scale)", "batch size", GOOD_ACCURACY, status.state == "running"
    )
    analysis = result.analysis()
    if analysis.empty:
        return
    st.plotly_chart(calibration_figure(analysis, result.points()), width="stretch", config=PNG_CONFIG)
    if result.complete:
        conclusions(analysis)
    cols = st.columns(2)
    with cols[0]:
        csv_download(result.points(), "batch_sweep.csv")
    with cols[1]:
        csv_download(analysis, "batch_calibration.csv", "⬇ Download calibration (CSV)")


live.live_panel(PAGE, draw)
