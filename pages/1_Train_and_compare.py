"""Lesson: the note's network trained with and without BatchNorm, paired within each seed, watched live."""

import streamlit as st

from bn_demo.serving.jobs import JobStatus
from bn_demo.views import comparison_text, figures
from lab_ui import comparison, experiments, layout, live
from lab_ui.nav import page_header

PAGE = "train"

page_header("Train & compare")
st.markdown(
    "The note's network — `Linear(784, 256) → BatchNorm1d(256) → ReLU → Linear(256, 10)` — trained on real MNIST "
    "with and without BatchNorm. With both, the two nets are **paired** within each seed: same initial weights, "
    "same minibatches in the same order, so any difference between their curves comes from BN alone; repeating "
    "over seeds shows how much of it is seed-to-seed noise. Change the settings in the sidebar, then press "
    "**▶ Train**."
)
comparison.lesson_controls(
    PAGE,
    experiments.train_params(),
    experiments.train_job,
    "Press **▶ Train**: the loss, accuracy and layer statistics appear here live while it trains.",
)


def draw(results, status: JobStatus) -> None:
    per_seed, finished = comparison.opened(results, status)
    if not per_seed:
        return
    if finished:
        comparison.summary_with_findings(per_seed, comparison_text.net_finding, "**In this run:**")
        layout.show_findings(comparison_text.accuracy_verdict(per_seed))
    smoothing = comparison.smoothing_control(PAGE)
    layout.show_panels(
        [figures.loss_panel(per_seed, smoothing=smoothing), figures.accuracy_panel(per_seed, smoothing=smoothing)]
    )
    st.markdown("**Input of the nonlinearity, per hidden layer** (with BN, this is BN's output)")
    layout.show_panels(figures.layer_panels(per_seed))
    gaps = figures.running_gap_panels(per_seed)
    if gaps:
        st.markdown(
            "**BN's input, batch by batch.** In training, BN normalises with each batch's own mean and variance; "
            "at inference it uses running averages of them (the variance made unbiased, ×m/(m−1)). How far a "
            "batch's statistics fall from those averages (averaged over units, relative to the running average) "
            "is the noise BN adds, and it grows as the batch shrinks:"
        )
        layout.show_panels(gaps)
    if finished:
        config = next(iter(per_seed[0].values())).config
        st.markdown(
            "**What to look for:** which net reaches a low test loss first, and how far the variance of the "
            "pre-activations wanders without BN while BN pins it near γ² (≈ 1 at the start). Whether BN "
            "regularises is tested on the **Regularisation** page: on all 60,000 images, neither net overfits here."
        )
        names = figures.nets(per_seed)
        layout.show_findings(comparison_text.try_next(config, seeds=len(per_seed), names=names))
        st.caption("All numbers on this page come from the run above, trained on this server.")
        comparison.downloads(PAGE, ("history", "evals", "layers"))


live.live_panel(PAGE, draw)
