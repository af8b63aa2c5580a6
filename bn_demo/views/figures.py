"""Figures of a paired comparison (runs in, `go.Figure` out), and the few numbers the pages quote beside
them, computed from the same tables so that text and chart cannot disagree. Pure and torch-free: the home
page draws a stored comparison with them before torch is ever imported.

A comparison repeated over seeds is a list with one {name: RunResult} per seed (`seed_runs` also takes
a single dict or a `SeedResults`). Charts over steps draw each net's mean over seeds with its min–max band
and say so in their title; charts of distributions (percentiles, histograms) show one seed's runs. Each
panel is its own figure, so that a page can lay panels side by side in columns that stack on a phone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bn_demo.core.results import RunResult
from bn_demo.core.seeds import SeedResults, Spread, band
from bn_demo.serving.shared import shared
from bn_demo.views.style import (
    DIVERGED_SYMBOL,
    STEP_AXIS,
    color,
    diverged_note,
    ema,
    fill,
    label,
    legend_below,
    linear_range,
    log_axis,
    seed_band,
    step_axis,
    titled,
)

Runs = dict[str, RunResult]
PerSeed = list[Runs]
LAYER_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "5px,2px", "2px,6px")
BAND_NOTE = "line: mean over seeds · shaded: min–max over seeds"
MEAN_MIN_SPAN = 0.5  # of a batch-mean axis (pre-activation units): a drift of 0.01 is drawn as small
PANEL_HEIGHT = 360


def seed_runs(results: SeedResults | Runs | Sequence[Runs]) -> PerSeed:
    """One {name: run} per seed, whatever the caller holds: a single comparison, a list, or SeedResults
    (whose last entry is the seed still training)."""
    if isinstance(results, SeedResults):
        return [runs for runs in results.per_seed if runs]
    if isinstance(results, dict):
        return [results]
    return list(results)


def nets(per_seed: PerSeed) -> list[str]:
    """The nets of a comparison, in the order of the first seed that has them."""
    return list(dict.fromkeys(name for runs in per_seed for name in runs))


def planned_steps(per_seed: PerSeed) -> int:
    return max((run.config.steps for runs in per_seed for run in runs.values()), default=1)


def runs_of(per_seed: PerSeed, name: str) -> list[RunResult]:
    return [runs[name] for runs in per_seed if name in runs]


def diverged_label(per_seed: PerSeed, name: str) -> str | None:
    """ "no BN diverged at step 3", or "… in 2 of 3 seeds (at steps 3, 5)"; None when it never did."""
    runs = runs_of(per_seed, name)
    steps = [r.diverged_at for r in runs if r.diverged and r.diverged_at is not None]
    if not steps:
        return None
    if len(runs) == 1:
        return f"{label(name)} diverged at step {steps[0]}"
    distinct = sorted(set(steps))
    where = ", ".join(str(s) for s in distinct)
    plural = "s" if len(distinct) > 1 else ""
    return f"{label(name)} diverged in {len(steps)} of {len(runs)} seeds (at step{plural} {where})"


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


def panel(title: str, y_title: str, per_seed: PerSeed, height: int = PANEL_HEIGHT) -> go.Figure:
    """An empty one-panel figure over training steps, saying in its title how seeds are drawn."""
    n = len(per_seed)
    note = f"<br><sup>{BAND_NOTE} ({n} seeds)</sup>" if n > 1 else ""
    fig = titled(go.Figure(), title + note, STEP_AXIS, y_title, height=height)
    return step_axis(legend_below(fig, -0.25), planned_steps(per_seed))


def mark_diverged(fig: go.Figure, per_seed: PerSeed, **where) -> None:
    """A note inside the panel at the first step where a net diverged (and in how many seeds)."""
    steps = planned_steps(per_seed)
    for name in nets(per_seed):
        text = diverged_label(per_seed, name)
        if text is not None:
            at = min(r.diverged_at for r in runs_of(per_seed, name) if r.diverged and r.diverged_at is not None)
            diverged_note(fig, name, at, steps=steps, text=text, **where)


def band_traces(frames: list[pd.DataFrame], x: str, y: str, name: str, **style) -> list[go.Scatter]:
    """A net's mean over seeds of `y` with its min–max band (style.seed_band), the line restyled."""
    traces = seed_band(band(frames, x, y), x, name, name=style.pop("trace_name", None), **style.pop("band", {}))
    traces[-1].update(**style)
    return traces


# ---- training curves -----------------------------------------------------------------------------------------

CURVES = {  # quantity -> (history column, evals column, hover format)
    "loss": ("train_loss", "loss", ".4f"),
    "accuracy": ("train_accuracy", "accuracy", ".1%"),
}


def _curve_traces(per_seed: PerSeed, quantity: str, smoothing: float, showlegend: bool) -> list[go.Scatter]:
    """Per net: its training-batch values smoothed (EMA per seed, then mean and band over seeds), the raw
    mean faint behind when smoothing, and its held-out test evaluations (bold, markers)."""
    train_col, test_col, fmt = CURVES[quantity]
    traces: list[go.Scatter] = []
    for name in nets(per_seed):
        runs, lab, c = runs_of(per_seed, name), label(name), color(name)
        histories = [r.history for r in runs]
        if smoothing > 0:
            raw = band(histories, "step", train_col)
            traces.append(
                go.Scatter(
                    x=raw["step"],
                    y=raw["mean"],
                    mode="lines",
                    line={"color": c, "width": 1},
                    opacity=0.2,
                    name=f"{lab} · training batch (raw)",
                    legendgroup=name,
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
        smoothed = [h.assign(**{train_col: ema(h[train_col], smoothing)}) for h in histories]
        traces += band_traces(
            smoothed,
            "step",
            train_col,
            name,
            trace_name=f"{lab} · training batch",
            band={"showlegend": showlegend},
            line={"color": c, "width": 1.2},
            opacity=0.8,
            hovertemplate=f"{lab} batch: %{{y:{fmt}}}<extra></extra>",
        )
        traces += band_traces(
            [test_evals(r) for r in runs],
            "step",
            test_col,
            name,
            trace_name=f"{lab} · test",
            band={"showlegend": showlegend},
            mode="lines+markers",
            line={"color": c, "width": 2.5},
            marker={"size": 6},
            hovertemplate=f"{lab} test: %{{y:{fmt}}}<extra></extra>",
        )
        traces += _diverged_markers(per_seed, name, train_col, showlegend)
    return traces


def _diverged_markers(per_seed: PerSeed, name: str, column: str, showlegend: bool) -> list[go.Scatter]:
    """An "x" at the step where a net first blew up, at its last recorded value."""
    blown = [r for r in runs_of(per_seed, name) if r.diverged and r.diverged_at is not None]
    if not blown:
        return []
    run = min(blown, key=lambda r: r.diverged_at)
    history = run.history
    y = float(history[column].iloc[-1]) if len(history) else (1.0 if column == "train_loss" else 0.0)
    return [
        go.Scatter(
            x=[run.diverged_at],
            y=[y],
            mode="markers",
            name=f"{label(name)} diverged",
            legendgroup=name,
            showlegend=showlegend,
            marker={"color": color(name), "symbol": DIVERGED_SYMBOL, "size": 14, "line": {"width": 2}},
            hovertemplate=f"{label(name)} diverged at step {run.diverged_at}<extra></extra>",
        )
    ]


def _loss_values(per_seed: PerSeed) -> np.ndarray:
    values = [
        np.asarray(v, dtype=float)
        for runs in per_seed
        for r in runs.values()
        for v in (r.history["train_loss"], test_evals(r)["loss"])
    ]
    return np.concatenate(values) if values else np.array([])


@shared
def loss_panel(results, *, smoothing: float = 0.0, title: str = "Loss (cross-entropy)") -> go.Figure:
    """Training-batch loss (thin, smoothed by `smoothing`) and test loss (bold) per net, log scale."""
    per_seed = seed_runs(results)
    fig = panel(title, "loss (nats per example, log scale)", per_seed)
    fig.add_traces(_curve_traces(per_seed, "loss", smoothing, True))
    fig.update_yaxes(log_axis(_loss_values(per_seed)))
    mark_diverged(fig, per_seed)
    return fig


@shared
def accuracy_panel(results, *, smoothing: float = 0.0, title: str = "Accuracy") -> go.Figure:
    """Training-batch accuracy (thin, smoothed) and test accuracy (bold) per net."""
    per_seed = seed_runs(results)
    fig = panel(title, "accuracy (% correct)", per_seed)
    fig.add_traces(_curve_traces(per_seed, "accuracy", smoothing, True))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    mark_diverged(fig, per_seed)
    return fig


@shared
def training_curves(results, title: str = "Loss and accuracy while training") -> go.Figure:
    """Loss (log scale) and accuracy side by side in one figure (for a single PNG): the same traces as
    `loss_panel` and `accuracy_panel`."""
    per_seed = seed_runs(results)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (cross-entropy)", "Accuracy"), horizontal_spacing=0.1)
    for col, quantity in enumerate(("loss", "accuracy"), start=1):
        fig.add_traces(_curve_traces(per_seed, quantity, 0.0, col == 1), rows=1, cols=col)
        mark_diverged(fig, per_seed, row=1, col=col)
    legend_below(titled(fig, title, STEP_AXIS, "", height=420))
    step_axis(fig, planned_steps(per_seed))
    fig.update_yaxes(log_axis(_loss_values(per_seed)), title_text="loss (nats per example, log scale)", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (% correct)", tickformat=".0%", range=[0, 1.02], row=1, col=2)
    return fig


# ---- per-layer statistics -------------------------------------------------------------------------------------


def _layer_frames(per_seed: PerSeed, name: str, prefix: str) -> dict[int, list[pd.DataFrame]]:
    """Layer -> one wide table (step column, one column per quantity) per seed of net `name`."""
    out: dict[int, list[pd.DataFrame]] = {}
    for run in runs_of(per_seed, name):
        if run.layers.empty:
            continue
        for layer in sorted(run.layers["layer"].unique()):
            wide = layer_table(run, int(layer), prefix)
            if not wide.empty:
                out.setdefault(int(layer), []).append(wide.reset_index())
    return out


def _layer_traces(per_seed: PerSeed, prefix: str, column) -> tuple[list[go.Scatter], list[float]]:
    """Per net and layer, the band over seeds of `column(wide table)`; also every value drawn (for axes)."""
    traces, values = [], []
    for name in nets(per_seed):
        by_layer = _layer_frames(per_seed, name, prefix)
        for layer, frames in by_layer.items():
            frames = [f.assign(y=column(f)) for f in frames if all(c in f for c in ("var", "mean"))]
            if not frames:
                continue
            lab = f"{label(name)} · layer {layer}" if len(by_layer) > 1 else label(name)
            dash = LAYER_DASHES[(layer - 1) % len(LAYER_DASHES)]
            traces += band_traces(
                frames,
                "step",
                "y",
                name,
                trace_name=lab,
                line={"color": color(name), "dash": dash, "width": 2},
                hovertemplate=f"{lab}: %{{y:.4g}}<extra></extra>",
            )
            values += [v for f in frames for v in f["y"]]
    return traces, values


@shared
def layer_panels(results, *, prefix: str = "") -> tuple[go.Figure, go.Figure]:
    """Per hidden layer, the batch mean and the batch variance (each averaged over units) of the
    nonlinearity's input (or, with `prefix="bn_in_"`, of BN's input), against step. BN holds its output's
    near β and γ² (≈ 0 and 1 at the start); without BN they wander."""
    per_seed = seed_runs(results)
    mean_fig = panel("Batch mean (average over units)", "mean (pre-activation units)", per_seed)
    traces, values = _layer_traces(per_seed, prefix, lambda f: f["mean"])
    mean_fig.add_traces(traces)
    mean_fig.update_yaxes(range=linear_range(values, min_span=MEAN_MIN_SPAN))
    var_fig = panel("Batch variance (average over units)", "variance (log scale)", per_seed)
    traces, values = _layer_traces(per_seed, prefix, lambda f: f["var"])
    var_fig.add_traces(traces)
    var_fig.update_yaxes(log_axis(values))
    for fig in (mean_fig, var_fig):
        mark_diverged(fig, per_seed)
    return mean_fig, var_fig


def _running_gap(per_seed: PerSeed, name: str, gap: str, scale) -> dict[int, list[pd.DataFrame]]:
    frames = {}
    for run in runs_of(per_seed, name):
        if run.layers.empty:
            continue
        rows = run.layers[run.layers["quantity"].isin((gap, "running_var"))]
        for layer, table in rows.groupby("layer"):
            wide = table.pivot(index="step", columns="quantity", values="value").reset_index()
            if gap in wide:
                frames.setdefault(int(layer), []).append(wide.assign(y=wide[gap] / scale(wide["running_var"])))
    return frames


RUNNING_GAPS = {  # recorded gap -> (panel title, y title, its scale from the running variance)
    "running_mean_gap": (
        "Mean: |batch − running| / running std",
        "gap (running standard deviations)",
        np.sqrt,
    ),
    "running_var_gap": (
        "Variance: |batch − running| / running var",
        "gap (share of the running variance)",
        lambda v: v,
    ),
}


@shared
def running_gap_panels(results) -> list[go.Figure]:
    """How far each training batch's statistics of BN's input are from the running averages that inference
    uses (each averaged over units, relative to the running average's size): the noise a small batch adds.
    Empty when no net has BN."""
    per_seed = seed_runs(results)
    with_bn = [n for n in nets(per_seed) if any(r.config.uses_bn for r in runs_of(per_seed, n))]
    if not with_bn:
        return []
    figures = []
    for gap, (title, y_title, scale) in RUNNING_GAPS.items():
        fig = panel(title, y_title, per_seed)
        values = []
        for name in with_bn:
            by_layer = _running_gap(per_seed, name, gap, scale)
            for layer, frames in by_layer.items():
                lab = f"{label(name)} · layer {layer}" if len(by_layer) > 1 else label(name)
                fig.add_traces(
                    band_traces(
                        frames,
                        "step",
                        "y",
                        name,
                        trace_name=lab,
                        line={"color": color(name), "dash": LAYER_DASHES[(layer - 1) % len(LAYER_DASHES)]},
                        hovertemplate=f"{lab}: %{{y:.3g}}<extra></extra>",
                    )
                )
                values += [v for f in frames for v in f["y"]]
        fig.update_yaxes(log_axis(values))
        mark_diverged(fig, per_seed)
        figures.append(fig)
    return figures


# ---- percentile bands (Ioffe & Szegedy 2015, Figure 1) --------------------------------------------------------


def _percentile_traces(subtitle: str, name: str, wide: pd.DataFrame, showlegend: bool = True) -> list[go.Scatter]:
    """A shaded 15th–85th percentile band around the median, in run `name`'s colour."""
    steps, c = wide.index.to_numpy(), color(name)
    common = {"x": steps, "mode": "lines", "legendgroup": subtitle}
    band_ = [  # the 85th first: the 15th fills up to it ("tonexty")
        ("p85", f"{subtitle}: 85th percentile", "85th", {"width": 0.5}, {"showlegend": False}),
        (
            "p15",
            f"{subtitle}: 15th–85th percentile",
            "15th",
            {"width": 0.5},
            {"fill": "tonexty", "fillcolor": fill(c), "showlegend": showlegend},
        ),
        ("p50", f"{subtitle}: median", "median", {"width": 2.5}, {"showlegend": showlegend}),
    ]
    return [
        go.Scatter(
            y=wide[quantity].to_numpy(),
            line={"color": c, **line},
            name=name_,
            hovertemplate=f"{hover}: %{{y:.4f}}<extra></extra>",
            **common,
            **extra,
        )
        for quantity, name_, hover, line, extra in band_
    ]


def _bands(panels: list[tuple[str, str, pd.DataFrame]], title: str, y_title: str) -> go.Figure:
    """One subplot per (subtitle, run name for the colour, table with p15/p50/p85 by step)."""
    fig = make_subplots(
        rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], shared_yaxes=True, horizontal_spacing=0.06
    )
    for col, (subtitle, name, wide) in enumerate(panels, start=1):
        fig.add_traces(_percentile_traces(subtitle, name, wide), rows=1, cols=col)
    legend_below(titled(fig, title, STEP_AXIS, "", height=400))
    fig.update_yaxes(title_text=y_title, row=1, col=1)
    return fig


def percentile_bands(runs: Runs, layer: int, title: str) -> go.Figure:
    """The tracked unit's nonlinearity input, one subplot per run, in one figure."""
    panels = [(label(name), name, layer_table(run, layer)) for name, run in runs.items() if not run.layers.empty]
    return _bands(panels, title, "input of the nonlinearity")


def _percentile_panel(title: str, name: str, wide: pd.DataFrame, y_title: str, steps: int) -> go.Figure:
    fig = titled(go.Figure(), title, STEP_AXIS, y_title, height=PANEL_HEIGHT)
    fig.add_traces(_percentile_traces(label(name), name, wide))
    return step_axis(legend_below(fig, -0.25), steps)


@shared
def percentile_band_panels(runs: Runs, layer: int, unit: int) -> list[go.Figure]:
    """The tracked unit's nonlinearity input (15th, 50th, 85th percentile over the batch), one figure per
    run that recorded steps."""
    return [
        _percentile_panel(
            f"{label(name)}: layer {layer}, unit {unit}",
            name,
            layer_table(run, layer),
            "input of the nonlinearity",
            run.config.steps,
        )
        for name, run in runs.items()
        if not run.layers.empty
    ]


@shared
def bn_input_output_panels(run_name: str, run: RunResult, layer: int) -> list[go.Figure]:
    """For a BN run: the tracked unit before BN (its input still moves) and after (normalised)."""
    unit, steps = run.config.tracked_unit, run.config.steps
    return [
        _percentile_panel(
            f"Before BN (Linear output), unit {unit}", "bn_input", layer_table(run, layer, "bn_in_"), "value", steps
        ),  # grey: neither BN nor no BN
        _percentile_panel(f"After BN, unit {unit}", run_name, layer_table(run, layer), "value", steps),
    ]


def percentile_moves(run: RunResult, layer: int, prefix: str = "") -> dict[str, float]:
    """How far the tracked unit's median moved and how its 15–85 band width changed, first to last record;
    `median_moved_widths` is the move in units of the band's first width, comparable across scales."""
    wide = layer_table(run, layer, prefix)
    width = wide["p85"] - wide["p15"]
    moved = float(wide["p50"].iloc[-1] - wide["p50"].iloc[0])
    first_width = float(width.iloc[0])
    return {
        "median_first": float(wide["p50"].iloc[0]),
        "median_last": float(wide["p50"].iloc[-1]),
        "median_moved": moved,
        "median_range": float(wide["p50"].max() - wide["p50"].min()),
        "width_first": first_width,
        "width_last": float(width.iloc[-1]),
        "median_moved_widths": moved / first_width if first_width > 0 else float("nan"),
    }


def curves_table(runs: Runs) -> pd.DataFrame:
    """What the training-curve panels draw, as one table: per run and step, the training batch's loss and
    accuracy and, at evaluations, the test loss and accuracy (empty elsewhere)."""
    frames = []
    for name, run in runs.items():
        tests = test_evals(run)[["step", "loss", "accuracy"]].rename(
            columns={"loss": "test_loss", "accuracy": "test_accuracy"}
        )
        merged = run.history.merge(tests, on="step", how="outer").sort_values("step", ignore_index=True)
        frames.append(merged.assign(run=name))
    if not frames:
        return pd.DataFrame(columns=["run", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy"])
    out = pd.concat(frames, ignore_index=True)
    return out[["run", *[c for c in out.columns if c != "run"]]]


# ---- summary --------------------------------------------------------------------------------------------------


def spread_text(values: Sequence[float], fmt: str) -> str:
    """Mean ± sd over seeds, or the value alone when every seed has the same one (steps trained)."""
    spread = Spread.of(values)
    return fmt.format(spread.mean) if spread.n and spread.lo == spread.hi else spread.text(fmt)


def status_text(runs: list[RunResult]) -> str:
    """ "finished", "stopped", "diverged at step 3", or per seed "diverged in 1 of 3 seeds"."""
    diverged = [r for r in runs if r.diverged]
    if len(runs) == 1:
        run = runs[0]
        return f"diverged at step {run.diverged_at}" if run.diverged else ("stopped" if run.stopped else "finished")
    if diverged:
        return f"diverged in {len(diverged)} of {len(runs)} seeds"
    stopped = sum(r.stopped for r in runs)
    return f"stopped in {stopped} of {len(runs)} seeds" if stopped else f"finished ({len(runs)} seeds)"


def ahead_text(per_seed: PerSeed, name: str, reference: str) -> str:
    """In how many seeds (with both finite) net `name`'s test accuracy beat `reference`'s."""
    pairs = [
        (runs[name].test_accuracy, runs[reference].test_accuracy)
        for runs in per_seed
        if name in runs and reference in runs
    ]
    pairs = [(a, b) for a, b in pairs if np.isfinite(a) and np.isfinite(b)]
    return f"{sum(a > b for a, b in pairs)} of {len(pairs)} seeds" if pairs else "–"


@shared
def summary_table(results, reference: str = "plain") -> pd.DataFrame:
    """One row per net: mean ± sd over seeds (the value alone for one seed) of what a student compares
    first, in how many seeds it was ahead of `reference` on test accuracy, and the time per step BN costs."""
    per_seed = seed_runs(results)
    rows = []
    for name in nets(per_seed):
        runs = runs_of(per_seed, name)
        row = {
            "run": label(name),
            "steps trained": spread_text([r.steps for r in runs], "{:,.0f}"),
            "test accuracy": Spread.of([r.test_accuracy for r in runs]).text("{:.2%}"),
            "test loss": Spread.of([r.test_loss for r in runs]).text("{:.4f}"),
            "final training loss": Spread.of([r.train_loss for r in runs]).text("{:.4f}"),
        }
        if reference in nets(per_seed) and len(nets(per_seed)) > 1:
            row[f"test accuracy above {label(reference)}'s"] = (
                ahead_text(per_seed, name, reference) if name != reference else "–"
            )
        row["status"] = status_text(runs)
        row["ms per step"] = Spread.of([1000 * r.seconds_per_step for r in runs]).text("{:.2f}")
        rows.append(row)
    return pd.DataFrame(rows)
