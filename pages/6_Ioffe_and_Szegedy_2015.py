"""Lesson: Ioffe & Szegedy (2015), Figure 1 — their MNIST network trained with and without BN, paired within
each seed: held-out accuracy over training (mean and min–max over seeds), and the input of one last-layer
sigmoid (15th, 50th, 85th percentiles) over steps. Every sentence comes from bn_demo.views.research_text."""

from functools import partial

import pandas as pd
import streamlit as st

from bn_demo.core.seeds import SeedResults
from bn_demo.serving.jobs import JobStatus
from bn_demo.views import figures, research_figures
from bn_demo.views import research_text as text
from bn_demo.views.style import PNG_CONFIG
from lab_ui import live, papers
from lab_ui.downloads import csv_download
from lab_ui.nav import page_header
from lab_ui.params import build_or_stop, settings_panel

PAGE = papers.IOFFE_PAGE
LAYER = papers.LAYER

page_header("Ioffe & Szegedy (2015): the claim", "Ioffe & Szegedy 2015")
st.markdown(text.IOFFE_INTRO)
live.require_data()
settings = settings_panel(PAGE, papers.IOFFE_PARAMS)
request = build_or_stop(papers.ioffe_job, settings)
configs = request.configs
timing = live.estimate(configs)
st.caption(
    text.training_caption(
        runs=len(configs),
        steps=request.steps,
        seeds=settings["seeds"],
        seconds=timing.total_seconds * settings["seeds"],
    )
)
live.run_button(PAGE, request, label="▶ Run experiment", waiting=text.PRESS_RUN)


def percentile_panels(per_seed: list[dict]) -> None:
    """Figure 1(b, c) for the first seed (a typical unit, as in the paper); a run that recorded nothing is named."""
    runs = per_seed[0]
    drawn = {name: run for name, run in runs.items() if not run.layers.empty}
    for name in runs.keys() - drawn.keys():
        st.caption(text.nothing_recorded(name))
    if drawn:
        chart = research_figures.sigmoid_input(drawn, LAYER, "Figure 1(b, c): a sigmoid's input")
        st.plotly_chart(chart, width="stretch", config=PNG_CONFIG)


def run_table(result: SeedResults, table: str) -> pd.DataFrame:
    frames = [
        run.tables[table].assign(run=name, seed=run.config.seed)
        for runs in figures.seed_runs(result)
        for name, run in runs.items()
        if table in run.tables
    ]
    return pd.concat(frames, ignore_index=True)


def downloads() -> None:
    cols = st.columns(2)
    for col, table in zip(cols, ("evals", "layers"), strict=True):
        with col:
            csv_download(partial(run_table, table=table), f"{PAGE}_{table}.csv", f"⬇ {table} (CSV)")


def draw(result: SeedResults, status: JobStatus) -> None:
    per_seed = figures.seed_runs(result)
    if not per_seed:
        return
    for warning in text.diverged_warnings(per_seed):
        st.warning(warning)
    finished = status.state in ("done", "stopped")
    if finished and (findings := text.ioffe_findings(per_seed)):
        st.markdown(findings.text)
    st.plotly_chart(
        research_figures.accuracy_curves(per_seed, "Figure 1(a): held-out loss and accuracy"),
        width="stretch",
        config=PNG_CONFIG,
    )
    percentile_panels(per_seed)
    if finished:
        if drift := text.drift_text(per_seed, LAYER):
            st.markdown(drift.text)
        st.markdown(text.NEXT_LESSON)
        downloads()


live.live_panel(PAGE, draw)
