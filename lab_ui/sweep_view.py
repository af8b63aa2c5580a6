"""The sweep lessons (learning rate, initialization, batch size): each one's settings and the experiment they
build, importable without running a page, so that one command can regenerate every lesson's default
(`SweepLesson.request(lesson.defaults())`); and what their pages share: the settings panel, the budget line,
the Run button, and the table, charts and downloads of a finished or running sweep over seeds."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from bn_demo.core.config import TrainConfig
from bn_demo.core.seeds import SeedResults, seed_list
from bn_demo.experiments import calibration, sweeps
from bn_demo.serving.jobs import Job
from bn_demo.views import sweep_text
from bn_demo.views.style import PNG_CONFIG
from bn_demo.views.sweep_figures import curve_figure, loss_range, panel_title, sensitivity_figure
from bn_demo.views.verdicts import Finding
from lab_ui import live
from lab_ui.downloads import csv_download
from lab_ui.nav import page_header
from lab_ui.params import BATCH_SIZES, LEARNING_RATES, Param, build_or_stop, defaults, seeds_param, settings_panel

STEPS = Param("steps", "Training steps per run", 300, low=10, high=sweep_text.MAX_STEPS, help="SGD steps of every run")
SEED = Param("seed", "First seed", 0, low=0, high=10_000, help="Same seed: same initial weights and batches")
SEEDS = seeds_param()
PANEL_COLUMNS = 3  # training-loss panels per row; Streamlit stacks them on a phone
MAX_LAYERS = 4
INIT_STDS = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)
INIT_SCHEMES = ("default", "xavier", "kaiming", "gaussian")
INIT_WIDTH = 100
SMALLEST_BATCHES = (2, 4, 8, 16, 32)


def count_param(label: str, default: int = 5) -> Param:
    return Param("count", label, default, options=tuple(range(2, sweeps.MAX_POINTS + 1)))


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


WAITING = "Press **▶ Run sweep**: each value's results appear here while it trains."


@dataclass(frozen=True)
class SweepRequest:
    """What a sweep page asks the server to train (live.Request)."""

    key: Hashable
    work: Callable[[Job], Any]
    total: int  # training steps over all values and seeds
    seeded: sweeps.SeededSweep

    @property
    def trained(self) -> tuple[TrainConfig, ...]:
        return self.seeded.trained


@dataclass(frozen=True)
class SweepLesson:
    """A sweep page's experiment: its settings and the sweep they build (ConfigError for settings that cannot
    be trained), repeated over the settings' seeds, paired BN / no BN within each seed."""

    page: str
    params: tuple[Param, ...]
    build: Callable[[dict], sweeps.Sweep]  # at the first seed
    min_accuracy: float  # the accuracy a run must reach in every seed for its value to count as trained
    analyse: sweeps.Analysis | None = None

    def defaults(self) -> dict[str, Any]:
        return defaults(self.params)

    def seeded(self, settings: dict) -> sweeps.SeededSweep:
        return sweeps.SeededSweep(self.build(settings), seed_list(settings["seed"], settings["seeds"]))

    def request(self, settings: dict) -> SweepRequest:
        """The job of these settings: its key holds the page, the sweep and its seeds."""
        seeded = self.seeded(settings)
        return SweepRequest((self.page, seeded), seeded.work(analyse=self.analyse), seeded.total_steps, seeded)


def lr_sweep(s: dict) -> sweeps.Sweep:
    rates = sweeps.log_values("learning rate", s["lr_low"], s["lr_high"], s["count"])
    return sweeps.vary(base_from(s, 256), "lr", rates)


def init_sweep(s: dict) -> sweeps.Sweep:
    base = base_from(s, INIT_WIDTH, lr=s["lr"])
    stds = sweeps.log_values("std", s["std_low"], s["std_high"], s["count"])
    schemes = sweeps.vary(base.with_(init_std=s["scheme_std"]), "init", INIT_SCHEMES)
    return sweeps.vary(base.with_(init="gaussian"), "init_std", stds) + schemes


def batch_sweep(s: dict) -> sweeps.Sweep:
    sizes = sweeps.geometric_ints("batch size", s["b_low"], s["b_high"], s["ratio"])
    base = sweeps.base_config(lr=s["lr"], steps=s["steps"], seed=s["seed"])
    return sweeps.batch_size_sweep(base, sizes, s["examples"] if s["budget"] == "examples" else None)


ACTIVATIONS = ("relu", "sigmoid", "tanh")
LR_LESSON = SweepLesson(
    "lr_sweep",
    (
        Param("lr_low", "Lowest learning rate", 0.01, options=LEARNING_RATES),
        Param("lr_high", "Highest learning rate", 30.0, options=LEARNING_RATES),
        count_param("Learning rates (log-spaced)"),
        STEPS,
        Param("batch_size", "Batch size", 128, options=BATCH_SIZES),
        Param("layers", "Hidden layers of 256 units", 1, options=tuple(range(1, MAX_LAYERS + 1))),
        Param("activation", "Activation", "relu", options=ACTIVATIONS),
        SEEDS,
        SEED,
    ),
    lr_sweep,
    min_accuracy=0.9,
)
INIT_LESSON = SweepLesson(
    "init_sweep",
    (
        Param("activation", "Activation", "sigmoid", options=ACTIVATIONS, help="Sigmoid shows it best"),
        Param("layers", f"Hidden layers of {INIT_WIDTH} units", 3, options=tuple(range(1, MAX_LAYERS + 1))),
        Param("std_low", "Smallest Gaussian std", 1e-4, options=INIT_STDS, format="{:g}"),
        Param("std_high", "Largest Gaussian std", 10.0, options=INIT_STDS, format="{:g}"),
        count_param("Standard deviations (log-spaced)", 4),
        Param("scheme_std", "Std of the 'gaussian' scheme", 0.01, options=INIT_STDS, format="{:g}"),
        Param("lr", "Learning rate", 0.5, low=1e-4, high=100.0),
        STEPS,
        Param("batch_size", "Batch size", 128, options=BATCH_SIZES),
        SEEDS,
        SEED,
    ),
    init_sweep,
    min_accuracy=0.8,
)
BUDGETS = {"steps": "fixed steps", "examples": "fixed examples seen"}
BATCH_LESSON = SweepLesson(
    "batch_sweep",
    (
        Param("b_low", "Smallest batch size", 4, options=SMALLEST_BATCHES),
        Param("b_high", "Largest batch size", 256, options=(64, 128, 256, 512, 1024)),
        Param("ratio", "Batch size grows ×", 4, options=(2, 4)),
        Param("budget", "Compare at", "steps", options=tuple(BUDGETS), format="{}", widget="segmented"),
        Param("steps", "Training steps per run (fixed steps)", 300, low=10, high=sweep_text.MAX_STEPS),
        Param("examples", "Examples seen per run (fixed examples)", 38_400, low=1_000, high=600_000),
        Param("lr", "Learning rate", 0.1, options=LEARNING_RATES),
        SEEDS,
        SEED,
    ),
    batch_sweep,
    min_accuracy=0.9,
    analyse=calibration.analyse_point,
)
LESSONS = (LR_LESSON, INIT_LESSON, BATCH_LESSON)


def sweep_page(lesson: SweepLesson, title: str, intro: str | Callable[[dict], str]) -> tuple[dict, sweeps.SeededSweep]:
    """Title, what the page shows (`intro`, or a function of the settings), MNIST loaded, the sidebar settings
    (from the URL) and the sweep they make; settings that cannot be trained stop the page with a message."""
    page_header(title)
    placeholder = st.empty()
    live.require_data()
    settings = settings_panel(lesson.page, list(lesson.params))
    placeholder.markdown(intro(settings) if callable(intro) else intro)
    return settings, build_or_stop(lesson.seeded, settings)


def run_controls(lesson: SweepLesson, settings: dict, seeded: sweeps.SeededSweep) -> None:
    """The size and cost of this request in words, and the Run button that starts (or shows) its job."""
    values, n = len(seeded.sweep.points), len(seeded.seeds)
    st.caption(
        f"This sweep trains {seeded.n_runs} runs ({values} values × BN and no BN × {n} seed{'s' * (n > 1)}), "
        f"{seeded.total_steps * len(seeded.sweep.norms):,} training steps in all: {live.cost_text(seeded.trained)}."
    )
    live.run_button(lesson.page, lesson.request(settings), label="▶ Run sweep", waiting=WAITING)


def write(*findings: Finding) -> None:
    """The page lays the engine's sentences out; an empty finding (nothing to say) writes nothing."""
    for finding in findings:
        if finding:
            st.markdown(finding.text)


def _curve_panels(results: SeedResults, points: pd.DataFrame, setting: str, noun: str, training: bool) -> None:
    """Training loss, one small panel per value in rows of PANEL_COLUMNS (stacked on a phone). While the sweep
    trains only the latest value is drawn: the view is redrawn every second, and every panel would slow it."""
    curves = sweeps.of_setting(sweeps.seeded_curves(results), setting)
    values = list(dict.fromkeys(points["value"]))
    if training:
        latest = points["value"].iloc[-1]
        st.markdown(f"**Training loss at {panel_title(latest, noun)}** (every value when the sweep ends)")
        values = [latest]
    else:
        st.markdown(f"**Training loss, one panel per {noun}**")
    axis = loss_range(curves)
    for start in range(0, len(values), PANEL_COLUMNS):
        columns = st.columns(PANEL_COLUMNS)
        for column, value in zip(columns, values[start : start + PANEL_COLUMNS], strict=False):
            figure = curve_figure(curves, points, value, noun=noun, y_axis=axis)
            column.plotly_chart(figure, width="stretch", config=PNG_CONFIG)


def show_sweep(
    results: SeedResults, setting: str, *, axis_title: str, noun: str, min_accuracy: float, training: bool
) -> pd.DataFrame:
    """For the points of `results` that vary `setting`: each run's summary (once the sweep is over), the table
    over seeds, accuracy and loss against the value (side by side, stacked on a phone) and the loss curves.
    Returns those points."""
    points = sweeps.of_setting(sweeps.seeded_points(results), setting)
    if points.empty:
        return points
    if not training:
        write(*sweep_text.summarise(points, noun=noun, min_accuracy=min_accuracy))
    table = sweep_text.value_table(points, noun=noun, one_seed_noise=sweep_text.ONE_SEED_NOISE)
    if len(table):
        verdict = st.column_config.TextColumn(width="large")
        st.dataframe(table, hide_index=True, width="stretch", height="content", column_config={"verdict": verdict})
    left, right = st.columns(2)
    for column, quantity, name in ((left, "test_accuracy", "Test accuracy"), (right, "test_loss", "Test loss")):
        figure = sensitivity_figure(points, column=quantity, axis_title=axis_title, title=f"{name} against {noun}")
        column.plotly_chart(figure, width="stretch", config=PNG_CONFIG)
    seeds = sweeps.decided(points)["seed"].nunique()
    st.caption(
        f"Lines: mean over {seeds} seed{'s' * (seeds != 1)}"
        + ("; shaded (or bars): min–max over seeds" if seeds > 1 else "")
        + "; ✕: a run diverged (loss NaN or above 1,000; hover for the seeds and the step)."
    )
    _curve_panels(results, points, setting, noun, training)
    return points


def per_value_table(results: SeedResults) -> pd.DataFrame:
    return sweeps.for_csv(sweeps.by_value(sweeps.seeded_points(results)))


def every_run_table(results: SeedResults) -> pd.DataFrame:
    return sweeps.for_csv(sweeps.seeded_points(results))


def downloads(stem: str) -> None:
    """Per value (mean, sd, min, max over seeds, diverged and ahead-in counts) and every run, as CSV."""
    left, right = st.columns(2)
    with left:
        csv_download(per_value_table, f"{stem}_by_value.csv", "⬇ Per value, over seeds (CSV)")
    with right:
        csv_download(every_run_table, f"{stem}_runs.csv", "⬇ Every run (CSV)")
