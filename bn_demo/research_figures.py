"""Figures of the research pages (tables in, `go.Figure` out): how much layer inputs move with plain,
BN and noisy BN; Santurkar et al.'s ICS as a change of gradients; and the loss landscape's ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bn_demo.figures import STEP_AXIS
from bn_demo.landscape import QUANTITIES
from bn_demo.style import color, fill, label, legend_below, log_axis, titled

STABILITY_LABELS = {
    "p15": "15th pct",
    "p50": "median",
    "p85": "85th pct",
    "mean": "layer mean",
    "var": "layer variance",
}
ICS_LABELS = {"l2": "‖G − G′‖ (gradient change)", "cosine": "cos(G, G′)"}
LANDSCAPE_AXES = {
    "loss": "loss (nats per example, log scale)",
    "grad_change": "‖Δ gradient‖",
    "beta": "‖Δ gradient‖ / ‖Δ w‖",
}


def stability_bars(table: pd.DataFrame, measure: str, title: str) -> go.Figure:
    """research.stability's table -> grouped bars of `measure` ("jitter" or "drift"), one group per quantity."""
    fig = go.Figure()
    for run, rows in table.groupby("run", sort=False):
        names = [STABILITY_LABELS.get(q, q) for q in rows["quantity"]]
        fig.add_trace(
            go.Bar(
                x=names,
                y=rows[measure].to_numpy(),
                name=label(run),
                marker_color=color(run),
                hovertemplate=f"{label(run)} · %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    y_title = "mean |change| between recorded steps" if measure == "jitter" else "range of the running mean"
    titled(fig, title, "statistic of the nonlinearity's input", y_title)
    fig.update_layout(barmode="group", hovermode="closest")
    return fig


def ics_lines(probes: pd.DataFrame, measure: str, title: str) -> go.Figure:
    """ICS probes (run, step, layer, l2, cosine) -> `measure` over steps, one subplot per layer after the
    first (whose shift is 0 by definition)."""
    layers = sorted(layer for layer in probes["layer"].unique() if layer > 1)
    n_hidden = int(probes["layer"].max()) - 1
    titles = [f"layer {layer}" + (" (output)" if layer == n_hidden + 1 else "") for layer in layers]
    fig = make_subplots(rows=1, cols=len(layers), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.04)
    for col, layer in enumerate(layers, start=1):
        for run, rows in probes[probes["layer"] == layer].groupby("run", sort=False):
            fig.add_trace(
                go.Scatter(
                    x=rows["step"].to_numpy(),
                    y=rows[measure].to_numpy(),
                    mode="lines+markers",
                    name=label(run),
                    legendgroup=run,
                    showlegend=col == 1,
                    line={"color": color(run)},
                    hovertemplate=f"{label(run)}, layer {layer}: %{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    legend_below(titled(fig, title, STEP_AXIS, "", height=380))
    fig.update_yaxes(title_text=ICS_LABELS.get(measure, measure), row=1, col=1)
    return fig


def landscape_figure(bands: pd.DataFrame, title: str) -> go.Figure:
    """research.landscape_bands -> per quantity, each run's min..max over the step sizes as a shaded band."""
    fig = make_subplots(rows=1, cols=len(QUANTITIES), subplot_titles=list(QUANTITIES.values()), horizontal_spacing=0.1)
    titled(fig, title, STEP_AXIS, "", height=400)  # first: its blank y title would wipe the per-panel ones
    for col, quantity in enumerate(QUANTITIES, start=1):
        for run, rows in bands[bands["quantity"] == quantity].groupby("run", sort=False):
            c, lab, steps = color(run), label(run), rows["step"].to_numpy()
            common = {"x": steps, "mode": "lines", "legendgroup": run}
            fig.add_trace(
                go.Scatter(
                    y=rows["max"].to_numpy(),
                    line={"color": c, "width": 1},
                    name=f"{lab} max",
                    showlegend=False,
                    hovertemplate=f"{lab} max: %{{y:.4f}}<extra></extra>",
                    **common,
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    y=rows["min"].to_numpy(),
                    line={"color": c, "width": 1},
                    fill="tonexty",
                    fillcolor=fill(c),
                    name=lab,
                    showlegend=col == 1,
                    hovertemplate=f"{lab} min: %{{y:.4f}}<extra></extra>",
                    **common,
                ),
                row=1,
                col=col,
            )
            fig.update_yaxes(title_text=LANDSCAPE_AXES[quantity], row=1, col=col)
    loss = bands[bands["quantity"] == "loss"]  # the first panel
    fig.update_yaxes(log_axis(np.r_[loss["min"], loss["max"]]), row=1, col=1)
    return legend_below(fig)
