"""Lesson: the note's network trained with and without BatchNorm, paired, watched live."""

import streamlit as st

from bn_demo import figures
from bn_demo.jobs import JobStatus
from bn_demo.results import RunResult
from bn_demo.style import PNG_CONFIG
from lab_ui import comparison, live
from lab_ui.nav import page_header
from lab_ui.params import build_or_stop, settings_panel

PAGE = "train"

page_header("Train & compare")
st.markdown(
    "The note's network — `Linear(784, 256) → BatchNorm1d(256) → ReLU → Linear(256, 10)` — trained on real MNIST "
    "with and without BatchNorm, **paired**: same initial weights, same minibatches in the same order, so any "
    "difference between the curves comes from BN alone. Change the settings in the sidebar, then press **▶ Train**."
)
live.require_data()
settings = settings_panel(PAGE, comparison.comparison_params())
configs = build_or_stop(comparison.configs_from, settings)
comparison.train_controls(PAGE, configs)
if live.current(PAGE) is None:
    st.info("Press **▶ Train**: the loss, accuracy and layer statistics appear here live while it trains.")


def findings(run: RunResult) -> str:
    """What this run showed, in numbers taken from it."""
    last_layer = len(run.config.hidden)
    var = figures.layer_table(run, last_layer)["var"]
    return (
        f"{run.test_accuracy:.1%} test accuracy after {run.steps:,} steps (test loss {run.test_loss:.3f}); the "
        f"batch variance of layer {last_layer}'s pre-activations went from {var.iloc[0]:.3g} to {var.iloc[-1]:.3g} "
        f"(range {var.min():.3g}–{var.max():.3g}); train–test gap (test loss minus the final training loss) "
        f"{run.test_loss - run.train_loss:+.3f}."
    )


def draw(runs: dict[str, RunResult], status: JobStatus) -> None:
    finished = status.state in ("done", "stopped")
    comparison.diverged_text(runs)
    if finished:
        comparison.summary(runs)
        st.markdown("**In this run:**\n" + comparison.run_bullets(runs, findings))
    st.plotly_chart(figures.training_curves(runs), width="stretch", config=PNG_CONFIG)
    st.plotly_chart(
        figures.layer_statistics(runs, "Input of the nonlinearity: batch mean and variance per hidden layer"),
        width="stretch",
        config=PNG_CONFIG,
    )
    if finished:
        st.markdown(
            "**What to look for:** which curve reaches a low test loss first, and how far the variance of the "
            "pre-activations wanders without BN while BN pins it near γ² (≈ 1 at the start). The note says BN "
            "regularises a little: if so, BN's train–test gap should be the smaller one once training fits well. "
            "**Try next:** raise the learning rate to 3 or 10 and see which run diverges first; pick the gaussian "
            "initialization with std 0.001 or 1; or shrink the batch to 4 and watch BN's batch statistics get noisy. "
            "All numbers on this page come from the run above, trained on this server."
        )
        comparison.downloads(runs, PAGE, ("history", "evals", "layers"))


live.live_panel(PAGE, draw)
