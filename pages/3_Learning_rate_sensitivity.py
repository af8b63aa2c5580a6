"""Lesson: does BN let the same network train at higher learning rates? A log-spaced learning-rate sweep,
BN and no BN paired at every value, repeated over seeds."""

import streamlit as st

from bn_demo.core.seeds import SeedResults
from bn_demo.experiments import sweeps
from bn_demo.serving.jobs import JobStatus
from bn_demo.views import sweep_text
from lab_ui import live
from lab_ui.sweep_view import LR_LESSON, MAX_LAYERS, downloads, run_controls, show_sweep, sweep_page, write

LESSON = LR_LESSON
INTRO = (
    "The note claims BN allows **higher learning rates**. Here the same network trains with and without BN "
    "at log-spaced learning rates (plain SGD, paired: same initial weights, same batches), over several seeds. "
    "Look for where each version stops learning or *diverges* (training loss NaN or above 1,000: marked ✕)."
)

s, seeded = sweep_page(LESSON, "Learning-rate sensitivity", INTRO)
st.caption(f"Learning rates: {', '.join(sweeps.value_text(p.value) for p in seeded.sweep.points)}.")
run_controls(LESSON, s, seeded)


def draw(results: SeedResults, status: JobStatus) -> None:
    training = status.state == "running"
    points = show_sweep(
        results,
        "lr",
        axis_title="learning rate (log scale)",
        noun="learning rate",
        min_accuracy=LESSON.min_accuracy,
        training=training,
    )
    if not training and not points.empty:
        write(
            sweep_text.usable_lr_range(points, min_accuracy=LESSON.min_accuracy),
            sweep_text.lr_try_next(
                layers=s["layers"],
                max_layers=MAX_LAYERS,
                activation=s["activation"],
                steps=s["steps"],
                seeds=s["seeds"],
            ),
        )
    downloads("lr_sweep")


live.live_panel(LESSON.page, draw)
