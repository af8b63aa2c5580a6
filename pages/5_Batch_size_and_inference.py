"""Lesson: the note's two limitations, measured. BN depends on the batch size, and at inference it uses
running averages that may be badly calibrated: one BN net per batch size and seed, evaluated under six
sources of normalising statistics."""

import pandas as pd
import streamlit as st

from bn_demo.core.seeds import SeedResults
from bn_demo.experiments import calibration, sweeps
from bn_demo.serving.jobs import JobStatus
from bn_demo.views import sweep_text
from bn_demo.views.style import PNG_CONFIG
from bn_demo.views.sweep_figures import calibration_figure
from lab_ui import live
from lab_ui.downloads import csv_download
from lab_ui.params import LEARNING_RATES
from lab_ui.sweep_view import BATCH_LESSON, SMALLEST_BATCHES, downloads, run_controls, show_sweep, sweep_page, write

LESSON = BATCH_LESSON
INTRO = (
    "The note lists two limitations: **batch dependence** (small batches give inaccurate statistics) and "
    "the **training / inference difference** (at inference BN uses running averages, which hurt if badly "
    "calibrated). Here the note's network trains with and without BN at several batch sizes, over several "
    "seeds; then each BN net is evaluated on the 10,000 test images with its mean and variance taken from six "
    "sources."
)
# one short line each, so that none is cut on a phone
FORMULAS = (
    (
        "Training, a batch of m",
        r"\mu_B=\tfrac1m\textstyle\sum_i x_i,\qquad \sigma_B^2=\tfrac1m\textstyle\sum_i (x_i-\mu_B)^2",
    ),
    ("", r"\hat x=\dfrac{x-\mu_B}{\sqrt{\sigma_B^2+\epsilon}}"),
    (
        "Running averages, after every training batch (PyTorch's momentum α = 0.1)",
        r"\hat\mu\leftarrow(1-\alpha)\,\hat\mu+\alpha\,\mu_B",
    ),
    ("", r"\hat\sigma^2\leftarrow(1-\alpha)\,\hat\sigma^2+\alpha\,\tfrac{m}{m-1}\,\sigma_B^2"),
    ("Inference (eval mode)", r"\hat x=\dfrac{x-\hat\mu}{\sqrt{\hat\sigma^2+\epsilon}}"),
)

s, seeded = sweep_page(LESSON, "Batch size and inference", INTRO)
st.caption(
    f"Batch sizes: {', '.join(str(p.value) for p in seeded.sweep.points)}; "
    + (
        f"every run sees {s['examples']:,} examples, so small batches take more steps."
        if s["budget"] == "examples"
        else f"every run trains {s['steps']:,} steps, so large batches see more examples."
    )
)
run_controls(LESSON, s, seeded)


def calibration_table(results: SeedResults) -> pd.DataFrame:
    return sweeps.for_csv(sweeps.seeded_analysis(results))


def inference(results: SeedResults, training: bool) -> None:
    """Where BN's mean and variance come from at inference: the formulas, the calibration chart and what it shows."""
    analysis = sweeps.seeded_analysis(results)
    if analysis.empty:
        return
    st.subheader("At inference: which mean and variance?")
    for words, formula in FORMULAS:
        if words:
            st.markdown(words)
        st.latex(formula)
    st.caption(
        "PyTorch keeps the *unbiased* batch variance m/(m−1)·σ²_B in its running average, as Ioffe & Szegedy's "
        "Algorithm 2 does (Var[x] = m/(m−1)·E_B[σ²_B]); the training step itself normalises with the 1/m "
        "variance. The chart also shows the running averages with that factor taken out again."
    )
    st.plotly_chart(calibration_figure(analysis, sweeps.seeded_points(results)), width="stretch", config=PNG_CONFIG)
    st.caption("Mean over seeds; bars: min–max over seeds. Calibrated BN nets only: a diverged BN run has none.")
    if not training:
        noise = sweep_text.ONE_SEED_NOISE
        write(
            sweep_text.variance_factor(analysis, one_seed_noise=noise),
            *sweep_text.inference_findings(analysis, methods=calibration.METHODS, one_seed_noise=noise),
            sweep_text.batch_try_next(
                smallest=s["b_low"],
                min_smallest=min(SMALLEST_BATCHES),
                lr=s["lr"],
                max_lr=max(LEARNING_RATES),
                budget=s["budget"],
                seeds=s["seeds"],
            ),
        )
    csv_download(calibration_table, "batch_calibration.csv", "⬇ Calibration, every run (CSV)")


def draw(results: SeedResults, status: JobStatus) -> None:
    training = status.state == "running"
    show_sweep(
        results,
        "batch_size",
        axis_title="training batch size (log scale)",
        noun="batch size",
        min_accuracy=LESSON.min_accuracy,
        training=training,
    )
    downloads("batch_sweep")
    inference(results, training)


live.live_panel(LESSON.page, draw)
