"""Lesson: does BN regularise? The note's network trained on a small fixed subset of MNIST, long enough to
overfit, with BN, without, and without BN but with dropout (a known regulariser, as a reference point)."""

import streamlit as st

from bn_demo.serving.jobs import JobStatus
from bn_demo.views import comparison_text, fit_figures
from lab_ui import comparison, experiments, layout, live
from lab_ui.nav import page_header

PAGE = "regularisation"

page_header("Regularisation")
st.markdown(
    "The note says BN has *a slight regularisation effect, making models less prone to overfitting*. On all "
    "60,000 training images the note's network fits no better than it generalises, so nothing can be seen "
    "there. Here it trains on a **small fixed subset** (each digit in its share) for many epochs, until it fits "
    "every training image, and we measure what overfitting means: the **gap** between accuracy (and loss) on the "
    "training images and on the 10,000 test images. Three nets, paired within each seed (same initial weights, "
    "same batches): **BN**, **no BN**, and **no BN with dropout** on the hidden layer, a regulariser whose effect "
    "is well known, as a yardstick. A smaller gap means less overfitting."
)
comparison.lesson_controls(
    PAGE,
    experiments.regularisation_params(),
    experiments.regularisation_job,
    "Press **▶ Train**: the training and test curves and their gap appear here live while it trains.",
)


def draw(results, status: JobStatus) -> None:
    per_seed, finished = comparison.opened(results, status)
    if not per_seed:
        return
    if finished:
        heading = "**In this run** (final evaluation; test accuracy on all 10,000 test images):"
        comparison.summary_with_findings(per_seed, comparison_text.fit_finding, heading)
        layout.show_findings(
            comparison_text.gap_verdict(per_seed, "bn", "accuracy_gap"),
            comparison_text.gap_verdict(per_seed, "bn", "loss_gap"),
            comparison_text.gap_verdict(per_seed, "dropout", "accuracy_gap"),
            comparison_text.regularisation_conclusion(per_seed),
        )
    layout.show_panels([fit_figures.fit_panel(per_seed, "accuracy"), fit_figures.gap_panel(per_seed, "accuracy")])
    layout.show_panels([fit_figures.fit_panel(per_seed, "loss"), fit_figures.gap_panel(per_seed, "loss")])
    if finished:
        config = next(iter(per_seed[0].values())).config
        st.markdown(
            "**What was measured:** at every evaluation, each net's loss and accuracy on all of its training "
            f"images and on {config.eval_size:,} held-out test images, both in eval mode (BN with its running "
            "averages, dropout off); the verdicts use the last evaluation on the training images against the full "
            "test set. "
            "**What to look for:** the train curves reach 100% while the test curves level off; the gap is what "
            "the net learned about its own images that does not carry over."
        )
        layout.show_findings(comparison_text.regularisation_try_next(config))
        comparison.downloads(PAGE, ("history", "evals"))


live.live_panel(PAGE, draw)
