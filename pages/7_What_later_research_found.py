"""Lesson: Santurkar et al. (2018), "How Does Batch Normalization Help Optimization?" — three tests of the
covariate-shift story on Ioffe & Szegedy's network, each over seeds: noisy BN, ICS measured three ways as a
change of gradients, and the smoothness of the loss along the gradient. Every sentence comes from
bn_demo.views.research_text; the drawing is chosen by the experiment's name."""

from collections.abc import Callable
from functools import partial

import pandas as pd
import streamlit as st

from bn_demo.core.seeds import SeedResults
from bn_demo.experiments import research
from bn_demo.serving.jobs import JobStatus
from bn_demo.views import figures, research_figures
from bn_demo.views import research_text as text
from bn_demo.views.style import PNG_CONFIG
from lab_ui import live, papers
from lab_ui.downloads import csv_download
from lab_ui.nav import page_header
from lab_ui.params import build_or_stop, settings_panel

LAYER = papers.LAYER
ICS_ORDER = ("relative", "cosine", "l2")  # the scale-free measures first: the verdict rests on them

page_header("What later research found")
st.markdown(text.RESEARCH_INTRO)
live.require_data()
settings = settings_panel(papers.RESEARCH_PAGE, papers.RESEARCH_PARAMS)
experiment = settings["experiment"]
request = build_or_stop(papers.research_job, settings)
page = f"{papers.RESEARCH_PAGE}:{experiment}"  # each experiment keeps its own job
st.subheader(text.EXPERIMENT_TITLES[experiment])
intro = {
    research.NOISE: lambda: text.noise_intro(settings["noise_scale"]),
    research.ICS: lambda: text.ICS_INTRO + "\n\n" + text.ICS_PAPER,
    research.LANDSCAPE: lambda: text.LANDSCAPE_INTRO,
}
st.markdown(intro[experiment]())
st.caption(
    text.training_caption(
        runs=len(request.configs), steps=request.steps, seeds=len(request.seeds), probes_every=request.probe_every
    )
)
live.run_button(page, request, label="▶ Run experiment", waiting=text.PRESS_RUN)


def chart(fig) -> None:
    st.plotly_chart(fig, width="stretch", config=PNG_CONFIG)


def warn_diverged(per_seed: list[dict]) -> None:
    for warning in text.diverged_warnings(per_seed):
        st.warning(warning)


def stacked_csv(frames_of: Callable[[list], list[pd.DataFrame]], name: str, what: str) -> None:
    """`frames_of(per_seed)` stacked, as CSV, made when clicked from the run as the server holds it then."""

    def table(result: SeedResults) -> pd.DataFrame:
        return pd.concat(frames_of(figures.seed_runs(result)), ignore_index=True)

    csv_download(table, f"{page}_{name}.csv".replace(":", "_"), f"⬇ {what} (CSV)")


def eval_frames(per_seed: list[dict]) -> list[pd.DataFrame]:
    return [r.evals.assign(run=n, seed=r.config.seed) for runs in per_seed for n, r in runs.items()]


def draw_noise(per_seed: list[dict], finished: bool) -> None:
    warn_diverged(per_seed)
    if finished and (finding := text.noise_text(per_seed, LAYER)):
        st.markdown(finding.text)
    chart(research_figures.accuracy_curves(per_seed, "BN, no BN and noisy BN"))
    shown = {name: run for name, run in per_seed[0].items() if not run.layers.empty}
    if shown:
        chart(research_figures.sigmoid_input(shown, LAYER, "A sigmoid's input"))
    if finished:
        tables = [research.stability(runs, LAYER) for runs in per_seed]
        chart(research_figures.stability_bars(tables, "jitter", f"How much the input moves per step (layer {LAYER})"))
        stacked_csv(eval_frames, "evals", "evaluations")


def probe_tables(per_seed: list[research.ProbedRuns]) -> list[pd.DataFrame]:
    return [research.seed_probes(p) for p in per_seed if len(p.probes)]


def ics_figures(tables: list[pd.DataFrame]) -> list:
    return [research_figures.ics_lines(tables, m, research_figures.ICS_LABELS[m]) for m in ICS_ORDER]


def landscape_figures(tables: list[pd.DataFrame]) -> list:
    bands = [research.landscape_bands(t) for t in tables]
    return [research_figures.landscape_figure(bands, "Along the gradient: range over step sizes 0.25–4 × lr")]


def draw_probes(per_seed: list[research.ProbedRuns], finished: bool, *, verdict, figures_of) -> None:
    """A probe experiment: its verdict (research_text), its probes' figures, then the nets' accuracy."""
    warn_diverged([p.runs for p in per_seed])
    if finished and (finding := verdict(per_seed)):
        st.markdown(finding.text)
    tables = probe_tables(per_seed)
    for fig in figures_of(tables) if tables else []:
        chart(fig)
    chart(research_figures.accuracy_curves([p.runs for p in per_seed], "BN and no BN"))
    if finished and tables:
        stacked_csv(probe_tables, "probes", "probes")


DRAW = {
    research.NOISE: draw_noise,
    research.ICS: partial(draw_probes, verdict=text.ics_text, figures_of=ics_figures),
    research.LANDSCAPE: partial(draw_probes, verdict=text.landscape_text, figures_of=landscape_figures),
}


def draw(result: SeedResults, status: JobStatus) -> None:
    per_seed = figures.seed_runs(result)
    if per_seed:
        DRAW[live.current_key(page)[0]](per_seed, status.state in ("done", "stopped"))


live.live_panel(page, draw)
