"""Lesson: Santurkar et al. (2018), "How Does Batch Normalization Help Optimization?" — three tests of the
covariate-shift story on Ioffe & Szegedy's network: noisy BN, ICS measured as a change of gradients, and
the smoothness of the loss along the gradient."""

import streamlit as st

from bn_demo import figures, research, research_figures
from bn_demo.jobs import JobStatus, training_work
from bn_demo.presets import IOFFE_2015
from bn_demo.results import RunResult
from bn_demo.style import PNG_CONFIG, label
from bn_demo.train import compare_configs
from lab_ui import comparison, live
from lab_ui.downloads import csv_download
from lab_ui.nav import page_header
from lab_ui.params import Param, settings_panel, trainable

PAGE = "research"
LAYER = len(IOFFE_2015.hidden)
EARLY_TARGET = 0.8  # how fast each run leaves the sigmoid net's early plateau
EXPERIMENTS = {
    "noise": "Noisy BN",
    "ics": "ICS as gradient change",
    "landscape": "Loss landscape",
}

page_header("What later research found")
st.markdown(
    "Santurkar, Tsipras, Ilyas and Mądry (2018) tested the covariate-shift explanation and proposed another: "
    "BN makes the loss **smoother**, so the gradient is a better guide and larger steps are safe. Their three "
    "tests run here on Ioffe & Szegedy's 784-100-100-100-10 sigmoid network, every run paired (same initial "
    "weights, same minibatches). Pick a test, press **▶ Run experiment**, and read what this run measured."
)
live.require_data()
settings = settings_panel(
    PAGE,
    [
        Param(
            "experiment",
            "Experiment",
            "noise",
            options=tuple(EXPERIMENTS),
            labels=tuple(EXPERIMENTS.values()),
            widget="selectbox",
        ),
        Param("steps", "Training steps", 3000, low=10, high=comparison.MAX_STEPS),
        comparison.IOFFE_LR,
        Param("noise_scale", "Noise strength a (noisy BN)", 1.0, options=(0.25, 0.5, 1.0, 2.0)),
        Param("seed", "Seed", 0, low=0, high=10_000),
    ],
)
experiment = settings["experiment"]
base = trainable(IOFFE_2015.with_, **{k: settings[k] for k in ("steps", "lr", "noise_scale", "seed")})
page = f"{PAGE}:{experiment}"  # each experiment keeps its own job
st.subheader(EXPERIMENTS[experiment])
if experiment == "noise":
    st.markdown(
        f"After every BN, noisy BN multiplies by a scale drawn from U(1, {1 + base.noise_scale:g}) and adds a shift "
        f"from U(−{base.noise_scale:g}, {base.noise_scale:g}), per unit, redrawn at every training step: the "
        "inputs of the nonlinearities move *more* than without BN. If BN worked by keeping them steady, noisy "
        "BN should train like no BN."
    )
    configs, runs_count = research.noise_configs(base), len(research.NOISE_NORMS)
    work = training_work(configs)
else:
    st.markdown(
        "**ICS as gradient change**: for each layer, the gradient of its weights G, and G′ after the layers "
        "before it took their SGD step on the same batch. If BN reduced the shift that matters to a layer, "
        "‖G − G′‖ would be smaller and cos(G, G′) closer to 1 with BN."
        if experiment == "ics"
        else "**Loss landscape**: from the current weights, step along the gradient by 0.25 to 4 times the "
        "learning rate and measure the loss, the change of the gradient, and that change divided by the distance "
        "moved (an effective β-smoothness). A narrow band means a smooth, predictable loss."
    )
    configs, runs_count = compare_configs(base, research.PROBE_NORMS), len(research.PROBE_NORMS)
    work = research.probed_work(base, experiment)
probes = "" if experiment == "noise" else f"; probes every {research.probe_every(base)} steps"
st.caption(f"Trains {runs_count} runs × {base.steps:,} steps, paired{probes}.")
key = (experiment, *configs.values())
if st.button("▶ Run experiment", key="run", type="primary"):
    live.start(page, key=key, work=work, total=base.steps, runs=configs.values())
if live.current(page, key) is None:
    st.info("Press **▶ Run experiment**: results appear here while it trains.")


def noise_text(runs: dict[str, RunResult], stability) -> str:
    """What this run shows, from its accuracies and `stability` (research.stability of its layer inputs)."""
    table = stability.set_index(["run", "quantity"])
    lines = []
    for name, run in runs.items():
        jitter = ", ".join(f"{q} {table.loc[(name, q), 'jitter']:.3f}" for q in ("p15", "p50", "p85"))
        reached = research.first_step_reaching(run, EARLY_TARGET)
        when = "never" if reached is None else f"at step {reached:,}"
        lines.append(
            f"- **{label(name)}**: test accuracy {run.test_accuracy:.2%}, first reached {EARLY_TARGET:.0%} {when}; "
            f"mean change between recorded steps of unit {run.config.tracked_unit}'s percentiles: {jitter}."
        )
    unsteady = {n: sum(table.loc[(n, q), "jitter"] for q in ("p15", "p50", "p85")) for n in runs}
    acc = {n: run.test_accuracy for n, run in runs.items()}
    as_unsteady = unsteady["noisy_bn"] >= unsteady["plain"]
    closer_to_bn = abs(acc["noisy_bn"] - acc["bn"]) < abs(acc["noisy_bn"] - acc["plain"])
    others = [("BN", acc["bn"]), ("no BN", acc["plain"])]
    near, far = others if closer_to_bn else others[::-1]
    verdict = (
        f"Noisy BN's layer-{LAYER} inputs moved {unsteady['noisy_bn'] / unsteady['plain']:.1f}× as much per step "
        f"as no BN's and {unsteady['noisy_bn'] / unsteady['bn']:.1f}× as much as BN's; its accuracy "
        f"({acc['noisy_bn']:.2%}) is closer to {near[0]}'s ({near[1]:.2%}) than to {far[0]}'s ({far[1]:.2%})."
    )
    if as_unsteady and closer_to_bn:
        verdict += " Unsteady inputs did not stop it training like BN, as Santurkar et al. found."
    elif as_unsteady:
        verdict += " In this run the noise did cost accuracy: try a smaller noise strength or more steps."
    return "\n".join(lines) + f"\n\n**In this run:** {verdict}"


def draw_noise(runs: dict[str, RunResult], finished: bool) -> None:
    stability = research.stability(runs, LAYER)
    if finished and not any(run.diverged for run in runs.values()):
        st.markdown(noise_text(runs, stability))
    st.plotly_chart(figures.training_curves(runs), width="stretch", config=PNG_CONFIG)
    st.plotly_chart(
        figures.percentile_bands(runs, LAYER, f"Layer {LAYER}: input of the sigmoid, tracked unit (15/50/85th pct)"),
        width="stretch",
        config=PNG_CONFIG,
    )
    if finished:
        st.plotly_chart(
            research_figures.stability_bars(stability, "jitter", f"Layer {LAYER}: how much the input moves per step"),
            width="stretch",
            config=PNG_CONFIG,
        )
        comparison.downloads(runs, page, ("evals", "layers"))


def ics_text(probed: research.ProbedRuns) -> str:
    summary = research.probe_summary(probed.probes, "l2", ("run", "layer")).set_index(["run", "layer"])
    cosines = research.probe_summary(probed.probes, "cosine", ("run", "layer")).set_index(["run", "layer"])
    deepest = int(probed.probes["layer"].max())
    lines = [
        f"- **{label(run)}**, layer {layer}: median ‖G − G′‖ {summary.loc[(run, layer), 'median']:.4f}, "
        f"median cosine {cosines.loc[(run, layer), 'median']:.3f}"
        for run in probed.runs
        for layer in range(2, deepest + 1)
    ]
    bn, plain = summary.loc[("bn", deepest), "median"], summary.loc[("plain", deepest), "median"]
    cos_bn, cos_plain = cosines.loc[("bn", deepest), "median"], cosines.loc[("plain", deepest), "median"]
    return (
        "\n".join(lines) + "\n\n**In this run**, at the output layer the gradient change with BN was "
        f"{'smaller' if bn < plain else 'not smaller'} than without ({bn:.4f} vs {plain:.4f}) and the gradients "
        f"{'more' if cos_bn > cos_plain else 'less'} aligned (cosine {cos_bn:.3f} vs {cos_plain:.3f}), medians over "
        "probes. Santurkar et al. found BN does not reduce ICS in this sense (in deep linear and VGG networks it "
        "even increased it)."
    )


def landscape_text(bands) -> str:
    wide = bands.assign(width=bands["max"] - bands["min"]).groupby(["run", "quantity"])
    width, top = wide["width"].median(), wide["max"].median()
    lines = [
        f"- **{label(run)}**: loss band {width[(run, 'loss')]:.3f} wide, gradient change up to "
        f"{top[(run, 'grad_change')]:.3f}, effective β up to {top[(run, 'beta')]:.3f} (medians over probes)"
        for run in research.PROBE_NORMS
    ]
    narrower = width[("bn", "loss")] < width[("plain", "loss")]
    smaller_beta = top[("bn", "beta")] < top[("plain", "beta")]
    smoother = narrower and smaller_beta
    return (
        "\n".join(lines) + f"\n\n**In this run** BN's loss band was {'narrower' if narrower else 'not narrower'} "
        f"and its effective β {'smaller' if smaller_beta else 'not smaller'} than without BN: the loss was "
        f"{'smoother' if smoother else 'not clearly smoother'} with BN, "
        + ("as Santurkar et al. found." if smoother else "unlike what Santurkar et al. found.")
    )


def draw_probes(probed: research.ProbedRuns, finished: bool) -> None:
    runs = probed.runs
    if probed.probes.empty:
        return
    if experiment == "ics":
        if finished:
            st.markdown(ics_text(probed))
        for measure in ("l2", "cosine"):
            st.plotly_chart(
                research_figures.ics_lines(probed.probes, measure, research_figures.ICS_LABELS[measure]),
                width="stretch",
                config=PNG_CONFIG,
            )
    else:
        bands = research.landscape_bands(probed.probes)
        if finished:
            st.markdown(landscape_text(bands))
        st.plotly_chart(
            research_figures.landscape_figure(bands, "Along the gradient: range over step sizes 0.25–4 × lr"),
            width="stretch",
            config=PNG_CONFIG,
        )
    st.plotly_chart(figures.training_curves(runs), width="stretch", config=PNG_CONFIG)
    if finished:
        csv_download(probed.probes, f"{page}_probes.csv".replace(":", "_"), "⬇ probes (CSV)")


def draw(result, status: JobStatus) -> None:
    finished = status.state in ("done", "stopped")
    runs = result if isinstance(result, dict) else result.runs
    comparison.diverged_text(runs)
    if any(run.layers.empty for run in runs.values()):
        return
    if isinstance(result, dict):
        draw_noise(result, finished)
    else:
        draw_probes(result, finished)


live.live_panel(page, draw)
