"""Lesson: Ioffe & Szegedy (2015), Figure 1 — their MNIST network trained with and without BN (paired): test
accuracy over training, and the input of one last-layer sigmoid (15th, 50th, 85th percentiles) over steps."""

import numpy as np
import streamlit as st

from bn_demo import figures, research
from bn_demo.jobs import JobStatus, training_work
from bn_demo.presets import IOFFE_2015
from bn_demo.results import RunResult
from bn_demo.style import PNG_CONFIG, label
from bn_demo.train import compare_configs
from lab_ui import comparison, live
from lab_ui.nav import page_header
from lab_ui.params import Param, settings_panel, trainable

PAGE = "ioffe"
LAYER = len(IOFFE_2015.hidden)  # the last hidden layer, as in the paper's Figure 1(b, c)
TARGETS = (0.90, 0.95, 0.97)

page_header("Ioffe & Szegedy (2015): the claim", "Ioffe & Szegedy 2015")
st.markdown(
    "BatchNorm's paper argues that BN helps because it reduces **internal covariate shift**: the distribution of "
    "each layer's inputs changes as the layers below learn, and BN holds it steady. Its MNIST experiment "
    "(section 4.1): 784-100-100-100-10, sigmoid units, small Gaussian initial weights, minibatches of 60, plain "
    "SGD. Figure 1 shows (a) BN reaching higher test accuracy sooner and (b, c) the 15th, 50th and 85th percentiles "
    "of one last-layer sigmoid's input drifting without BN and steadier with BN. Here the same network trains "
    "with and without BN, paired (same initial weights, same minibatches). The paper does not give its learning "
    "rate or weight scale; ours are below."
)
live.require_data()
settings = settings_panel(
    PAGE,
    [
        Param("steps", "Training steps", IOFFE_2015.steps, low=10, high=comparison.MAX_STEPS, help="Paper: 50,000"),
        comparison.IOFFE_LR,
        Param("init_std", "Gaussian init std", IOFFE_2015.init_std, options=(0.01, 0.02, 0.05, 0.1, 0.2)),
        Param("unit", "Tracked unit of layer 3", 0, low=0, high=IOFFE_2015.hidden[-1] - 1),
        Param("seed", "Seed", 0, low=0, high=10_000, help="Same seed: same initial weights and minibatches"),
    ],
)
base = trainable(
    IOFFE_2015.with_,
    steps=settings["steps"],
    lr=settings["lr"],
    init_std=settings["init_std"],
    tracked_unit=settings["unit"],
    seed=settings["seed"],
)
configs = compare_configs(base)
timing = live.estimate(tuple(configs.values()))
total = timing.total_seconds
st.caption(
    f"Trains 2 runs × {base.steps:,} steps, paired: about {f'{total:,.0f} s' if total >= 1 else 'a second'} on "
    f"this server (a trial just now took {1000 * timing.step_seconds:.1f} ms per paired step and "
    f"{1000 * timing.eval_seconds:.0f} ms per evaluation, {timing.evaluations} of them; other users' runs slow "
    "it down)."
)
key = tuple(configs.values())
if st.button("▶ Run experiment", key="run", type="primary"):
    live.start(PAGE, key=key, work=training_work(configs), total=base.steps, runs=configs.values())
if live.current(PAGE, key) is None:
    st.info("Press **▶ Run experiment**: the curves appear here while it trains.")


def step_text(step: int | None) -> str:
    return "never" if step is None else f"at step {step:,}"


def findings(runs: dict[str, RunResult]) -> str:
    """What this run shows, each sentence built from its numbers."""
    reached = {name: {t: research.first_step_reaching(run, t) for t in TARGETS} for name, run in runs.items()}
    lines = [
        f"- **{label(name)}**: final test accuracy {run.test_accuracy:.2%}; first reached "
        + ", ".join(f"{t:.0%} {step_text(reached[name][t])}" for t in TARGETS)
        + " (held-out evaluations)."
        for name, run in runs.items()
    ]
    acc_bn, acc_plain = runs["bn"].test_accuracy, runs["plain"].test_accuracy
    verdict = (
        research.race_text(reached["bn"], reached["plain"], runs["bn"].steps)
        + f" BN ended {'higher' if acc_bn > acc_plain else 'not higher'} ({acc_bn:.2%} vs {acc_plain:.2%})."
    )
    return "\n".join(lines) + f"\n\n**Figure 1(a) in this run:** {verdict}"


def drift_text(runs: dict[str, RunResult], unit: int) -> str:
    table = research.stability(runs, LAYER, ("p15", "p50", "p85")).set_index(["run", "quantity"])
    parts = []
    for name, run in runs.items():
        m = figures.percentile_moves(run, LAYER)
        drift = ", ".join(f"{q} {table.loc[(name, q), 'drift']:.2f}" for q in ("p15", "p50", "p85"))
        parts.append(
            f"- **{label(name)}**: the median went from {m['median_first']:.2f} to {m['median_last']:.2f}, the "
            f"15–85th band from {m['width_first']:.2f} wide to {m['width_last']:.2f}; the range of each "
            f"percentile's running mean (its slow drift) was {drift}."
        )
    bn_drift = sum(table.loc[("bn", q), "drift"] for q in ("p15", "p50", "p85"))
    plain_drift = sum(table.loc[("plain", q), "drift"] for q in ("p15", "p50", "p85"))
    steadier = "steadier with BN" if bn_drift < plain_drift else "not steadier with BN"
    early = research.early_share(runs["plain"], LAYER)
    timing = (
        f"without BN, {early.share:.0%} of the median's net change (from {early.first:.2f} to {early.last:.2f}, "
        f"smoothed) had happened by step {early.step:,}, the first fifth of training."
        if np.isfinite(early.share)
        else "without BN the median had no net change to time."
    )
    return (
        f"**Figure 1(b, c) in this run**, unit {unit} of layer {LAYER}:\n"
        + "\n".join(parts)
        + f"\n\nSummed over the three percentiles the drift was {bn_drift:.2f} with BN and {plain_drift:.2f} "
        f"without: the distribution was **{steadier}** here. With BN the input of the sigmoid is γ·x̂ + β, and γ and "
        f"β learn, so BN does not freeze it; {timing}"
    )


def draw(runs: dict[str, RunResult], status: JobStatus) -> None:
    comparison.diverged_text(runs)
    if any(run.layers.empty for run in runs.values()):
        return
    unit = next(iter(runs.values())).config.tracked_unit
    finished = status.state in ("done", "stopped")
    if finished and not any(run.diverged for run in runs.values()):
        st.markdown(findings(runs))
    st.plotly_chart(
        figures.training_curves(runs, "Figure 1(a): test accuracy (bold) and training batches (thin)"),
        width="stretch",
        config=PNG_CONFIG,
    )
    st.plotly_chart(
        figures.percentile_bands(
            runs, LAYER, f"Figure 1(b, c): layer {LAYER}, unit {unit}, input of the sigmoid (15th, 50th, 85th pct)"
        ),
        width="stretch",
        config=PNG_CONFIG,
    )
    if finished:
        st.markdown(drift_text(runs, unit))
        st.markdown(
            "**Next:** the page *What later research found* tests whether this steadiness is what makes BN work."
        )
        comparison.downloads(runs, PAGE, ("evals", "layers"))


live.live_panel(PAGE, draw)
