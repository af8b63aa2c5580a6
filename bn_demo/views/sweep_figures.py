"""Figures of a sweep over seeds, built from its tidy tables (sweeps.seeded_points / seeded_curves /
seeded_analysis): pure, so a test can compare what a chart draws with the numbers the engine returned.

Each chart is one panel, so that a page can set panels side by side in columns that stack on a phone. A
net's line is its mean over seeds, shaded with its min–max over seeds (error bars where the x axis is a list
of names); a diverged run is an ✕, its hover saying in how many seeds and by which step.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from bn_demo.core.seeds import band
from bn_demo.core.train import DIVERGED_LOSS
from bn_demo.experiments.calibration import METHODS
from bn_demo.experiments.sweeps import decided, value_text
from bn_demo.serving.shared import shared
from bn_demo.views.style import DIVERGED_SYMBOL, color, label, legend_below, log_axis, seed_band, titled

# Where a diverged run is marked (it has no final accuracy or loss): below 0% accuracy and at the loss that
# defines divergence, the second run's marks a step further so that both show when both diverge.
DIVERGED_ACCURACY = (-4.0, -11.0)
DIVERGED_LOSS_MARK = (DIVERGED_LOSS, 3 * DIVERGED_LOSS)
METHOD_COLORS = {
    "running": "#1f77b4",
    "batch": "#ff7f0e",
    "biased": "#17becf",
    "recomputed": "#2ca02c",
    "few_updates": "#8c564b",
    "reset": "#7f7f7f",
}
MAX_LABELLED_VALUES = 6  # swept values labelled one by one on the x axis; more overlap on a phone
PANEL_HEIGHT = 300  # of one small-multiple panel of training loss
RANGE_MARGIN = 0.15  # decades above and below the panels' losses, so that an ✕ at the top is not cut


def _categorical(points: pd.DataFrame) -> bool:
    return any(isinstance(v, str) for v in points["value"])


def value_axis(values: list) -> dict:
    """A log x axis for swept values: each value labelled while they fit, else style.log_axis's labels."""
    values = sorted(set(values))
    if len(values) <= MAX_LABELLED_VALUES:
        return {"type": "log", "tickvals": values, "ticktext": [value_text(v) for v in values]}
    return log_axis(values)


def _diverged_trace(run: str, x: list, y, text: list[str], showlegend: bool) -> go.Scatter:
    """An ✕ per value (or step) where a run diverged, its hover saying where."""
    return go.Scatter(
        x=x,
        y=y,
        mode="markers",
        name=f"{label(run)} diverged",
        legendgroup=f"{run}-diverged",
        showlegend=showlegend,
        marker={"color": color(run), "symbol": DIVERGED_SYMBOL, "size": 12, "line": {"width": 2}},
        text=text,
        hovertemplate=f"{label(run)}: %{{text}}<extra></extra>",
    )


def _divergence_text(group: pd.DataFrame) -> str:
    """'diverged in 2 of 3 seeds (by step 7)' or, for one seed, 'diverged at step 7'."""
    bad = group[group["diverged"]]
    step = int(bad["diverged_at"].max())
    return (
        f"diverged at step {step}"
        if len(group) == 1
        else f"diverged in {len(bad)} of {len(group)} seeds (by step {step})"
    )


def _mean_traces(stats: pd.DataFrame, run: str, categorical: bool, hover: str) -> list[go.Scatter]:
    """A run's mean per value with its min–max over seeds: a shaded band, or error bars between names."""
    if not categorical:
        traces = seed_band(stats, "value", run)
        traces[-1].update(mode="lines+markers", marker={"color": color(run), "size": 8}, hovertemplate=hover)
        return traces
    several = len(stats) and stats["n"].max() > 1
    bars = {"type": "data", "symmetric": False, "array": stats["hi"] - stats["mean"]}
    return [
        go.Scatter(
            x=stats["value"],
            y=stats["mean"],
            mode="markers",
            name=label(run),
            legendgroup=run,
            marker={"color": color(run), "size": 9},
            error_y={**bars, "arrayminus": stats["mean"] - stats["lo"]} if several else None,
            hovertemplate=hover,
        )
    ]


def _stats(rows: pd.DataFrame, column: str, scale: float, order: list) -> pd.DataFrame:
    """seeds.band of `column` over the seeds, per value, in sweep order (band sorts its x)."""
    frames = [g.assign(y=g[column] * scale) for _, g in rows.groupby("seed")]
    stats = band(frames, "value", "y")
    return stats.set_index("value").loc[[v for v in order if v in set(stats["value"])]].reset_index()


@shared
def sensitivity_figure(points: pd.DataFrame, *, column: str, axis_title: str, title: str) -> go.Figure:
    """Final test accuracy (`column` "test_accuracy", in %) or test loss ("test_loss", log scale) against the
    swept value, BN vs no BN over the decided seeds. A diverged run is an ✕ below 0% accuracy, or at the loss
    that defines divergence."""
    accuracy = column == "test_accuracy"
    scale, unit = (100.0, "%") if accuracy else (1.0, "")
    rows = decided(points)
    categorical = _categorical(points)
    order = list(dict.fromkeys(rows["value"]))
    fig = go.Figure()
    for k, run in enumerate(dict.fromkeys(rows["run"])):
        mine = rows[rows["run"] == run]
        stats = _stats(mine[~mine["diverged"]], column, scale, order)
        hover = f"{label(run)}: %{{y:.4g}}{unit} (mean over seeds)<extra></extra>"
        fig.add_traces(_mean_traces(stats, run, categorical, hover))
        bad = [(v, g) for v, g in mine.groupby("value", sort=False) if g["diverged"].any()]
        if bad:
            mark = (DIVERGED_ACCURACY if accuracy else DIVERGED_LOSS_MARK)[min(k, 1)]
            text = [_divergence_text(g) for _, g in bad]
            fig.add_trace(_diverged_trace(run, [v for v, _ in bad], np.full(len(bad), mark), text, True))
    titled(fig, title, axis_title, "", height=420)
    legend_below(fig, -0.28)
    if accuracy:
        fig.update_yaxes(title_text="accuracy on 10,000 test images (%)", range=[-15, 103])
        fig.update_yaxes(tickvals=[0, 20, 40, 60, 80, 100])
    else:
        marks = DIVERGED_LOSS_MARK if rows["diverged"].any() else ()
        fig.update_yaxes(log_axis(np.r_[rows["test_loss"].to_numpy(float), marks]))
        fig.update_yaxes(title_text="test cross-entropy (log scale)")
    if categorical:
        fig.update_xaxes(type="category")
    else:
        fig.update_xaxes(value_axis(order))
    return fig


def panel_title(value, noun: str) -> str:
    return value if isinstance(value, str) else f"{noun} = {value_text(value)}"


def loss_range(curves: pd.DataFrame) -> dict:
    """One log y axis for every panel of training loss, so that panels compare at a glance."""
    loss = curves["train_loss"].to_numpy(float)
    loss = loss[np.isfinite(loss) & (loss > 0)]
    axis = log_axis(loss)
    if loss.size:
        axis["range"] = [math.log10(loss.min()) - RANGE_MARGIN, math.log10(loss.max()) + RANGE_MARGIN]
    return axis


@shared
def curve_figure(curves: pd.DataFrame, points: pd.DataFrame, value, *, noun: str, y_axis: dict) -> go.Figure:
    """Training loss against step at one swept value: each net's mean over seeds with its min–max band; an ✕
    at the step where a seed diverged (drawn at that seed's last recorded loss)."""
    fig = go.Figure()
    here = curves[curves["value"] == value]
    for run in dict.fromkeys(here["run"]):
        history = here[here["run"] == run]
        frames = [g for _, g in history.groupby("seed")]
        fig.add_traces(seed_band(band(frames, "step", "train_loss"), "step", run, showlegend=False))
        info = points[(points["value"] == value) & (points["run"] == run) & points["diverged"]]
        if info.empty:
            continue
        last = [
            float(history[history["seed"] == s]["train_loss"].iloc[-1]) if (history["seed"] == s).any() else math.nan
            for s in info["seed"]
        ]
        steps = [int(s) for s in info["diverged_at"]]
        fig.add_trace(_diverged_trace(run, steps, last, [f"diverged at step {s}" for s in steps], False))
    titled(fig, panel_title(value, noun), "step", "training loss", height=PANEL_HEIGHT)
    fig.update_layout(showlegend=False, margin={"l": 50, "r": 10, "t": 40, "b": 40}, title={"font": {"size": 14}})
    fig.update_yaxes(y_axis)
    fig.update_xaxes(rangemode="tozero")
    return fig


@shared
def calibration_figure(analysis: pd.DataFrame, points: pd.DataFrame) -> go.Figure:
    """Test accuracy of the BN nets against batch size under each source of normalising statistics (mean over
    seeds, bars: min–max over seeds), with the no-BN nets of the same sweep as a reference."""
    fig = go.Figure()
    series = [
        (m, analysis[analysis["method"] == m], METHODS[m], METHOD_COLORS[m]) for m in dict.fromkeys(analysis["method"])
    ]
    plain = decided(points)
    plain = plain[(plain["run"] == "plain") & ~plain["diverged"]]
    series.append(("plain", plain, label("plain"), color("plain")))
    for key, rows, name, colour in series:
        if rows.empty:
            continue
        stats = band([g.assign(y=g["test_accuracy"] * 100) for _, g in rows.groupby("seed")], "value", "y")
        several = stats["n"].max() > 1
        bars = {"type": "data", "symmetric": False, "array": stats["hi"] - stats["mean"]}
        dash = "dash" if key == "plain" else ("solid" if key in ("running", "batch") else "dot")
        fig.add_trace(
            go.Scatter(
                x=stats["value"].tolist(),
                y=stats["mean"],
                mode="lines+markers",
                name=name,
                line={"color": colour, "dash": dash},
                error_y={**bars, "arrayminus": stats["mean"] - stats["lo"], "thickness": 1} if several else None,
                hovertemplate=f"{name}: %{{y:.2f}}%<extra></extra>",
            )
        )
    titled(
        fig,
        "BN's accuracy by source of statistics",
        "training batch size (log scale)",
        "accuracy on 10,000 test images (%)",
        height=520,
    )
    legend_below(fig, -0.22)
    fig.update_xaxes(value_axis(analysis["value"].tolist()))
    return fig
