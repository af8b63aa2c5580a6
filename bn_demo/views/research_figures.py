"""Figures of the paper lessons (per-seed results in, `go.Figure` out). Every curve is the mean over seeds with
its min–max over seeds shaded (seeds.band, style.seed_band; one seed draws the line alone): held-out accuracy
and loss, how much layer inputs move with BN, no BN and noisy BN, ICS three ways per layer, and the loss
landscape's ranges."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bn_demo.core.results import RunResult
from bn_demo.core.seeds import band
from bn_demo.experiments.landscape import QUANTITIES
from bn_demo.serving.shared import shared
from bn_demo.views import figures
from bn_demo.views.figures import STEP_AXIS, test_evals
from bn_demo.views.style import color, fill, label, legend_below, log_axis, seed_band, titled

Runs = dict[str, RunResult]
STABILITY_LABELS = {
    "p15": "15th pct",
    "p50": "median",
    "p85": "85th pct",
    "mean": "layer mean",
    "var": "layer variance",
}
ICS_LABELS = {
    "l2": "‖G − G′‖ (absolute change)",
    "relative": "‖G − G′‖ / ‖G‖ (relative change)",
    "cosine": "cos(G, G′)",
}
LANDSCAPE_AXES = {
    "loss": "loss (nats per example, log scale)",
    "grad_change": "‖Δ gradient‖",
    "smoothness": "L = ‖Δ gradient‖ / ‖Δ w‖",
}
BAND_NOTE = "lines: mean over seeds; shading: min–max over seeds"


def subtitled(fig: go.Figure, title: str, note: str, x_title: str, y_title: str, height: int = 380) -> go.Figure:
    """style.titled with a second, smaller title line saying how the curves were aggregated, and room for it
    above the panels' own titles."""
    titled(fig, f"{title}<br><sup>{note}</sup>", x_title, y_title, height=height)
    return fig.update_layout(margin={"t": 100})


def _names(per_seed: Sequence[Runs]) -> list[str]:
    return list(dict.fromkeys(name for runs in per_seed for name in runs))


@shared
def accuracy_curves(per_seed: Sequence[Runs], title: str) -> go.Figure:
    """Held-out loss (log scale) and accuracy at every evaluation, per net: mean over seeds with its band."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Held-out loss", "Held-out accuracy"), horizontal_spacing=0.1)
    subtitled(fig, title, BAND_NOTE, STEP_AXIS, "", height=420)
    losses = []
    for name in _names(per_seed):
        frames = [test_evals(runs[name]) for runs in per_seed if name in runs]
        for col, column in enumerate(("loss", "accuracy"), start=1):
            b = band(frames, "step", column)
            losses += list(b["mean"]) if column == "loss" else []
            for trace in seed_band(b, "step", name, showlegend=col == 1):
                fig.add_trace(trace, row=1, col=col)
    fig.update_yaxes(log_axis(losses), title_text="loss (nats per example, log scale)", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (% correct)", tickformat=".0%", range=[0, 1.02], row=1, col=2)
    return legend_below(fig)


@shared
def sigmoid_input(runs: Runs, layer: int, title: str) -> go.Figure:
    """Ioffe & Szegedy's Figure 1(b, c) for one seed's runs: the tracked unit's nonlinearity input (15th, 50th
    and 85th percentiles) per net, under `title` and a line naming the unit and the seed."""
    config = next(iter(runs.values())).config
    note = f"layer {layer}, unit {config.tracked_unit}, seed {config.seed}: 15th, 50th and 85th percentiles"
    return figures.percentile_bands(runs, layer, f"{title}<br><sup>{note}</sup>").update_layout(margin={"t": 100})


@shared
def stability_bars(tables: Sequence[pd.DataFrame], measure: str, title: str) -> go.Figure:
    """research.stability's tables (one per seed) -> grouped bars of `measure` ("jitter" or "drift"), one group
    per quantity: the mean over seeds, with the min–max over seeds as error bars."""
    stacked = pd.concat(list(tables), ignore_index=True) if tables else pd.DataFrame(columns=["run", "quantity"])
    fig = go.Figure()
    for run, rows in stacked.groupby("run", sort=False):
        agg = rows.groupby("quantity", sort=False)[measure].agg(["mean", "min", "max"])
        names = [STABILITY_LABELS.get(q, q) for q in agg.index]
        fig.add_trace(
            go.Bar(
                x=names,
                y=agg["mean"].to_numpy(),
                name=label(run),
                marker_color=color(run),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (agg["max"] - agg["mean"]).to_numpy(),
                    "arrayminus": (agg["mean"] - agg["min"]).to_numpy(),
                    "visible": len(tables) > 1,
                },
                hovertemplate=f"{label(run)} · %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    y_title = "mean |change| between recorded steps" if measure == "jitter" else "range of the running mean"
    note = "bars: mean over seeds; whiskers: min–max" if len(tables) > 1 else "one seed"
    subtitled(fig, title, note, "statistic of the nonlinearity's input", y_title)
    fig.update_layout(barmode="group", hovermode="closest")
    return fig


@shared
def ics_lines(probes: Sequence[pd.DataFrame], measure: str, title: str) -> go.Figure:
    """ICS probes (one table per seed: run, step, layer, l2, relative, cosine) -> `measure` over steps, mean over
    seeds with its band, one subplot per layer after the first (whose shift is 0 by definition)."""
    tables = [p for p in probes if len(p)]
    all_layers = sorted({int(layer) for p in tables for layer in p["layer"].unique()})
    layers = [layer for layer in all_layers if layer > 1] or [1]
    output = all_layers[-1] if all_layers else 0
    titles = [f"layer {layer}" + (" (output)" if layer == output else "") for layer in layers]
    fig = make_subplots(rows=1, cols=len(layers), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.04)
    legend_below(subtitled(fig, title, BAND_NOTE, STEP_AXIS, "", height=380))
    runs = list(dict.fromkeys(r for p in tables for r in p["run"]))
    for col, layer in enumerate(layers, start=1):
        for run in runs:
            frames = [p[(p["run"] == run) & (p["layer"] == layer)] for p in tables]
            for trace in seed_band(band(frames, "step", measure), "step", run, showlegend=col == 1):
                fig.add_trace(trace, row=1, col=col)
    fig.update_yaxes(title_text=ICS_LABELS.get(measure, measure), row=1, col=1)
    fig.update_xaxes(title_text="")  # one step-axis title under the middle panel: narrow panels had one each
    fig.update_xaxes(title_text=STEP_AXIS, row=1, col=(len(layers) + 1) // 2)
    return fig


@shared
def landscape_figure(bands: Sequence[pd.DataFrame], title: str) -> go.Figure:
    """research.landscape_bands (one per seed) -> per quantity, each run's range over the step sizes as a shaded
    band from the mean over seeds of its minimum to the mean of its maximum."""
    fig = make_subplots(rows=1, cols=len(QUANTITIES), subplot_titles=list(QUANTITIES.values()), horizontal_spacing=0.1)
    note = "means over seeds" if len(bands) > 1 else "one seed"
    subtitled(fig, title, note, STEP_AXIS, "", height=400)  # first: a blank y title would wipe the panels' ones
    tables = [b for b in bands if len(b)]
    runs = list(dict.fromkeys(r for b in tables for r in b["run"]))
    loss_values = []
    for col, quantity in enumerate(QUANTITIES, start=1):
        for run in runs:
            frames = [b[(b["run"] == run) & (b["quantity"] == quantity)] for b in tables]
            top, bottom = band(frames, "step", "max"), band(frames, "step", "min")
            if quantity == "loss":
                loss_values += [*top["mean"], *bottom["mean"]]
            edges = [(top, f"{label(run)} max", False, {}), (bottom, label(run), col == 1, {"fill": "tonexty"})]
            for b, name, legend, extra in edges:
                fig.add_trace(
                    go.Scatter(
                        x=b["step"],
                        y=b["mean"],
                        mode="lines",
                        line={"color": color(run), "width": 1},
                        fillcolor=fill(color(run)),
                        name=name,
                        legendgroup=run,
                        showlegend=legend,
                        hovertemplate=f"{name}: %{{y:.4f}}<extra></extra>",
                        **extra,
                    ),
                    row=1,
                    col=col,
                )
        fig.update_yaxes(title_text=LANDSCAPE_AXES[quantity], row=1, col=col)
    fig.update_yaxes(log_axis(np.asarray(loss_values, dtype=float)), row=1, col=1)
    return legend_below(fig)
