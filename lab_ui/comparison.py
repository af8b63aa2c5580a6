"""A paired BN / no-BN comparison as the lab pages lay it out: the Train button within the server's
budget, panels side by side (stacked on a phone), the table, the findings and the downloads every
comparison ends with. Results are one comparison ({name: RunResult}) or one per seed (SeedResults)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd
import streamlit as st

from bn_demo.core.config import IOFFE_2015, MNIST_TRAIN
from bn_demo.core.results import RunResult, combined, stacked
from bn_demo.core.train import DIVERGED_LOSS
from bn_demo.serving.jobs import JobStatus
from bn_demo.views import comparison_text, figures
from bn_demo.views.style import SMOOTHING, label
from lab_ui import live
from lab_ui.downloads import csv_download
from lab_ui.experiments import MAX_STEPS, JobSpec
from lab_ui.layout import finding_bullets, show_findings
from lab_ui.params import LEARNING_RATES, Param, build_or_stop, settings_panel

__all__ = ["IOFFE_LR", "MAX_STEPS"]  # MAX_STEPS: pages 6 and 7 read it from here
IOFFE_LR = Param(  # the learning rates offered, and the preset's (which is not one of them)
    "lr", "Learning rate (log scale)", IOFFE_2015.lr, options=tuple(sorted({*LEARNING_RATES, IOFFE_2015.lr}))
)


def lesson_controls(page: str, params: list[Param], build: Callable[[dict], JobSpec], waiting: str) -> None:
    """A lesson's top: data loaded, settings in the sidebar (from the URL), the job they make, the Train
    button, and what to do while nothing is shown yet."""
    live.require_data()
    spec = build_or_stop(build, settings_panel(page, params))
    train_controls(page, spec, waiting)


def opened(results, status: JobStatus) -> tuple[list[dict[str, RunResult]], bool]:
    """The results per seed (with a warning per net that diverged) and whether training has ended."""
    per_seed = figures.seed_runs(results)
    diverged_text(per_seed)
    return per_seed, status.state in ("done", "stopped")


def train_controls(page: str, spec: JobSpec, waiting: str) -> None:
    """The budget, the Train button, and joining a run with these settings that already exists."""
    configs, seeds = spec.configs, spec.seeds
    first = next(iter(configs.values()))
    nets = len(configs)
    paired = ", paired (same initial weights, same minibatches within each seed)" if nets > 1 else ""
    seed_words = f"{len(seeds)} seeds ({seeds[0]}–{seeds[-1]})" if len(seeds) > 1 else f"seed {seeds[0]}"
    epochs = comparison_text.epoch_text(first.steps, first.batch_size, first.train_size or MNIST_TRAIN)
    st.caption(
        f"Trains {nets} net{'s' if nets > 1 else ''} × {seed_words} × {first.steps:,} steps{paired}; {epochs}: "
        f"{live.cost_text(spec.trained)}."
    )
    live.run_button(page, spec, label="▶ Train", waiting=waiting)


def smoothing_control(page: str) -> float:
    """TensorBoard's smoothing slider for the training-batch curves (the raw curve stays faint behind)."""
    return st.slider(
        "Smoothing of the training-batch curves",
        0.0,
        0.99,
        SMOOTHING,
        0.01,
        key=f"{page}:smoothing",
        help="Exponential moving average with this weight on the past, debiased as in TensorBoard; 0 = raw",
    )


def diverged_text(results) -> None:
    """A warning per net that diverged (in how many seeds, at which steps)."""
    per_seed = figures.seed_runs(results)
    for name in figures.nets(per_seed):
        text = figures.diverged_label(per_seed, name)
        if text:
            st.warning(
                f"**{text}**: its training loss became NaN, infinite or larger than {DIVERGED_LOSS:,.0f}, so it "
                "stopped there (marked ✕ on the charts)."
            )


def run_bullets(runs: dict[str, RunResult], describe: Callable[[RunResult], str]) -> str:
    """One markdown bullet per run, "- **BN**: …", in `describe(run)`'s words for a run that recorded steps."""
    lines = []
    for name, run in runs.items():
        if run.diverged:
            text = f"diverged at step {run.diverged_at}."
        elif run.layers.empty:
            text = "stopped before any step was recorded."
        else:
            text = describe(run)
        lines.append(f"- **{label(name)}**: {text}")
    return "\n".join(lines)


def summary(results, reference: str = "plain") -> None:
    """The comparison table (mean ± sd over seeds, "above no BN's in k of n seeds") and, for a BN / no-BN
    pair, what BN costs per step."""
    per_seed = figures.seed_runs(results)
    st.dataframe(figures.summary_table(per_seed, reference), hide_index=True)
    show_findings(comparison_text.cost_of_bn(per_seed))


def summary_with_findings(per_seed: list[dict[str, RunResult]], describe: Callable, heading: str) -> None:
    """The summary, then one bullet per net in `describe(per_seed, name)`'s words under `heading`."""
    summary(per_seed)
    bullets = {name: describe(per_seed, name) for name in figures.nets(per_seed)}
    st.markdown(f"{heading}\n" + finding_bullets(bullets))


def every_run_table(results, table: str) -> pd.DataFrame:
    """One recorded table of every run, stacked with `run` (and, over seeds, `seed`) columns."""
    per_seed = figures.seed_runs(results)
    frames = [combined(runs, table).assign(seed=next(iter(runs.values())).config.seed) for runs in per_seed]
    first = ["seed", "run"] if len(per_seed) > 1 else ["run"]
    return stacked([f if len(per_seed) > 1 else f.drop(columns="seed") for f in frames], first)


def downloads(page: str, tables_offered: tuple[str, ...]) -> None:
    """One CSV per recorded table of the run drawn (every_run_table), made when clicked."""
    cols = st.columns(len(tables_offered))
    for col, table in zip(cols, tables_offered, strict=True):
        with col:
            csv_download(partial(every_run_table, table=table), f"{page}_{table}.csv", f"⬇ {table} (CSV)")
