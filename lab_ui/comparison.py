"""A paired BN / no-BN comparison as the lab pages set it up: the settings, the configs they make, the Train
button within the server's budget, and the table and downloads every comparison ends with."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from bn_demo import figures, tables
from bn_demo.config import ACTIVATIONS, INITS, TrainConfig
from bn_demo.jobs import training_work
from bn_demo.presets import IOFFE_2015
from bn_demo.results import RunResult
from bn_demo.style import label
from bn_demo.train import DIVERGED_LOSS
from lab_ui import live
from lab_ui.downloads import csv_download
from lab_ui.params import BATCH_SIZES, LEARNING_RATES, Param

NORM_CHOICES = {"both": ("bn", "plain"), "on": ("bn",), "off": ("plain",)}
INIT_STDS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
WIDTH = 256  # the note's hidden layer
IOFFE_LR = Param(  # the learning rates offered, and the preset's (which is not one of them)
    "lr", "Learning rate (log scale)", IOFFE_2015.lr, options=tuple(sorted({*LEARNING_RATES, IOFFE_2015.lr}))
)
MAX_STEPS = 100_000  # the widget allows more than the budget, so that the budget's message can be seen


def comparison_params(layers: int = 1) -> list[Param]:
    """The settings of a paired comparison; `layers` is the page's default number of hidden layers."""
    return [
        Param("bn", "BatchNorm", "both", options=tuple(NORM_CHOICES), help="Train with BN, without, or both paired"),
        Param("lr", "Learning rate (log scale)", 0.1, options=LEARNING_RATES, help="Plain SGD, no momentum"),
        Param("batch_size", "Batch size", 128, options=BATCH_SIZES),
        Param("steps", "Training steps", 500, low=10, high=MAX_STEPS, help="SGD updates; 469 steps of 128 = 1 epoch"),
        Param("layers", f"Hidden layers of {WIDTH} units", layers, options=(1, 2, 3, 4)),
        Param("activation", "Hidden activation", "relu", options=ACTIVATIONS),
        Param("init", "Weight initialization", "default", options=INITS, widget="selectbox"),
        Param(
            "init_std", "Gaussian init std", 0.01, options=INIT_STDS, help="Used when the initialization is gaussian"
        ),
        Param("seed", "Seed", 0, low=0, high=10_000, help="Same seed: same initial weights and minibatches"),
    ]


def configs_from(settings: dict, **extra) -> dict[str, TrainConfig]:
    """Name -> config of every run to train paired; ConfigError names a setting that cannot be trained."""
    base = TrainConfig(
        hidden=(WIDTH,) * settings["layers"],
        activation=settings["activation"],
        init=settings["init"],
        init_std=settings["init_std"],
        lr=settings["lr"],
        batch_size=settings["batch_size"],
        steps=settings["steps"],
        seed=settings["seed"],
        **extra,
    )
    return {norm: base.with_(norm=norm) for norm in NORM_CHOICES[settings["bn"]]}


def train_controls(page: str, configs: dict[str, TrainConfig]) -> None:
    """The budget, the Train button, and joining a run with these settings that already exists."""
    key = tuple(configs.values())
    steps, runs = next(iter(configs.values())).steps, len(configs)
    st.caption(
        f"Trains {runs} run{'s' if runs > 1 else ''} × {steps:,} steps, paired (same initial weights, same "
        f"minibatches): {live.cost_text(configs.values())}."
    )
    if st.button("▶ Train", key="run", type="primary"):
        live.start(page, key=key, work=training_work(configs), total=steps, runs=configs.values())
    elif live.current(page) is None:
        live.join(page, key)  # trained on another page, or by another student: show it at once
    shown = live.current_key(page)
    if shown is not None and shown != key:
        st.info("The charts show your previous run; the settings have changed since. Press **▶ Train** to run them.")


def diverged_text(runs: dict[str, RunResult]) -> None:
    for name, run in runs.items():
        if run.diverged:
            st.warning(
                f"**{label(name)} diverged at step {run.diverged_at}**: its training loss became NaN, infinite or "
                f"larger than {DIVERGED_LOSS:,.0f}, so it stopped there (marked ✕ on the charts)."
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


def summary(runs: dict[str, RunResult]) -> None:
    """The comparison table and, for a pair, what BN costs per step."""
    table = figures.summary_table(runs)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent"),
            "test loss": st.column_config.NumberColumn(format="%.4f"),
            "final training loss": st.column_config.NumberColumn(format="%.4f"),
            "ms per step": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    if {"bn", "plain"} <= runs.keys() and runs["bn"].steps and runs["plain"].steps:
        bn, plain = runs["bn"].seconds_per_step * 1000, runs["plain"].seconds_per_step * 1000
        ratio = bn / plain
        verdict = (
            f"BN took {ratio:.2f}× the time of no BN — the note's “extra computation”"
            if ratio > 1
            else f"BN was not slower in this run ({ratio:.2f}×); timings on a shared server vary from run to run"
        )
        st.markdown(
            f"**Cost of BN:** a training step took {bn:.2f} ms with BN and {plain:.2f} ms without, measured on this "
            f"server during this run (other users' jobs share its cores). {verdict}."
        )


def downloads(runs: dict[str, RunResult], page: str, tables_offered: tuple[str, ...]) -> None:
    """One CSV per recorded table, every run stacked with a `run` column."""
    cols = st.columns(len(tables_offered))
    for col, table in zip(cols, tables_offered, strict=True):
        with col:
            csv_download(tables.combined(runs, table), f"{page}_{table}.csv", f"⬇ {table} (CSV)")
