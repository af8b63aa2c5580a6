"""What the sweep pages share: building a sweep from the settings (a message, never a traceback, for bad
ones), the budget line, the Run button, and the charts of a finished or running sweep."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import streamlit as st

from bn_demo import sweeps
from bn_demo.config import TrainConfig
from bn_demo.style import PNG_CONFIG
from bn_demo.sweep_figures import curves_figure, sensitivity_figure
from lab_ui import live
from lab_ui.nav import page_header
from lab_ui.params import Param, settings_panel, trainable

STEPS = Param("steps", "Training steps per run", 300, low=10, high=20000, help="SGD steps of every run")
SEED = Param("seed", "Seed", 0, low=0, high=10_000, help="Same seed: same initial weights and batches")


def count_param(label: str, default: int = 5) -> Param:
    return Param("count", label, default, options=tuple(range(2, sweeps.MAX_POINTS + 1)))


def sweep_page(
    page: str, title: str, intro: str, params: list[Param], build: Callable[[dict], sweeps.Sweep]
) -> tuple[dict, sweeps.Sweep]:
    """Title, what the page shows, MNIST loaded, the sidebar settings (from the URL) and the sweep that
    `build` makes of them; settings that cannot be trained stop the page with a message, never a traceback."""
    page_header(title)
    st.markdown(intro)
    live.require_data()
    settings = settings_panel(page, params)
    return settings, trainable(build, settings)


def base_from(s: dict, width: int, **settings) -> TrainConfig:
    """A sweep's fixed settings from the sidebar's values `s`: `layers` hidden layers of `width` units."""
    return sweeps.base_config(
        hidden=(width,) * s["layers"],
        activation=s["activation"],
        batch_size=s["batch_size"],
        steps=s["steps"],
        seed=s["seed"],
        **settings,
    )


def run_controls(page: str, key: Hashable, sweep: sweeps.Sweep, work) -> None:
    """The budget of this request in words, and the Run button that starts (or joins) its job."""
    runs = [p.config.with_(norm=norm) for p in sweep.points for norm in sweep.norms]
    st.caption(
        f"This sweep trains {sweep.n_runs} runs ({len(sweep.points)} values × BN and no BN), "
        f"{sweep.total_steps * len(sweep.norms):,} training steps in all: {live.cost_text(runs)}."
    )
    if st.button("▶ Run sweep", key="run", type="primary"):
        live.start(page, key=key, work=work, total=sweep.total_steps, runs=runs)
    else:
        live.current(page, key)  # a sweep with these settings that the server already has shows at once


def show_sweep(
    result: sweeps.SweepResult, setting: str, axis_title: str, noun: str, min_accuracy: float, training: bool
) -> None:
    """Findings in numbers, accuracy/loss against the value, and the loss curves as small multiples, for
    the points of `result` that vary `setting`. While `training`, only the panel of the latest value is
    drawn: the view is redrawn every second, and all panels each time would slow the training down."""
    points = result.points().query("setting == @setting")
    if points.empty:
        return
    st.markdown("\n".join(f"- {line}" for line in sweeps.summarise(points, noun, min_accuracy)))
    st.plotly_chart(
        sensitivity_figure(points, axis_title, f"Final test accuracy and loss against {noun}"),
        width="stretch",
        config=PNG_CONFIG,
    )
    curves = result.curves().query("setting == @setting")
    title = f"Training loss, one panel per {noun}"
    if training:
        latest = points["value"].iloc[-1]
        points, curves = points[points["value"] == latest], curves[curves["value"] == latest]
        title = f"Training loss at {noun} = {sweeps.value_text(latest)} (all panels when the sweep ends)"
    st.plotly_chart(curves_figure(curves, points, noun, title), width="stretch", config=PNG_CONFIG)
