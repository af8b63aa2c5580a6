"""Figures of a paired comparison (runs in, `go.Figure` out), and the few numbers the pages quote beside
them, computed from the same tables so that text and chart cannot disagree. Pure and torch-free: the home
page draws a stored comparison with them before torch is ever imported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bn_demo.results import RunResult
from bn_demo.style import DIVERGED_SYMBOL, color, fill, label, legend_below, log_axis, titled

Runs = dict[str, RunResult]
LAYER_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "5px,2px", "2px,6px")
HEATMAP_BINS = 40
DRIFT_BINS = 40  # of the histogram of per-unit mean changes, shared by every run
HEATMAP_RANGE = (0.005, 0.995)  # quantiles of all sampled values that bound the heatmap's value axis
STEP_AXIS = "training step (SGD updates)"


def _line(series: pd.Series, name: str, group: str, showlegend: bool, line: dict) -> go.Scatter:
    """A series (indexed by step) as a line trace."""
    return go.Scatter(
        x=series.index.to_numpy(),
        y=series.to_numpy(),
        mode="lines",
        name=name,
        legendgroup=group,
        showlegend=showlegend,
        line=line,
    )


def layer_table(run: RunResult, layer: int, prefix: str = "") -> pd.DataFrame:
    """One hidden layer's recorded quantities as columns (step index); `prefix="bn_in_"` for BN's input."""
    rows = run.layers[(run.layers["layer"] == layer) & run.layers["quantity"].str.startswith(prefix)]
    wide = rows.pivot(index="step", columns="quantity", values="value")
    if prefix:
        wide = wide[[c for c in wide.columns if c.startswith(prefix)]]
        wide.columns = [c.removeprefix(prefix) for c in wide.columns]
    else:
        wide = wide[[c for c in wide.columns if not c.startswith("bn_in_")]]
    return wide


def test_evals(run: RunResult) -> pd.DataFrame:
    """Held-out loss and accuracy in eval mode (what the model would score when deployed)."""
    return run.evals[run.evals["mode"] == "eval"]


# ---- training curves -----------------------------------------------------------------------------------------


def _diverged_marks(fig: go.Figure, run_name: str, run: RunResult, y: float, col: int) -> None:
    """An "x" at the step where a run blew up, and a dashed line with a note across the subplot."""
    at = run.diverged_at
    fig.add_trace(
        go.Scatter(
            x=[at],
            y=[y],
            mode="markers",
            name=f"{label(run_name)} diverged",
            legendgroup=run_name,
            showlegend=col == 1,
            marker={"color": color(run_name), "symbol": DIVERGED_SYMBOL, "size": 14, "line": {"width": 2}},
            hovertemplate=f"{label(run_name)} diverged at step {at}<extra></extra>",
        ),
        row=1,
        col=col,
    )
    fig.add_vline(
        x=at,
        line={"color": color(run_name), "dash": "dash", "width": 1},
        annotation_text=f"{label(run_name)} diverged at step {at}",
        annotation_position="top left",
        row=1,
        col=col,
    )


def training_curves(runs: Runs, title: str = "Loss and accuracy while training") -> go.Figure:
    """Loss (log scale) and accuracy side by side: each run's minibatch values at every recorded step (thin)
    and its held-out test values at every evaluation (markers)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (cross-entropy)", "Accuracy"), horizontal_spacing=0.1)
    for name, run in runs.items():
        history, tests = run.history, test_evals(run)
        c, lab = color(name), label(name)
        for col, (train_col, test_col, fmt) in enumerate(
            [("train_loss", "loss", ".4f"), ("train_accuracy", "accuracy", ".1%")], start=1
        ):
            curves = [  # (table, column, kind, hover word, style): thin batch values, bold test evaluations
                (
                    history,
                    train_col,
                    "training batch",
                    "batch",
                    {"mode": "lines", "line": {"width": 1}, "opacity": 0.45},
                ),
                (
                    tests,
                    test_col,
                    "test",
                    "test",
                    {"mode": "lines+markers", "line": {"width": 2.5}, "marker": {"size": 6}},
                ),
            ]
            for table, column, kind, word, style in curves:
                style["line"] = {**style["line"], "color": c}
                fig.add_trace(
                    go.Scatter(
                        x=table["step"].to_numpy(),
                        y=table[column].to_numpy(),
                        name=f"{lab} · {kind}",
                        legendgroup=name,
                        showlegend=col == 1,
                        hovertemplate=f"{lab} {word}: %{{y:{fmt}}}<extra></extra>",
                        **style,
                    ),
                    row=1,
                    col=col,
                )
        if run.diverged and run.diverged_at is not None:
            last = history["train_loss"].iloc[-1] if len(history) else 1.0
            _diverged_marks(fig, name, run, float(last), 1)
            _diverged_marks(fig, name, run, float(history["train_accuracy"].iloc[-1]) if len(history) else 0.0, 2)
    legend_below(titled(fig, title, STEP_AXIS, "", height=420))
    losses = [v for run in runs.values() for v in (run.history["train_loss"], test_evals(run)["loss"])]
    axis = log_axis(np.concatenate([np.asarray(v, dtype=float) for v in losses]) if losses else [])
    fig.update_yaxes(axis, title_text="loss (nats per example, log scale)", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (% correct)", tickformat=".0%", range=[0, 1.02], row=1, col=2)
    return fig


# ---- per-layer statistics -------------------------------------------------------------------------------------


def layer_statistics(runs: Runs, title: str, prefix: str = "") -> go.Figure:
    """Per hidden layer, the batch mean and variance of the nonlinearity's input (averaged over units),
    against step: BN holds them near β and γ², without BN they wander."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Batch mean (average over units)", "Batch variance (average over units, log scale)"),
        horizontal_spacing=0.1,
    )
    for name, run in runs.items():
        layers = sorted(run.layers["layer"].unique()) if len(run.layers) else []
        for layer in layers:
            wide = layer_table(run, int(layer), prefix)
            if wide.empty:
                continue
            lab = f"{label(name)} · layer {layer}" if len(layers) > 1 else label(name)
            for col, quantity in enumerate(("mean", "var"), start=1):
                dash = LAYER_DASHES[(int(layer) - 1) % len(LAYER_DASHES)]
                trace = _line(wide[quantity], lab, f"{name}-{layer}", col == 1, {"color": color(name), "dash": dash})
                fig.add_trace(trace.update(hovertemplate=f"{lab}: %{{y:.4g}}<extra></extra>"), row=1, col=col)
    legend_below(titled(fig, title, STEP_AXIS, "", height=400))
    fig.update_yaxes(title_text="mean (pre-activation units)", row=1, col=1)
    fig.update_yaxes(type="log", title_text="variance (pre-activation units²)", row=1, col=2)
    return fig


# ---- percentile bands (Ioffe & Szegedy 2015, Figure 1) --------------------------------------------------------


def _bands(panels: list[tuple[str, str, pd.DataFrame]], title: str, y_title: str) -> go.Figure:
    """One subplot per (subtitle, run name for the colour, table with p15/p50/p85 by step): a shaded
    15th–85th percentile band around the median."""
    fig = make_subplots(
        rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], shared_yaxes=True, horizontal_spacing=0.06
    )
    for col, (subtitle, name, wide) in enumerate(panels, start=1):
        steps, c = wide.index.to_numpy(), color(name)
        common = {"x": steps, "mode": "lines", "legendgroup": subtitle}
        band = [  # the 85th first: the 15th fills up to it ("tonexty")
            ("p85", f"{subtitle}: 85th percentile", "85th", {"width": 0.5}, {"showlegend": False}),
            (
                "p15",
                f"{subtitle}: 15th–85th percentile",
                "15th",
                {"width": 0.5},
                {"fill": "tonexty", "fillcolor": fill(c)},
            ),
            ("p50", f"{subtitle}: median", "median", {"width": 2.5}, {}),
        ]
        for quantity, name_, hover, line, extra in band:
            fig.add_trace(
                go.Scatter(
                    y=wide[quantity].to_numpy(),
                    line={"color": c, **line},
                    name=name_,
                    hovertemplate=f"{hover}: %{{y:.4f}}<extra></extra>",
                    **common,
                    **extra,
                ),
                row=1,
                col=col,
            )
    legend_below(titled(fig, title, STEP_AXIS, "", height=400))
    fig.update_yaxes(title_text=y_title, row=1, col=1)
    return fig


def percentile_bands(runs: Runs, layer: int, title: str) -> go.Figure:
    """The tracked unit's nonlinearity input, one subplot per run."""
    panels = [(label(name), name, layer_table(run, layer)) for name, run in runs.items()]
    return _bands(panels, title, "input of the nonlinearity")


def bn_input_output(run_name: str, run: RunResult, layer: int, title: str) -> go.Figure:
    """For a BN run: the tracked unit before BN (its input still moves) and after (normalised)."""
    panels = [
        ("BN's input (Linear output)", "bn_input", layer_table(run, layer, "bn_in_")),  # grey: neither BN nor no BN
        ("BN's output (input of the nonlinearity)", run_name, layer_table(run, layer)),
    ]
    return _bands(panels, title, "value of the tracked unit")


def percentile_moves(run: RunResult, layer: int, prefix: str = "") -> dict[str, float]:
    """How far the tracked unit's median moved and how its 15–85 band width changed, first to last record."""
    wide = layer_table(run, layer, prefix)
    width = wide["p85"] - wide["p15"]
    return {
        "median_first": float(wide["p50"].iloc[0]),
        "median_last": float(wide["p50"].iloc[-1]),
        "median_moved": float(wide["p50"].iloc[-1] - wide["p50"].iloc[0]),
        "median_range": float(wide["p50"].max() - wide["p50"].min()),
        "width_first": float(width.iloc[0]),
        "width_last": float(width.iloc[-1]),
    }


# ---- histograms over time -------------------------------------------------------------------------------------


def snapshot_edges(runs: Runs, layer: int, bins: int = HEATMAP_BINS) -> np.ndarray:
    """Bin edges shared by every run, spanning the central 99% of all sampled values of the layer."""
    snaps = [r.tables["snapshots"] for r in runs.values()]
    values = np.concatenate([t.loc[t["layer"] == layer, "value"].to_numpy() for t in snaps])
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


def snapshot_heatmap(runs: Runs, layer: int, title: str) -> go.Figure:
    """Density of the layer's nonlinearity inputs over step × value, one heatmap per run on shared bins."""
    edges = snapshot_edges(runs, layer)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = make_subplots(
        rows=1,
        cols=len(runs),
        subplot_titles=[label(n) for n in runs],
        shared_yaxes=True,
        horizontal_spacing=0.06,
    )
    for col, (name, run) in enumerate(runs.items(), start=1):
        steps, density = snapshot_density(run, layer, edges)
        fig.add_trace(
            go.Heatmap(
                x=steps,
                y=centres,
                z=density,
                name=label(name),
                coloraxis="coloraxis",
                hovertemplate=f"{label(name)}<br>step %{{x}}<br>value %{{y:.3f}}<br>share %{{z:.1%}}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    legend_below(titled(fig, title, STEP_AXIS, "", height=400))
    fig.update_layout(
        coloraxis={"colorscale": "Viridis", "colorbar": {"title": {"text": "share of values"}, "tickformat": ".0%"}},
        hovermode="closest",
    )
    fig.update_yaxes(title_text="input of the nonlinearity", row=1, col=1)
    return fig


# ---- per-unit drift -------------------------------------------------------------------------------------------


def unit_means(run: RunResult, layer: int) -> pd.DataFrame:
    """Every unit's batch mean (columns) at the recorded steps of the units table (index)."""
    units = run.tables["units"]
    return units[units["layer"] == layer].pivot(index="step", columns="unit", values="mean")


def unit_mean_drift(run: RunResult, layer: int) -> np.ndarray:
    """Each unit's change of batch mean, last record minus first."""
    means = unit_means(run, layer)
    return (means.iloc[-1] - means.iloc[0]).to_numpy()


def unit_drift(runs: Runs, layer: int, title: str, shown_units: int = 5) -> go.Figure:
    """Left: a few units' batch means over steps; right: the distribution of every unit's change of mean."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(f"Batch mean of units 0–{shown_units - 1}", "Change of each unit's mean, first to last record"),
        horizontal_spacing=0.1,
    )
    drifts = {name: unit_mean_drift(run, layer) for name, run in runs.items()}
    every = np.concatenate(list(drifts.values()))
    every = every[np.isfinite(every)]
    low, high = (float(every.min()), float(every.max())) if every.size else (-1.0, 1.0)
    size = max(high - low, 1e-6) * (1 + 1e-6) / DRIFT_BINS  # a hair wider: the largest change falls in the last bin
    bins = {"start": low, "end": low + DRIFT_BINS * size, "size": size}  # one set for all runs
    for name, run in runs.items():
        means, lab = unit_means(run, layer), label(name)
        for k, unit in enumerate(means.columns[:shown_units]):
            trace = _line(means[unit], lab, name, k == 0, {"color": color(name), "width": 1.5})
            fig.add_trace(trace.update(hovertemplate=f"{lab} unit {unit}: %{{y:.4f}}<extra></extra>"), row=1, col=1)
        fig.add_trace(
            go.Histogram(
                x=drifts[name],
                xbins=bins,
                name=lab,
                legendgroup=name,
                showlegend=False,
                marker={"color": color(name)},
                opacity=0.6,
                hovertemplate=f"{lab}: %{{y}} units changed by %{{x}}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    legend_below(titled(fig, title, STEP_AXIS, "", height=400))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="change of the unit's batch mean (pre-activation units)", row=1, col=2)
    fig.update_yaxes(title_text="batch mean (pre-activation units)", row=1, col=1)
    fig.update_yaxes(title_text="number of units", row=1, col=2)
    return fig


# ---- summary --------------------------------------------------------------------------------------------------


def summary_table(runs: Runs) -> pd.DataFrame:
    """One row per run: what a student compares first, including the time per step BN costs."""
    rows = []
    for name, run in runs.items():
        status = f"diverged at step {run.diverged_at}" if run.diverged else ("stopped" if run.stopped else "finished")
        rows.append(
            {
                "run": label(name),
                "steps trained": run.steps,
                "test accuracy": run.test_accuracy,
                "test loss": run.test_loss,
                "final training loss": run.train_loss,
                "status": status,
                "ms per step": 1000 * run.seconds_per_step,
            }
        )
    return pd.DataFrame(rows)
