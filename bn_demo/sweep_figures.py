"""Figures of a sweep, built from its tidy tables (SweepResult.points / curves / analysis): pure, so a test
can compare what a chart draws with the numbers the engine returned."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bn_demo.calibration import METHODS
from bn_demo.style import DIVERGED_SYMBOL, color, label, legend_below, log_axis, titled
from bn_demo.sweeps import value_text
from bn_demo.train import DIVERGED_LOSS

# Where a diverged run is marked (it has no final accuracy or loss): below 0% accuracy and at the loss that
# defines divergence, the second run's marks a step further so that both show when both diverge.
DIVERGED_ACCURACY = (-4.0, -11.0)
DIVERGED_LOSS_MARK = (DIVERGED_LOSS, 3 * DIVERGED_LOSS)
METHOD_COLORS = {
    "running": "#1f77b4",
    "batch": "#ff7f0e",
    "recomputed": "#2ca02c",
    "lagging": "#8c564b",
    "reset": "#7f7f7f",
}
MAX_FACET_COLUMNS = 5


def _categorical(points: pd.DataFrame) -> bool:
    return any(isinstance(v, str) for v in points["value"])


def _diverged_trace(run: str, x: list, y, steps, showlegend: bool) -> go.Scatter:
    """An "x" per diverged run, its hover saying at which step it blew up."""
    return go.Scatter(
        x=x,
        y=y,
        mode="markers",
        name=f"{label(run)} diverged",
        legendgroup=f"{run}-diverged",
        showlegend=showlegend,
        marker={"color": color(run), "symbol": DIVERGED_SYMBOL, "size": 12, "line": {"width": 2}},
        text=[f"diverged at step {int(s)}" for s in steps],
        hovertemplate=f"{label(run)}: %{{text}}<extra></extra>",
    )


def _log_axis(fig: go.Figure, values: list, **where) -> None:
    fig.update_xaxes(type="log", tickvals=values, ticktext=[value_text(v) for v in values], **where)


def sensitivity_figure(points: pd.DataFrame, setting: str, title: str) -> go.Figure:
    """Final test accuracy and test loss against the swept value, BN vs no BN. Numeric values get a log x
    axis; a diverged run is an "x" at accuracy 0 and at the divergence threshold of the loss axis."""
    categorical = _categorical(points)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Test accuracy", "Test loss"), horizontal_spacing=0.1)
    for k, run in enumerate(dict.fromkeys(points["run"])):
        rows = points[points["run"] == run]
        ok = rows[~rows["diverged"] & rows["test_accuracy"].notna()]
        bad = rows[rows["diverged"]]
        for col, column, scale, unit in ((1, "test_accuracy", 100.0, "%"), (2, "test_loss", 1.0, "")):
            fig.add_trace(
                go.Scatter(
                    x=ok["value"].tolist(),
                    y=ok[column].to_numpy(float) * scale,
                    mode="markers" if categorical else "lines+markers",
                    name=label(run),
                    legendgroup=run,
                    showlegend=col == 1,
                    marker={"color": color(run), "size": 9},
                    line={"color": color(run)},
                    hovertemplate=f"{label(run)}: %{{y:.4g}}{unit}<extra></extra>",
                ),
                row=1,
                col=col,
            )
            if bad.empty:
                continue
            mark = (DIVERGED_ACCURACY if col == 1 else DIVERGED_LOSS_MARK)[min(k, 1)]
            y = np.full(len(bad), mark, dtype=float)
            fig.add_trace(_diverged_trace(run, bad["value"].tolist(), y, bad["diverged_at"], col == 1), row=1, col=col)
    titled(fig, title, setting, "", height=420)
    legend_below(fig, -0.2)
    fig.update_yaxes(title_text="accuracy on 10,000 test images (%)", range=[-15, 103], row=1, col=1)
    fig.update_yaxes(tickvals=[0, 20, 40, 60, 80, 100], row=1, col=1)
    marks = DIVERGED_LOSS_MARK if points["diverged"].any() else ()
    axis = log_axis(np.r_[points["test_loss"].to_numpy(float), marks])
    fig.update_yaxes(axis, title_text="cross-entropy (log scale)", row=1, col=2)
    if categorical:
        fig.update_xaxes(type="category")
    else:
        _log_axis(fig, sorted(set(points["value"])))
    return fig


def _facets(n: int) -> tuple[int, int]:
    cols = min(n, MAX_FACET_COLUMNS)
    return math.ceil(n / cols), cols


def curves_figure(curves: pd.DataFrame, points: pd.DataFrame, noun: str, title: str) -> go.Figure:
    """Training loss against step, one small panel per swept value (titled "`noun` = value", or just the value
    when it is a word, such as an initialization scheme) with BN and
    no BN in each; a diverged run ends with an "x" at the step it blew up (drawn at its last recorded loss)."""
    values = list(dict.fromkeys(points["value"])) or list(dict.fromkeys(curves["value"]))
    rows, cols = _facets(max(1, len(values)))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_yaxes="all",
        subplot_titles=[v if isinstance(v, str) else f"{noun} = {value_text(v)}" for v in values],
        horizontal_spacing=0.03,
        vertical_spacing=0.12 if rows > 1 else 0.0,
    )
    for i, value in enumerate(values):
        where = {"row": i // cols + 1, "col": i % cols + 1}
        for run in dict.fromkeys(curves["run"]):
            history = curves[(curves["value"] == value) & (curves["run"] == run)]
            fig.add_trace(
                go.Scatter(
                    x=history["step"].to_numpy(),
                    y=history["train_loss"].to_numpy(float),
                    mode="lines",
                    name=label(run),
                    legendgroup=run,
                    showlegend=i == 0,
                    line={"color": color(run), "width": 1.5},
                    hovertemplate=f"{label(run)}: %{{y:.4g}}<extra></extra>",
                ),
                **where,
            )
            info = points[(points["value"] == value) & (points["run"] == run) & points["diverged"]]
            if info.empty:
                continue
            step = int(info["diverged_at"].iloc[0])
            last = float(history["train_loss"].iloc[-1]) if len(history) else math.log(10)
            fig.add_trace(_diverged_trace(run, [step], [last], [step], False), **where)
    titled(fig, title, "", "", height=150 + 240 * rows)
    legend_below(fig, -0.35 / rows)
    fig.update_yaxes(log_axis(curves["train_loss"]))
    for r in range(1, rows + 1):
        fig.update_yaxes(title_text="training loss", row=r, col=1)
    for c in range(1, cols + 1):
        fig.update_xaxes(title_text="step", row=rows, col=c)
    return fig


def calibration_figure(analysis: pd.DataFrame, points: pd.DataFrame) -> go.Figure:
    """Test accuracy of the BN nets against batch size under each source of normalising statistics, with
    the no-BN nets of the same sweep as a reference."""
    fig = go.Figure()
    for method in dict.fromkeys(analysis["method"]):
        rows = analysis[analysis["method"] == method]
        fig.add_trace(
            go.Scatter(
                x=rows["value"].tolist(),
                y=rows["test_accuracy"].to_numpy(float) * 100,
                mode="lines+markers",
                name=METHODS[method],
                line={"color": METHOD_COLORS[method], "dash": "solid" if method in ("running", "batch") else "dot"},
                hovertemplate=f"{METHODS[method]}: %{{y:.2f}}%<extra></extra>",
            )
        )
    plain = points[(points["run"] == "plain") & points["test_accuracy"].notna()]
    if not plain.empty:
        fig.add_trace(
            go.Scatter(
                x=plain["value"].tolist(),
                y=plain["test_accuracy"].to_numpy(float) * 100,
                mode="lines+markers",
                name=label("plain"),
                line={"color": color("plain"), "dash": "dash"},
                hovertemplate=f"{label('plain')}: %{{y:.2f}}%<extra></extra>",
            )
        )
    titled(
        fig,
        "BN net's test accuracy with its normalising statistics taken from …",
        "training batch size (log scale)",
        "accuracy on 10,000 test images (%)",
        height=460,
    )
    fig.update_layout(legend={"orientation": "v", "y": 0.02, "yanchor": "bottom", "x": 0.99, "xanchor": "right"})
    _log_axis(fig, sorted(set(analysis["value"])))
    return fig
