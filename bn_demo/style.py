"""One look for every chart: the same colour and label for BN, no BN and noisy BN on every page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

LABELS = {"bn": "BN", "plain": "no BN", "noisy_bn": "noisy BN"}
COLORS = {"bn": "#1f77b4", "plain": "#d62728", "noisy_bn": "#9467bd"}
DIVERGED_SYMBOL = "x"  # marker drawn where a run blew up
BAND_OPACITY = 0.25  # of shaded percentile and min-max bands
PNG_CONFIG = {"toImageButtonOptions": {"format": "png", "scale": 2}, "displaylogo": False}


def label(norm: str) -> str:
    return LABELS.get(norm, norm)


def color(norm: str) -> str:
    return COLORS.get(norm, "#7f7f7f")


def fill(hex_color: str, opacity: float = BAND_OPACITY) -> str:
    """A run's colour, translucent: for the shaded bands around a line."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{opacity})"


def legend_below(fig: go.Figure, y: float = -0.3) -> go.Figure:
    """The legend under the plot, centred, with room made for it: above, it would cover subplot titles."""
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": y, "xanchor": "center", "x": 0.5})
    fig.update_layout(margin={"b": 110}, height=fig.layout.height + 60)
    return fig


def log_axis(values) -> dict:
    """A log axis for `values`, labelled in plain numbers at 1, 2 and 5 of each decade over a short range
    (Plotly's default there labels every digit, or "5" for 0.5) and at powers of ten over a long one."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {"type": "log"}
    low, high = int(np.floor(np.log10(v.min()))), int(np.ceil(np.log10(v.max())))
    mantissas = (1, 2, 5) if high - low <= 3 else (1,)
    ticks = [float(f"{m * 10.0**e:.1g}") for e in range(low, high + 1) for m in mantissas]
    return {"type": "log", "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}


def titled(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 380) -> go.Figure:
    """Title, axis titles (with units) and a legend above the plot: what every chart needs."""
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
        hovermode="x unified",
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def seed_band(band: pd.DataFrame, x: str, norm: str, *, showlegend: bool = True, name: str | None = None) -> list:
    """A run's mean over seeds as a line, with its min–max over seeds shaded behind it (seeds.band's frame).
    One seed draws the line alone: there is no band to show."""
    name = name or label(norm)
    line = go.Scatter(
        x=band[x],
        y=band["mean"],
        name=name,
        legendgroup=norm,
        showlegend=showlegend,
        line={"color": color(norm)},
        mode="lines",
    )
    if band.empty or band["n"].max() < 2:
        return [line]
    edge = {"color": "rgba(0,0,0,0)", "width": 0}
    low = go.Scatter(
        x=band[x], y=band["lo"], line=edge, legendgroup=norm, showlegend=False, hoverinfo="skip", mode="lines"
    )
    high = go.Scatter(
        x=band[x],
        y=band["hi"],
        line=edge,
        fill="tonexty",
        fillcolor=fill(color(norm)),
        legendgroup=norm,
        showlegend=False,
        hoverinfo="skip",
        mode="lines",
        name=f"{name}: min–max over seeds",
    )
    return [low, high, line]
