"""Lesson: internal covariate shift — how the distribution of a hidden layer's inputs moves while the
layers below it learn, with and without BN (Ioffe & Szegedy 2015, Figure 1, on the note's layers)."""

import streamlit as st

from bn_demo.serving.jobs import JobStatus
from bn_demo.views import comparison_text, distribution_figures, figures
from lab_ui import comparison, experiments, layout, live
from lab_ui.nav import page_header

PAGE = "ics"

page_header("Internal covariate shift")
st.markdown(
    "The note says BN mitigates **internal covariate shift**: while the layers below learn, the distribution of "
    "a layer's inputs keeps moving. Here a network of 256-unit layers trains with and without BN (paired within "
    "each seed), and we watch the input of each layer's nonlinearity: one tracked unit's 15th, 50th and 85th "
    "percentiles over the batch (as in Ioffe & Szegedy's Figure 1), histograms of all its units, and every "
    "unit's mean. The charts show one seed; the numbers are taken over all seeds."
)
comparison.lesson_controls(
    PAGE,
    experiments.ics_params(),
    experiments.ics_job,
    "Press **▶ Train**: the layer's input distributions appear here live while it trains.",
)


def pick(label: str, options: list, default, key: str):
    """A segmented choice that keeps its last value when unselected."""
    if len(options) == 1:
        return options[0]
    return st.segmented_control(label, options=options, default=default, key=key) or default


def draw(results, status: JobStatus) -> None:
    per_seed, finished = comparison.opened(results, status)
    recorded = [runs for runs in per_seed if any(not r.layers.empty for r in runs.values())]
    if not recorded:
        st.info("No step was recorded yet: every run stopped or diverged before its first step.")
        return
    first = next(iter(recorded[0].values())).config
    depth, unit = len(first.hidden), first.tracked_unit
    layer = pick("Hidden layer shown", list(range(1, depth + 1)), depth, "ics:layer")
    seeds = [next(iter(runs.values())).config.seed for runs in recorded]
    seed = pick("Seed shown in the charts", seeds, seeds[0], "ics:shown_seed")
    runs = recorded[seeds.index(seed)] if seed in seeds else recorded[0]
    if finished:
        bullets = {name: comparison_text.ics_net_finding(per_seed, name, layer) for name in figures.nets(per_seed)}
        st.markdown(f"**In this run, layer {layer}:**\n" + layout.finding_bullets(bullets))
        layout.show_findings(comparison_text.ics_verdict(per_seed, layer))
    st.markdown(f"**Layer {layer}, unit {unit}: input of the nonlinearity (15th, 50th, 85th percentile), seed {seed}**")
    layout.show_panels(figures.percentile_band_panels(runs, layer, unit))
    st.markdown(
        f"**Layer {layer}: histogram of all units' inputs at each evaluation, seed {seed}.** Each column is one "
        "evaluation's histogram, coloured relative to its own peak, on each net's own value range."
    )
    layout.show_panels(distribution_figures.snapshot_heatmaps(runs, layer))
    layout.show_panels(distribution_figures.unit_drift_panels(runs, layer))
    if "bn" in runs and not runs["bn"].layers.empty:
        st.subheader("Before and after BatchNorm")
        layout.show_findings(comparison_text.bn_before_after(per_seed, layer))
        layout.show_panels(figures.bn_input_output_panels("bn", runs["bn"], layer))
    if finished:
        st.markdown(
            "**What to look for:** without BN the band and the histograms drift and widen as the layers below "
            "learn; with BN they stay centred with a steady width. Every number above comes from this run."
        )
        layout.show_findings(comparison_text.ics_try_next(first))
        comparison.downloads(PAGE, ("layers", "snapshots", "units"))


live.live_panel(PAGE, draw)
