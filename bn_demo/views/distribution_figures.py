"""The distribution of a layer's inputs over training (lesson 2): per run, histograms of all units' inputs at
each evaluation, and how far each unit's batch mean drifted. One seed's runs; torch-free."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from bn_demo.core.results import RunResult
from bn_demo.serving.shared import shared
from bn_demo.views.figures import PANEL_HEIGHT, Runs
from bn_demo.views.style import STEP_AXIS, color, label, legend_below, step_axis, titled

HEATMAP_BINS = 40
DRIFT_BINS = 40  # of the histogram of per-unit mean changes, shared by every run
HEATMAP_RANGE = (0.005, 0.995)  # quantiles of one run's sampled values that bound its heatmap's value axis


def snapshot_edges(runs: Runs, layer: int, bins: int = HEATMAP_BINS) -> np.ndarray:
    """Bin edges spanning the central 99% of all sampled values of the layer in `runs`."""
    snaps = [r.tables["snapshots"] for r in runs.values()]
    values = np.concatenate([t.loc[t["layer"] == layer, "value"].to_numpy(dtype=float) for t in snaps] or [[]])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.linspace(-1.0, 1.0, bins + 1)
    low, high = np.quantile(values, HEATMAP_RANGE)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def snapshot_density(run: RunResult, layer: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(steps, density[bin, step]): the share of a snapshot's sampled values that falls in each bin."""
    snaps = run.tables["snapshots"]
    snaps = snaps[snaps["layer"] == layer]
    steps = np.sort(snaps["step"].unique())
    density = np.zeros((len(edges) - 1, len(steps)))
    for j, (_, group) in enumerate(snaps.groupby("step", sort=True)):
        counts, _ = np.histogram(group["value"].to_numpy(), bins=edges)
        density[:, j] = counts / len(group)
    return steps, density


def column_normalised(density: np.ndarray) -> np.ndarray:
    """Each column (one snapshot) divided by its largest bin: every step's histogram uses the whole colour
    scale, so one step's spike cannot turn the rest of the panel into a single colour."""
    peak = density.max(axis=0, keepdims=True)
    return np.divide(density, peak, out=np.zeros_like(density), where=peak > 0)


@shared
def snapshot_heatmaps(runs: Runs, layer: int) -> list[go.Figure]:
    """Per run, the histogram of the layer's nonlinearity inputs at each evaluation (a column per step) on
    the run's own value range, each column scaled to its peak (TensorBoard's histograms, seen from above)."""
    figures = []
    for name, run in runs.items():
        edges = snapshot_edges({name: run}, layer)
        steps, density = snapshot_density(run, layer, edges)
        if not len(steps):
            continue
        fig = titled(go.Figure(), f"{label(name)}: layer {layer}", STEP_AXIS, "input of the nonlinearity", PANEL_HEIGHT)
        fig.add_trace(
            go.Heatmap(
                x=steps,
                y=(edges[:-1] + edges[1:]) / 2,
                z=column_normalised(density),
                customdata=density,
                name=label(name),
                colorscale="Viridis",
                zmin=0,
                zmax=1,
                colorbar={"title": {"text": "share / step's peak", "side": "right"}, "thickness": 12},
                hovertemplate="step %{x}<br>value %{y:.3f}<br>share of values %{customdata:.1%}<extra></extra>",
            )
        )
        fig.update_layout(hovermode="closest")
        figures.append(step_axis(fig, run.config.steps))
    return figures


# ---- per-unit drift -------------------------------------------------------------------------------------------


def unit_means(run: RunResult, layer: int) -> pd.DataFrame:
    """Every unit's batch mean (columns) at the recorded steps of the units table (index)."""
    units = run.tables["units"]
    return units[units["layer"] == layer].pivot(index="step", columns="unit", values="mean")


def unit_mean_drift(run: RunResult, layer: int) -> np.ndarray:
    """Each unit's change of batch mean, last record minus first."""
    means = unit_means(run, layer)
    return (means.iloc[-1] - means.iloc[0]).to_numpy()


def first_std(run: RunResult, layer: int) -> float:
    """The layer's typical standard deviation at the first record: √(batch variance averaged over units)."""
    units = run.tables["units"]
    first = units[(units["layer"] == layer) & (units["step"] == units["step"].min())]
    return float(np.sqrt(first["var"].mean())) if len(first) else float("nan")


def relative_unit_drift(run: RunResult, layer: int) -> np.ndarray:
    """Each unit's change of batch mean in units of the layer's first standard deviation: comparable
    between a normalised (BN) and an unnormalised layer."""
    scale = first_std(run, layer)
    drift = unit_mean_drift(run, layer)
    return drift / scale if scale > 0 else np.full_like(drift, np.nan, dtype=float)


@shared
def unit_drift_panels(runs: Runs, layer: int, shown_units: int = 5) -> tuple[go.Figure, go.Figure]:
    """Left: a few units' batch means over steps; right: the distribution of every unit's change of mean,
    in units of the layer's first standard deviation, on one set of bins for all runs."""
    runs = {n: r for n, r in runs.items() if not r.tables["units"].empty}
    steps = max((r.config.steps for r in runs.values()), default=1)
    lines = titled(
        go.Figure(), f"Layer {layer}: batch mean of units 0–{shown_units - 1}", STEP_AXIS, "batch mean", PANEL_HEIGHT
    )
    step_axis(legend_below(lines, -0.25), steps)
    drifts = {name: relative_unit_drift(run, layer) for name, run in runs.items()}
    every = np.concatenate(list(drifts.values()) or [[]]).astype(float)
    every = every[np.isfinite(every)]
    low, high = (float(every.min()), float(every.max())) if every.size else (-1.0, 1.0)
    size = max(high - low, 1e-6) * (1 + 1e-6) / DRIFT_BINS  # a hair wider: the largest change falls in the last bin
    bins = {"start": low, "end": low + DRIFT_BINS * size, "size": size}  # one set for all runs
    hist = titled(
        go.Figure(),
        f"Layer {layer}: change of each unit's mean",
        "first to last record (in first standard deviations)",
        "number of units",
        PANEL_HEIGHT,
    )
    legend_below(hist, -0.3).update_layout(barmode="overlay", hovermode="closest")
    for name, run in runs.items():
        means, lab = unit_means(run, layer), label(name)
        for k, unit in enumerate(means.columns[:shown_units]):
            lines.add_trace(
                go.Scatter(
                    x=means.index.to_numpy(),
                    y=means[unit].to_numpy(),
                    mode="lines",
                    name=lab,
                    legendgroup=name,
                    showlegend=k == 0,
                    line={"color": color(name), "width": 1.5},
                    hovertemplate=f"{lab} unit {unit}: %{{y:.4f}}<extra></extra>",
                )
            )
        hist.add_trace(
            go.Histogram(
                x=drifts[name],
                xbins=bins,
                name=lab,
                marker={"color": color(name)},
                opacity=0.6,
                hovertemplate=f"{lab}: %{{y}} units changed by %{{x}}<extra></extra>",
            )
        )
    return lines, hist
