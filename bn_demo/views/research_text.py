"""Every sentence the two paper lessons (pages 6 and 7) write, as pure functions: results in, verdicts.Finding
out (the text and the numbers it used). A verdict is decided from the spread across seeds (seeds.paired_gap):
a gap within seed-to-seed noise never names a winner, a diverged run gives no number, and a sentence with
nothing to stand on (too few steps or probes, every seed diverged) is SILENT.

The quotations of the two papers are checked against their text: Ioffe & Szegedy (2015), Figure 1's caption
and section 4.1; Santurkar, Tsipras, Ilyas & Mądry (2018), sections 2.1 and 2.2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from bn_demo.core.results import RunResult
from bn_demo.core.seeds import PairedGap, Spread, paired_gap, seeds_phrase
from bn_demo.experiments import research
from bn_demo.views.style import label
from bn_demo.views.verdicts import SILENT, Finding, gap_sentence

Runs = dict[str, RunResult]
TARGETS = (0.90, 0.95, 0.97)  # page 6: who reached these held-out accuracies first
EARLY_TARGET = 0.8  # page 7: how fast each run leaves the sigmoid net's early plateau
MIN_RECORDS = 20  # fewer recorded steps cannot time a drift (the smoothing window alone is a twentieth)
MIN_PROBES = 3  # fewer probes per run give no median worth a sentence
PLATEAU_ACCURACY = 0.5  # below this, the sigmoid net without BN has not left its early plateau (10% is chance)
ICS_TEXT_MEASURES = ("relative", "cosine", "l2", "grad_norm")
# One seed's spread (sd across seeds) of each quantity a verdict compares, for a one-seed run, which cannot
# measure its own: measured by `python -m bn_demo report` (docs/results.json, "spread"), 5 seeds at the pages'
# defaults, rounded up.
ONE_SEED_NOISE = {
    "ioffe_accuracy": 0.002,  # final test accuracy, Ioffe & Szegedy's net, 10,000 steps (measured 0.0012)
    "drift": 1.0,  # summed drift of the tracked unit's three percentiles (0.82)
    "noise_accuracy": 0.005,  # final test accuracy at 3,000 steps, BN, no BN or noisy BN (0.0046)
    "relative": 0.06,  # median relative gradient change ||G - G'|| / ||G|| (0.052)
    "cosine": 0.1,  # median cos(G, G') (0.089)
    "loss_range": 0.08,  # median range of the loss over the probed step sizes (0.070)
    "smoothness": 0.2,  # median of the largest L, the gradient's change per distance moved (0.155)
}


# ---- helpers ------------------------------------------------------------------------------------------------


def join_and(words: Sequence[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def in_every_seed(n: int) -> str:
    """' in all 3 seeds', ' in both seeds', or nothing for one seed."""
    return "" if n == 1 else " in both seeds" if n == 2 else f" in all {n} seeds"


def finished_seeds(per_seed: Sequence[Runs]) -> list[Runs]:
    """Seeds whose runs all ran to their last step or diverged: a seed stopped part-way is left out of verdicts."""
    return [runs for runs in per_seed if runs and not any(run.stopped for run in runs.values())]


def _values(per_seed: Sequence[Runs], name: str, of: Callable[[RunResult], float]) -> list[float]:
    return [of(runs[name]) if name in runs else math.nan for runs in per_seed]


def _gap(per_seed: Sequence[Runs], a: str, b: str, of: Callable[[RunResult], float], noise: str) -> PairedGap:
    return paired_gap(_values(per_seed, a, of), _values(per_seed, b, of), one_seed_noise=ONE_SEED_NOISE[noise])


def _pct(spread: Spread) -> str:
    return spread.text("{:.2%}")


def _diverged_note(per_seed: Sequence[Runs]) -> str:
    counts = {}
    for runs in per_seed:
        for name, run in runs.items():
            counts[name] = counts.get(name, 0) + run.diverged
    parts = [f"{label(n)} in {k} of {len(per_seed)} seeds" for n, k in counts.items() if k]
    return f" Diverged, and left out of every number: {join_and(parts)}." if parts else ""


def _step_phrase(steps: Sequence[int | None]) -> str:
    """'at step 400' (one seed), 'at step 400 (median of 3 seeds)', 'in 2 of 3 seeds (median step 9,600)', 'never'."""
    reached = [s for s in steps if s is not None]
    if not reached:
        return "never"
    median = f"{int(sorted(reached)[(len(reached) - 1) // 2]):,}"
    if len(steps) == 1:
        return f"at step {median}"
    if len(reached) == len(steps):
        return f"at step {median} (median of {len(steps)} seeds)"
    return f"in {len(reached)} of {len(steps)} seeds (median step {median})"


def training_caption(*, runs: int, steps: int, seeds: int, probes_every: int = 0, seconds: float | None = None) -> str:
    """What pressing ▶ trains, and (when measured) about how long it takes on this server."""
    text = f"Trains {runs} runs × {steps:,} steps × {seeds} seed{'s' * (seeds > 1)}, paired within each seed"
    if probes_every:
        text += f"; probes every {probes_every:,} steps"
    if seconds is not None:
        text += f": about {f'{seconds:,.0f} s' if seconds >= 1 else 'a second'} on this server (timed just now; "
        text += "other users' runs slow it down)"
    return text + "."


PRESS_RUN = "Press **▶ Run experiment**: the results appear here while it trains."


def nothing_recorded(name: str) -> str:
    return f"{label(name)} recorded no step before it stopped or diverged: nothing to draw for it."


def diverged_warnings(per_seed: Sequence[Runs]) -> list[str]:
    """One line per diverged run, naming its seed: it is marked, left out of the numbers, never a crash."""
    return [
        f"**{label(name)} diverged at step {run.diverged_at}** (seed {run.config.seed}): its training loss became "
        "NaN, infinite or too large, so it stopped there; its numbers are left out of every verdict."
        for runs in per_seed
        for name, run in runs.items()
        if run.diverged
    ]


# ---- page 6: Ioffe & Szegedy (2015), Figure 1 ----------------------------------------------------------------

IOFFE_INTRO = (
    "BatchNorm's paper argues that BN helps because it reduces **internal covariate shift**: “the distribution of "
    "each layer's inputs changes during training, as the parameters of the previous layers change”, and BN holds it "
    "steady. Its MNIST experiment (section 4.1): 784-100-100-100-10, sigmoid units, “weights W initialized to small "
    "random Gaussian values”, 60 examples per mini-batch, 50,000 steps. Figure 1's caption: (a) “Batch Normalization "
    "helps the network train faster and achieve higher accuracy”; (b, c) the {15, 50, 85}th percentiles of a "
    "typical sigmoid's input: “Batch Normalization makes the distribution more stable and reduces the internal "
    "covariate shift.” Here the same network trains with and without BN, paired (same initial weights, same "
    "minibatches), over several seeds. The paper gives neither its learning rate nor its weight scale; ours are in "
    "the settings."
)
NEXT_LESSON = "**Next:** the page *What later research found* tests whether this steadiness is what makes BN work."
GAMMA_BETA = (
    "With BN the input of the sigmoid is γ·x̂ + β, and γ and β learn, so BN does not freeze the distribution: it "
    "removes the part of the drift that comes from the layers below, and lets the layer move it on purpose."
)


def race_text(per_seed: Sequence[Runs], targets: Sequence[float] = TARGETS) -> Finding:
    """Who first reached each held-out accuracy target, BN or no BN, seed by seed: 'BN reached 90% and 95% first
    in all 3 seeds; neither run reached 97% within 1,000 steps.' A target where the seeds disagree says so."""
    per_seed = [runs for runs in per_seed if {"bn", "plain"} <= runs.keys()]
    if not per_seed:
        return SILENT
    n, steps = len(per_seed), max(runs["bn"].config.steps for runs in per_seed)
    groups: dict[str, list[str]] = {}
    numbers: dict[str, float] = {}
    for target in targets:
        winners = []
        for runs in per_seed:
            b, p = (research.first_step_reaching(runs[k], target) for k in ("bn", "plain"))
            winners.append(
                "neither"
                if b is None and p is None
                else "bn"
                if p is None or (b is not None and b < p)
                else "plain"
                if b is None or p < b
                else "tie"
            )
        every = in_every_seed(n)
        counts = {w: winners.count(w) for w in ("bn", "plain", "tie", "neither")}
        numbers.update({f"{target:g}_{w}": float(k) for w, k in counts.items()})
        if counts["neither"] == n:
            who = f"neither run reached {{}} within {steps:,} steps"
        elif counts["bn"] == n:
            who = "BN reached {} first" + every
        elif counts["plain"] == n:
            who = "no BN reached {} first" + every
        elif counts["tie"] == n:
            who = "both reached {} at the same evaluation" + every
        else:
            named = (("bn", "BN"), ("plain", "no BN"), ("tie", "tied"))
            shares = [f"{lab} in {counts[w]}" for w, lab in named if counts[w]]
            if counts["neither"]:
                shares.append(f"neither in {counts['neither']}")
            who = f"who reached {{}} first varied across seeds ({join_and(shares)} of {n})"
        groups.setdefault(who, []).append(f"{target:.0%}")
    text = "; ".join(who.format(join_and(ts)) for who, ts in groups.items())
    return Finding(_capital(text) + ".", numbers)


def ioffe_findings(per_seed: Sequence[Runs], targets: Sequence[float] = TARGETS) -> Finding:
    """Figure 1(a) in this run: each net's final accuracy (mean ± sd over seeds) and when it first reached each
    target; who reached them first; and whether BN ended higher, decided from the seeds' spread."""
    per_seed = finished_seeds(per_seed)
    if not per_seed or not all({"bn", "plain"} <= runs.keys() for runs in per_seed):
        return SILENT
    n = len(per_seed)
    lines = []
    for name in ("bn", "plain"):
        acc = Spread.of(_values(per_seed, name, research.final_accuracy))
        lines.append(
            f"- **{label(name)}**: final test accuracy {_pct(acc)} (all 10,000 test images, {seeds_phrase(acc.n)}); "
            f"{_targets_phrase(per_seed, name, targets)} (held-out evaluations)."
        )
    gap = _gap(per_seed, "bn", "plain", research.final_accuracy, "ioffe_accuracy")
    race = race_text(per_seed, targets)
    verdict = gap_sentence(gap, a="BN", b="no BN", quantity="final test accuracy", fmt="{:.2%}")
    text = "\n".join(lines) + f"\n\n**Figure 1(a) in this run ({seeds_phrase(n)}):** {race.text}"
    text += (" " + verdict.text if verdict else "") + _diverged_note(per_seed)
    return Finding(text, {**verdict.numbers, **race.numbers, "seeds": float(n)})


def _targets_phrase(per_seed: Sequence[Runs], name: str, targets: Sequence[float]) -> str:
    """'first reached 90% at step 400 (median of 3 seeds), 95% in 2 of 3 seeds (…); never 97%'."""
    phrases = {t: _step_phrase([research.first_step_reaching(runs[name], t) for runs in per_seed]) for t in targets}
    reached = [f"{t:.0%} {p}" for t, p in phrases.items() if p != "never"]
    never = [f"{t:.0%}" for t, p in phrases.items() if p == "never"]
    if not reached:
        return f"reached none of {join_and(never).replace(' and ', ' or ')}"
    return f"first reached {', '.join(reached)}" + (
        f"; never {join_and(never).replace(' and ', ' or ')}" if never else ""
    )


def _share_phrase(shares: Spread, net: str, fraction: float) -> str:
    if shares.n == 0:
        return f"{net} the median did not move enough to time"
    return (
        f"{net} {shares.text('{:.0%}')} of the median's total movement had happened in the first "
        f"{fraction:.0%} of training"
    )


def drift_text(per_seed: Sequence[Runs], layer: int, shown: int = 0) -> Finding:
    """Figure 1(b, c) in this run: how the shown seed's tracked unit moved (first to last record), the summed
    slow drift of its three percentiles over seeds, whether it was steadier with BN (from the seeds' spread), and
    how early the median moved (bounded share of its total movement, 0-100%)."""
    per_seed = finished_seeds(per_seed)
    if not per_seed or not all({"bn", "plain"} <= runs.keys() for runs in per_seed):
        return SILENT
    shown_runs = per_seed[min(shown, len(per_seed) - 1)]
    lines = []
    for name, run in shown_runs.items():
        if run.diverged:
            lines.append(f"- **{label(name)}**: diverged at step {run.diverged_at}.")
            continue
        moves = research.first_last_percentiles(run, layer)
        if moves is None:
            continue
        drift = Spread.of(_values(per_seed, name, lambda r: research.summed_movement(r, layer, "drift")))
        lines.append(
            f"- **{label(name)}**: the median went from {moves['median_first']:.2f} to {moves['median_last']:.2f}, "
            f"the 15–85th band from {moves['width_first']:.2f} wide to {moves['width_last']:.2f} (seed "
            f"{run.config.seed}, drawn); summed over the three percentiles, the range of each one's running mean "
            f"(its slow drift) was {drift.text('{:.2f}')} ({seeds_phrase(drift.n)})."
        )
    gap = _gap(per_seed, "bn", "plain", lambda r: research.summed_movement(r, layer, "drift"), "drift")
    steady = gap_sentence(gap, a="BN", b="no BN", quantity="summed drift", fmt="{:.2f}", gap_fmt="{:.2f}", gap_scale=1)
    meaning = {
        "lower": " The distribution was **steadier with BN**, as Figure 1(b, c) shows.",
        "higher": " The distribution was **not steadier with BN** here, unlike Figure 1(b, c).",
    }.get(gap.outcome, "")
    fraction = research.EARLY_FRACTION
    enough = all(len(runs[name].history) >= MIN_RECORDS for runs in per_seed for name in ("plain", "bn"))
    shares = {
        name: Spread.of([s for runs in per_seed if (s := research.early_share(runs[name], layer).share) is not None])
        for name in ("plain", "bn")
    }
    timing = (
        f" How early: {_share_phrase(shares['plain'], 'without BN,', fraction)}; "
        f"{_share_phrase(shares['bn'], 'with BN,', fraction)} (smoothed, {seeds_phrase(len(per_seed))}; an even "
        f"pace would give {fraction:.0%})."
        if enough
        else ""
    )
    text = f"**Figure 1(b, c) in this run**, layer {layer}, unit {shown_runs['bn'].config.tracked_unit}:\n"
    text += "\n".join(lines) + "\n\n" + (steady.text if steady else "") + meaning + timing + " " + GAMMA_BETA
    numbers = {**steady.numbers, "early_plain": shares["plain"].mean, "early_bn": shares["bn"].mean}
    return Finding(text, numbers)


# ---- page 7: Santurkar et al. (2018) ---------------------------------------------------------------------------

RESEARCH_INTRO = (
    "Santurkar, Tsipras, Ilyas and Mądry (2018) tested the covariate-shift explanation and proposed another: "
    "BN makes the loss **smoother**, so the gradient is a better guide and larger steps are safe. Their tests run "
    "here on Ioffe & Szegedy's 784-100-100-100-10 sigmoid network, every run paired (same initial weights, same "
    "minibatches) and repeated over seeds. Pick a test, press **▶ Run experiment**, and read what the runs measured."
)
EXPERIMENT_TITLES = {
    research.NOISE: "Noisy BN",
    research.ICS: "ICS as gradient change, three ways",
    research.LANDSCAPE: "Loss landscape",
}


def noise_intro(a: float) -> str:
    """What noisy BN does, with its law at strength `a` (models.NoisyBatchNorm1d) and how it is evaluated."""
    return (
        "Santurkar et al. (section 2.1) “perturb each activation for each sample in the batch using i.i.d. noise "
        "sampled from a non-zero mean and non-unit variance distribution. We emphasize that this noise distribution "
        "changes at each time step.” Ours, after every BN: each example's unit j is multiplied by s and shifted by m, "
        f"drawn independently per example around this step's means: m ~ U(μ − {a / 2:g}, μ + {a / 2:g}) with "
        f"μ ~ U(−{a:g}, {a:g}), and s ~ U(ν − {a / 2:g}, ν + {a / 2:g}) with ν ~ U(1, {1 + a:g}), μ and ν redrawn "
        "per unit at every training step. The inputs of the nonlinearities then move *more* than without BN. "
        f"**Evaluation** applies the noise's expectation, E[s]·BN(x) + E[m] = {1 + a / 2:g}·BN(x), as dropout does, "
        "so the net is scored as it trained on average. If BN worked by keeping layer inputs steady, noisy BN should "
        "train like no BN."
    )


ICS_INTRO = (
    "**ICS as gradient change** (Santurkar et al., section 2.2): for each layer, the gradient of its weights G, and "
    "G′ after the layers before it took their SGD step on the same batch. We measure the change three ways: the "
    "paper's ‖G − G′‖ and cos(G, G′), and the relative change ‖G − G′‖ / ‖G‖. The absolute ‖G − G′‖ grows with the "
    "size of the gradient itself: a net whose gradients are twice as large shows twice the change for the same "
    "relative shift. When the two nets' gradients differ in size, only the two scale-free measures compare them, so "
    "the verdict rests on those (relative change lower and cosine closer to 1: less shift)."
)
ICS_PAPER = (
    "Santurkar et al. measured ‖G − G′‖ and cos(G, G′) on a VGG network and a deep linear network (DLN) and wrote: "
    "“Surprisingly, we observe that networks with BatchNorm often exhibit an increase in ICS” — “particularly "
    "striking in the case of DLN” — concluding that, “from optimization point of view”, BatchNorm “might not even "
    "reduce the internal covariate shift”. Their claim is that BN need not reduce ICS, not that it never does."
)
LANDSCAPE_INTRO = (
    "**Loss landscape** (Santurkar et al., section 3.1, Figure 4): from the current weights, step along the gradient "
    "by 0.25 to 4 times the learning rate and measure the loss, the change of the gradient, and that change divided "
    "by the distance moved, **L (smoothness)**, the paper's “effective” β-smoothness (renamed here: β is BN's shift "
    "on the home page). A narrow loss band and a small L mean a smooth, predictive loss."
)


def noise_text(per_seed: Sequence[Runs], layer: int) -> Finding:
    """Noisy BN against BN and no BN: how much each net's layer inputs moved per step (jitter), and whether
    noisy BN's accuracy stayed with BN's or fell to no BN's, each decided from the seeds' spread."""
    per_seed = finished_seeds(per_seed)
    if not per_seed or not all(set(research.NOISE_NORMS) <= runs.keys() for runs in per_seed):
        return SILENT
    n = len(per_seed)
    jitter = {
        name: Spread.of(_values(per_seed, name, lambda r: research.summed_movement(r, layer, "jitter")))
        for name in research.NOISE_NORMS
    }
    lines = []
    for name in research.NOISE_NORMS:
        acc = Spread.of(_values(per_seed, name, research.final_accuracy))
        reached = _step_phrase([research.first_step_reaching(runs[name], EARLY_TARGET) for runs in per_seed])
        lines.append(
            f"- **{label(name)}**: test accuracy {_pct(acc)}, first reached {EARLY_TARGET:.0%} {reached}; summed "
            f"change between recorded steps of the tracked unit's percentiles {jitter[name].text('{:.3f}')}."
        )
    numbers: dict[str, float] = {"seeds": float(n)}
    parts = []
    finite = all(j.n == n and j.mean > 0 for j in jitter.values())  # no ratio from a diverged run
    if finite:
        to_plain, to_bn = (jitter["noisy_bn"].mean / jitter[k].mean for k in ("plain", "bn"))
        numbers.update(jitter_vs_plain=to_plain, jitter_vs_bn=to_bn)
        parts.append(
            f"Noisy BN's layer-{layer} inputs moved {to_plain:.1f}× as much per step as no BN's and {to_bn:.1f}× as "
            f"much as BN's (means over {seeds_phrase(n).removeprefix('mean ± sd over ')})."
            if n > 1
            else f"Noisy BN's layer-{layer} inputs moved {to_plain:.1f}× as much per step as no BN's and "
            f"{to_bn:.1f}× as much as BN's."
        )
    vs_bn = _gap(per_seed, "noisy_bn", "bn", research.final_accuracy, "noise_accuracy")
    vs_plain = _gap(per_seed, "noisy_bn", "plain", research.final_accuracy, "noise_accuracy")
    for gap, other in ((vs_bn, "BN"), (vs_plain, "no BN")):
        sentence = gap_sentence(gap, a="noisy BN", b=other, quantity="test accuracy", fmt="{:.2%}")
        if sentence:
            parts.append(_capital(sentence.text))
            numbers[f"gap_vs_{'bn' if other == 'BN' else 'plain'}"] = gap.gap.mean
    parts.append(noise_conclusion(vs_bn.outcome, vs_plain.outcome, vs_bn.n))
    text = "\n".join(lines) + "\n\n**In this run:** " + " ".join(p for p in parts if p) + _diverged_note(per_seed)
    return Finding(text, numbers)


def noise_conclusion(vs_bn: str, vs_plain: str, n: int) -> str:
    """What noisy BN's two accuracy gaps (outcomes of noisy BN against BN and against no BN, seeds.PairedGap)
    mean together; nothing when a gap cannot be decided (no value, or one seed within the typical spread)."""
    outcomes = (vs_bn, vs_plain)
    if "none" in outcomes or (n == 1 and "noise" in outcomes):
        return ""
    if vs_plain == "higher" and vs_bn == "noise":
        return (
            "Unsteady inputs did not stop noisy BN from training: it stayed level with BN within seed-to-seed noise, "
            "and above no BN, as Santurkar et al. found."
        )
    if vs_plain == "higher" and vs_bn == "higher":
        return (
            "Unsteady inputs did not stop noisy BN from training: it even ended above BN, and above no BN "
            "(Santurkar et al. found it about level with BN)."
        )
    if vs_plain == "higher":
        return "Noisy BN ended between BN and no BN: the noise cost accuracy, yet it still beat no BN."
    return "Noisy BN did no better than no BN here: try a smaller noise strength or more steps."


def _probe_values(per_seed: Sequence[research.ProbedRuns], run: str, of: Callable[[research.ProbedRuns], float]):
    """One value per seed for `run`, NaN where that run diverged or was probed too few times."""
    out = []
    for probed in per_seed:
        r = probed.runs.get(run)
        rows = probed.probes[probed.probes["run"] == run] if len(probed.probes) else probed.probes
        few = r is None or r.diverged or (rows["step"].nunique() if len(rows) else 0) < MIN_PROBES
        out.append(math.nan if few else of(probed))
    return out


def _finished_probes(per_seed: Sequence[research.ProbedRuns]) -> list[research.ProbedRuns]:
    return [p for p in per_seed if p.runs and not p.stopped and not any(r.stopped for r in p.runs.values())]


def ics_text(per_seed: Sequence[research.ProbedRuns]) -> Finding:
    """ICS three ways per layer (medians over probes, mean ± sd over seeds); the verdict per layer from the two
    scale-free measures, each decided from the seeds' spread; the absolute measure set beside the gradients'
    size. Silent without two probed runs in a finished seed."""
    per_seed = _finished_probes(per_seed)
    if not per_seed or not all(set(research.PROBE_NORMS) <= p.runs.keys() for p in per_seed):
        return SILENT
    layers = sorted({int(layer) for p in per_seed if len(p.probes) for layer in p.probes["layer"].unique()})
    layers = [layer for layer in layers if layer > 1]

    def per_layer(run: str, value: str, layer: int) -> list[float]:
        return _probe_values(per_seed, run, lambda p: research.probe_medians(p.probes, run, value).get(layer, math.nan))

    lines, verdicts, numbers = [], {}, {}
    for layer in layers:
        v = {(run, m): per_layer(run, m, layer) for run in research.PROBE_NORMS for m in ICS_TEXT_MEASURES}
        if not any(math.isfinite(x) for x in v[("bn", "relative")] + v[("plain", "relative")]):
            continue
        s = {k: Spread.of(x) for k, x in v.items()}
        lines.append(
            f"- layer {layer}: relative change {s[('bn', 'relative')].text('{:.3f}')} with BN vs "
            f"{s[('plain', 'relative')].text('{:.3f}')} without; cosine {s[('bn', 'cosine')].text('{:.3f}')} vs "
            f"{s[('plain', 'cosine')].text('{:.3f}')}; absolute ‖G − G′‖ {s[('bn', 'l2')].text('{:.4f}')} vs "
            f"{s[('plain', 'l2')].text('{:.4f}')}, with ‖G‖ {s[('bn', 'grad_norm')].text('{:.4f}')} vs "
            f"{s[('plain', 'grad_norm')].text('{:.4f}')}"
        )
        noise = ONE_SEED_NOISE
        rel = paired_gap(v[("bn", "relative")], v[("plain", "relative")], one_seed_noise=noise["relative"])
        cos = paired_gap(v[("bn", "cosine")], v[("plain", "cosine")], one_seed_noise=noise["cosine"])
        numbers.update({f"relative_gap_{layer}": rel.gap.mean, f"cosine_gap_{layer}": cos.gap.mean})
        verdict = ics_verdict(rel.outcome, cos.outcome)
        if verdict is not None:  # None: a run diverged or was probed too little in every seed
            verdicts[layer] = verdict
    if not lines:
        return SILENT
    n = len(per_seed)
    parts = ics_sentences(verdicts, n)
    parts.append(_absolute_sentence(per_seed, layers[-1]))
    counts = list(verdicts.values())
    numbers.update(reduced=float(counts.count("reduced")), increased=float(counts.count("increased")), seeds=float(n))
    text = f"Medians over probes, {seeds_phrase(n)}:\n" + "\n".join(lines)
    if any(parts):
        text += "\n\n**In this run:** " + " ".join(p for p in parts if p) + plateau_note(per_seed)
    return Finding(text, numbers)


def ics_verdict(relative: str, cosine: str) -> str | None:
    """One layer's verdict from the outcomes (BN against no BN, seeds.PairedGap) of the two scale-free measures:
    'reduced' (relative change lower and cosine higher with BN), 'increased' (the reverse), 'unclear', or None
    when there is nothing to compare."""
    if "none" in (relative, cosine):
        return None
    return {("lower", "higher"): "reduced", ("higher", "lower"): "increased"}.get((relative, cosine), "unclear")


def ics_sentences(verdicts: dict[int, str], n: int) -> list[str]:
    """The ICS verdict in words, from ics_verdict per layer, over `n` seeds."""

    def layers(kind: str) -> str:
        chosen = [str(layer) for layer, v in verdicts.items() if v == kind]
        return f"layer{'s' * (len(chosen) > 1)} {join_and(chosen)}" if chosen else ""

    parts = []
    if reduced := layers("reduced"):
        parts.append(
            f"By both scale-free measures BN **reduced** ICS at {reduced}: a lower relative change and a cosine "
            "closer to 1, beyond seed-to-seed noise."
        )
    if increased := layers("increased"):
        parts.append(
            f"By both scale-free measures BN **increased** ICS at {increased}: a higher relative change and a lower "
            "cosine, beyond seed-to-seed noise."
        )
    if unclear := layers("unclear"):
        parts.append(
            f"At {unclear} the two measures disagree or the gap is within "
            + ("seed-to-seed noise." if n > 1 else "the typical spread of one seed, which one run cannot decide.")
        )
    return parts


def _absolute_sentence(per_seed: Sequence[research.ProbedRuns], layer: int) -> str:
    """The absolute change at the output layer set beside the gradients' size: no ratio from a diverged run."""

    def values(run: str, value: str) -> Spread:
        return Spread.of(
            _probe_values(per_seed, run, lambda p: research.probe_medians(p.probes, run, value).get(layer, math.nan))
        )

    l2 = {run: values(run, "l2") for run in research.PROBE_NORMS}
    norm = {run: values(run, "grad_norm") for run in research.PROBE_NORMS}
    if not all(s.n and s.mean > 0 for s in (*l2.values(), *norm.values())):
        return ""
    change, size = l2["bn"].mean / l2["plain"].mean, norm["bn"].mean / norm["plain"].mean
    return (
        f"At the output layer the absolute change ‖G − G′‖ was {change:.2f}× no BN's with BN, while the gradient "
        f"‖G‖ itself was {size:.2f}× as large: the absolute measure mostly follows the gradient's size, which is "
        "why the verdict rests on the scale-free ones."
    )


def plateau_note(per_seed: Sequence[research.ProbedRuns]) -> str:
    """A warning when no BN has not left the sigmoid net's early plateau (final accuracy below PLATEAU_ACCURACY):
    its loss is flat there, which reads as a smooth, unshifting landscape without saying anything about BN."""
    accuracy = Spread.of([research.final_accuracy(p.runs["plain"]) for p in per_seed if "plain" in p.runs])
    if not accuracy.n or accuracy.mean >= PLATEAU_ACCURACY:
        return ""
    return (
        f" Caution: no BN had not left its early plateau (test accuracy {accuracy.mean:.0%}); on a plateau the loss "
        "is flat and the gradients tiny, which these measures read as smooth and unshifting. Train longer (the "
        "default is 3,000 steps) to compare two nets that both learn."
    )


def landscape_verdict(loss_range: str, smoothness: str) -> str:
    """Smoother with BN only when both the loss range and L are lower with BN beyond the seeds' spread."""
    if (loss_range, smoothness) == ("lower", "lower"):
        return "the loss was **smoother with BN**, as Santurkar et al. found."
    if (loss_range, smoothness) == ("higher", "higher"):
        return "the loss was **not smoother with BN** here, unlike what Santurkar et al. found."
    return "not clearly smoother with BN here: the two measures disagree or a gap is within noise."


def landscape_text(per_seed: Sequence[research.ProbedRuns]) -> Finding:
    """Loss-landscape smoothness, BN against no BN: the loss range along the gradient and L (smoothness), medians
    over probes, each compared from the seeds' spread; smoother only when both are lower with BN."""
    per_seed = _finished_probes(per_seed)
    if not per_seed or not all(set(research.PROBE_NORMS) <= p.runs.keys() for p in per_seed):
        return SILENT

    def values(run: str, key: str) -> list[float]:
        return _probe_values(per_seed, run, lambda p: research.landscape_summary(p.probes, run)[key])

    keys = ("loss_range", "grad_change", "smoothness")
    v = {(run, k): values(run, k) for run in research.PROBE_NORMS for k in keys}
    if not any(math.isfinite(x) for run in research.PROBE_NORMS for x in v[(run, "loss_range")]):
        return SILENT
    n = len(per_seed)
    lines = [
        f"- **{label(run)}**: loss range over the step sizes {Spread.of(v[(run, 'loss_range')]).text('{:.3f}')}, "
        f"gradient change up to {Spread.of(v[(run, 'grad_change')]).text('{:.3f}')}, L (smoothness) up to "
        f"{Spread.of(v[(run, 'smoothness')]).text('{:.3f}')}"
        for run in research.PROBE_NORMS
    ]
    gaps = {
        k: paired_gap(v[("bn", k)], v[("plain", k)], one_seed_noise=ONE_SEED_NOISE[k])
        for k in ("loss_range", "smoothness")
    }
    words = {"lower": ("narrower", "smaller"), "higher": ("wider", "larger")}
    said = []
    for k, what in (("loss_range", "loss range"), ("smoothness", "L")):
        gap = gaps[k]
        if gap.outcome in words:
            every = in_every_seed(gap.n)
            said.append(f"BN's {what} was {words[gap.outcome][k == 'smoothness']} than no BN's{every}")
        elif gap.outcome == "noise":
            said.append(f"BN's {what} was within seed-to-seed noise of no BN's")
    verdict = landscape_verdict(gaps["loss_range"].outcome, gaps["smoothness"].outcome)
    numbers = {f"{k}_gap": g.gap.mean for k, g in gaps.items()} | {"seeds": float(n)}
    text = f"Medians over probes, {seeds_phrase(n)}:\n" + "\n".join(lines)
    if said:
        text += f"\n\n**In this run:** {join_and(said)}: {verdict}" + plateau_note(per_seed)
    return Finding(text, numbers)
