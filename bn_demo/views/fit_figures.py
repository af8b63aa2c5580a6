"""Training on a small subset (lesson 8): fit on the training images against the test images, and the gap
between them over training, per net, mean and min–max band over seeds; torch-free."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from bn_demo.core.config import FIT_EVAL_MODE
from bn_demo.core.results import RunResult
from bn_demo.serving.shared import shared
from bn_demo.views.figures import band_traces, mark_diverged, nets, panel, runs_of, seed_runs, test_evals
from bn_demo.views.style import color, label, linear_range, log_axis


def fit_table(run: RunResult) -> pd.DataFrame:
    """Per evaluation: loss and accuracy on the training subset and on held-out test images (eval mode),
    and the gaps (train accuracy − test accuracy; test loss − train loss: positive = overfitting)."""
    evals = run.evals
    fit = evals[evals["mode"] == FIT_EVAL_MODE][["step", "loss", "accuracy"]]
    test = test_evals(run)[["step", "loss", "accuracy"]]
    both = fit.merge(test, on="step", suffixes=("_train", "_test"))
    return both.assign(
        accuracy_gap=both["accuracy_train"] - both["accuracy_test"], loss_gap=both["loss_test"] - both["loss_train"]
    )


def _evaluation_band(tables: list[pd.DataFrame], column: str, name: str, lab: str, fmt: str, dash: str = "solid"):
    """One value per evaluation (fit_table's `column`), mean over seeds with markers and the min–max band."""
    return band_traces(
        tables,
        "step",
        column,
        name,
        trace_name=lab,
        mode="lines+markers",
        marker={"size": 4},
        line={"color": color(name), "dash": dash},
        hovertemplate=f"{lab}: %{{y:{fmt}}}<extra></extra>",
    )


FIT_QUANTITIES = {  # quantity -> (y title, hover format, log axis)
    "accuracy": ("accuracy (% correct)", ".1%", False),
    "loss": ("loss (nats per example, log scale)", ".3f", True),
}


@shared
def fit_panel(results, quantity: str) -> go.Figure:
    """Per net, `quantity` on the training subset (dashed) and on test images (solid), mean and band over seeds."""
    per_seed = seed_runs(results)
    y_title, fmt, log = FIT_QUANTITIES[quantity]
    fig = panel(f"{quantity.capitalize()}: training images (dashed), test", y_title, per_seed)
    values = []
    for name in nets(per_seed):
        tables = [fit_table(r) for r in runs_of(per_seed, name)]
        for split, dash in (("train", "dash"), ("test", "solid")):
            column, lab = f"{quantity}_{split}", f"{label(name)} · {split}"
            fig.add_traces(_evaluation_band(tables, column, name, lab, fmt, dash=dash))
            values += [v for t in tables for v in t[column]]
    fig.update_yaxes(log_axis(values) if log else {"tickformat": ".0%", "range": linear_range(values, min_span=0.05)})
    mark_diverged(fig, per_seed)
    return fig


GAPS = {  # quantity -> (fit_table column, title, y title, hover format, tick format, smallest span)
    "accuracy": ("accuracy_gap", "Train − test accuracy", "gap (accuracy, % points)", ".2%", ".0%", 0.02),
    "loss": ("loss_gap", "Test − train loss", "gap (nats per example)", ".3f", None, 0.05),
}


@shared
def gap_panel(results, quantity: str) -> go.Figure:
    """The train–test gap over training, per net, mean and band over seeds: overfitting makes it grow."""
    per_seed = seed_runs(results)
    column, title, y_title, fmt, tickformat, span = GAPS[quantity]
    fig = panel(title, y_title, per_seed)
    values = []
    for name in nets(per_seed):
        tables = [fit_table(r) for r in runs_of(per_seed, name)]
        fig.add_traces(_evaluation_band(tables, column, name, label(name), fmt))
        values += [v for t in tables for v in t[column]]
    fig.update_yaxes(range=linear_range([0.0, *values], min_span=span), tickformat=tickformat)
    mark_diverged(fig, per_seed)
    return fig
