"""One look for every chart: the same colour and label for BN, no BN and noisy BN on every page, and the
axis helpers every chart shares (readable log axes, sensible linear ranges, a step axis that starts at 0
with a note where a run diverged, TensorBoard's smoothing)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

LABELS = {"bn": "BN", "plain": "no BN", "noisy_bn": "noisy BN", "dropout": "no BN + dropout", "bn_input": "BN's input"}
COLORS = {"bn": "#1f77b4", "plain": "#d62728", "noisy_bn": "#9467bd", "dropout": "#2ca02c"}
DIVERGED_SYMBOL = "x"  # marker drawn where a run blew up
BAND_OPACITY = 0.25  # of shaded percentile and min-max bands
STEP_AXIS = "training step (SGD updates)"
SMOOTHING = 0.6  # TensorBoard's default weight for smoothing training-batch curves
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


def _tick_label(value: float) -> str:
    """0.5 as "0.5" (never a bare "5"), 1e-05 as "1e-5": a label that reads back as its value."""
    text = f"{value:g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def log_axis(values, *, min_decades: float = 1.0) -> dict:
    """A log axis for `values` with at least three readable labels whatever their range: the range spans at
    least `min_decades` (so a change from 1 to 1.035 does not fill the chart), labels sit at 1, 2 and 5 of
    each decade over up to three decades and at powers of ten (every k-th one) over more, in plain numbers."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {"type": "log"}
    low, high = math.log10(v.min()), math.log10(v.max())
    widen = max(min_decades - (high - low), 0.0) / 2
    margin = 0.04 * (high - low + 2 * widen)
    low, high = low - widen - margin, high + widen + margin
    span = high - low
    mantissas, every = ((1, 2, 5), 1) if span <= 3 else ((1,), math.ceil(span / 8))
    ticks = [
        float(f"{m}e{e}")
        for e in range(math.floor(low), math.ceil(high) + 1)
        if e % every == 0
        for m in mantissas
        if low <= math.log10(m) + e <= high
    ]
    return {"type": "log", "range": [low, high], "tickvals": ticks, "ticktext": [_tick_label(t) for t in ticks]}


def linear_range(values, *, min_span: float, pad: float = 0.05) -> list[float] | None:
    """[low, high] around the finite `values`, at least `min_span` wide (centred on them), so that a tiny
    change is drawn as tiny; None (Plotly's autorange) when there is no finite value."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    low, high = float(v.min()), float(v.max())
    widen = max(min_span - (high - low), 0.0) / 2
    margin = pad * (high - low + 2 * widen)
    return [low - widen - margin, high + widen + margin]


def ema(values, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average with weight `weight` on the past, debiased
    (divided by 1 − weight^(i+1)) so the first points are not pulled towards 0. weight 0 returns the values."""
    series = pd.Series(np.asarray(values, dtype=float))
    if weight <= 0 or series.empty:
        return series.to_numpy()
    # pandas' adjusted EWM is exactly the debiased average: sum w^(i-j) v_j / sum w^(i-j)
    return series.ewm(alpha=1 - weight, adjust=True).mean().to_numpy()


def step_axis(fig: go.Figure, steps: int, **where) -> go.Figure:
    """The training-step axis from 0 to the planned steps: fixed while a run trains, and never starting
    below 0 when a run diverged after one or two steps."""
    fig.update_xaxes(range=[0, max(int(steps), 1)], title_text=STEP_AXIS, **where)
    return fig


def diverged_note(fig: go.Figure, norm: str, at: int, *, steps: int, text: str | None = None, **where) -> None:
    """A dashed line at the step where `norm`'s run diverged and the words "… diverged at step k" inside the
    panel, on the side of the line that has room."""
    text = text or f"{label(norm)} diverged at step {at}"
    fig.add_vline(x=at, line={"color": color(norm), "dash": "dash", "width": 1}, **where)
    fig.add_annotation(
        x=at,
        y=1,
        yref="y domain",
        text=text,
        showarrow=False,
        xanchor="left" if at < steps / 2 else "right",
        yanchor="top",
        font={"color": color(norm)},
        bgcolor="rgba(255,255,255,0.8)",
        **where,
    )


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
