"""Lesson: internal covariate shift — how the distribution of a hidden layer's inputs moves while the
layers below it learn, with and without BN (Ioffe & Szegedy 2015, Figure 1, on the note's layers)."""

import streamlit as st

from bn_demo import figures
from bn_demo.jobs import JobStatus
from bn_demo.results import RunResult
from bn_demo.style import PNG_CONFIG
from lab_ui import comparison, live
from lab_ui.nav import page_header
from lab_ui.params import Param, build_or_stop, settings_panel

PAGE = "ics"
DEPTH = 3  # three hidden layers by default, so that the deepest layer's input comes from layers that learn

page_header("Internal covariate shift")
st.markdown(
    "The note says BN mitigates **internal covariate shift**: while the layers below learn, the distribution of "
    "a layer's inputs keeps moving. Here a network of 256-unit layers trains with and without BN (paired), and "
    "we watch the input of each layer's nonlinearity: one tracked unit's 15th, 50th and 85th percentiles over "
    "the batch (as in Ioffe & Szegedy's Figure 1), histograms of all its units, and every unit's mean."
)
live.require_data()
settings = settings_panel(
    PAGE,
    [
        *(p for p in comparison.comparison_params(layers=DEPTH) if p.key != "bn"),  # always both, paired
        Param("unit", "Tracked unit", 0, low=0, high=comparison.WIDTH - 1, help="Whose percentiles are recorded"),
    ],
)
configs = build_or_stop(comparison.configs_from, {**settings, "bn": "both"}, tracked_unit=settings["unit"])
comparison.train_controls(PAGE, configs)
if live.current(PAGE) is None:
    st.info("Press **▶ Train**: the layer's input distributions appear here live while it trains.")


def moves_text(runs: dict[str, RunResult], layer: int, unit: int) -> str:
    """The tracked unit's median and band, first and last record, for each run, from the run itself."""

    def moves(run: RunResult) -> str:
        m = figures.percentile_moves(run, layer)
        drift = abs(figures.unit_mean_drift(run, layer))
        return (
            f"the median of unit {unit} went from {m['median_first']:.3f} to {m['median_last']:.3f} (moved by "
            f"{m['median_moved']:+.3f}, range {m['median_range']:.3f}); its 15–85th band widened from "
            f"{m['width_first']:.3f} to {m['width_last']:.3f}. Across all {drift.size} units, the batch mean moved "
            f"by {drift.mean():.3f} on average (largest {drift.max():.3f})."
        )

    return comparison.run_bullets(runs, moves)


def draw(runs: dict[str, RunResult], status: JobStatus) -> None:
    comparison.diverged_text(runs)
    if any(run.layers.empty for run in runs.values()):
        return
    depth = len(next(iter(runs.values())).config.hidden)
    unit = next(iter(runs.values())).config.tracked_unit
    layer = st.segmented_control("Hidden layer shown", options=range(1, depth + 1), default=depth, key="ics:layer")
    layer = layer or depth
    finished = status.state in ("done", "stopped")
    if finished:
        st.markdown(f"**In this run, layer {layer}:**\n" + moves_text(runs, layer, unit))
    st.plotly_chart(
        figures.percentile_bands(
            runs, layer, f"Layer {layer}, unit {unit}: input of the nonlinearity (15th, 50th, 85th percentile)"
        ),
        width="stretch",
        config=PNG_CONFIG,
    )
    st.plotly_chart(
        figures.snapshot_heatmap(runs, layer, f"Layer {layer}: distribution of all units' inputs at each evaluation"),
        width="stretch",
        config=PNG_CONFIG,
    )
    st.plotly_chart(
        figures.unit_drift(runs, layer, f"Layer {layer}: per-unit batch means drift"),
        width="stretch",
        config=PNG_CONFIG,
    )
    if "bn" in runs:
        bn = runs["bn"]
        before, after = figures.layer_table(bn, layer, "bn_in_"), figures.layer_table(bn, layer)
        moved_in = figures.percentile_moves(bn, layer, "bn_in_")
        moved_out = figures.percentile_moves(bn, layer)
        st.subheader("Before and after BatchNorm")
        st.markdown(
            f"In the BN run, BN's input — the Linear layer's output — still changes as the weights learn: averaged "
            f"over layer {layer}'s units, its batch variance went from {before['var'].iloc[0]:.3g} to "
            f"{before['var'].iloc[-1]:.3g} and its batch mean from {before['mean'].iloc[0]:.3f} to "
            f"{before['mean'].iloc[-1]:.3f}. BN's output, the input of the nonlinearity, is what is normalised: "
            f"variance {after['var'].iloc[0]:.3g} → {after['var'].iloc[-1]:.3g}, mean {after['mean'].iloc[0]:.3f} → "
            f"{after['mean'].iloc[-1]:.3f} (only γ and β, learned slowly, move it). For unit {unit}, the median "
            f"moved by {moved_in['median_moved']:+.3f} before BN and {moved_out['median_moved']:+.3f} after it."
        )
        st.plotly_chart(
            figures.bn_input_output(
                "bn", bn, layer, f"BN run, layer {layer}, unit {unit}: before and after BatchNorm (15/50/85th)"
            ),
            width="stretch",
            config=PNG_CONFIG,
        )
    if finished:
        st.markdown(
            "**What to look for:** without BN the band and the heatmap drift and widen as the layers below learn; "
            "with BN they stay centred with a steady width. **Try next:** switch to sigmoid, or raise the learning "
            "rate to 1, and see whether the shift without BN grows. Every number above comes from this run."
        )
        comparison.downloads(runs, PAGE, ("layers", "snapshots", "units"))


live.live_panel(PAGE, draw)
