"""What the home page and lessons 1 (Train & compare), 2 (Internal covariate shift) and 8 (Regularisation)
conclude from a run, as pure functions: results in (one {name: RunResult} per seed), a `verdicts.Finding`
out (markdown text and the numbers it used). Pages only lay them out.

Every function says nothing (`SILENT`) when its numbers cannot carry it: a diverged run gives no ratio,
too few steps give no verdict, and a gap smaller than the seeds' spread is reported as noise, never as a
win (`seeds.paired_gap`). Words follow the sign of what they describe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bn_demo.core.config import MNIST_TRAIN, TrainConfig
from bn_demo.core.results import RunResult
from bn_demo.core.seeds import PairedGap, Spread, paired_gap, seeds_phrase
from bn_demo.views import distribution_figures, figures, fit_figures
from bn_demo.views.figures import PerSeed, nets, runs_of
from bn_demo.views.style import label
from bn_demo.views.verdicts import SILENT, Finding, gap_sentence

MIN_STEPS = 50  # a run shorter than this supports no verdict: its numbers are mostly the initial weights
MIN_TIMED_STEPS = 100  # steps behind a time per step before it is worth a ratio
# One seed's spread of final test accuracy: 0.09 (BN) and 0.13 (no BN) points over 5 seeds at page 1's
# defaults; up to 0.55 on Ioffe & Szegedy's sigmoid net. 0.3 points is the typical value a single run must beat.
ACCURACY_NOISE = 0.003
# BN's time per step over no BN's, same settings, 5 seeds on 2 shared cores: 1.01–1.12, sd 0.05.
TIME_RATIO_NOISE = 0.05
# Average |change of a unit's batch mean| in first standard deviations at page 2's defaults (3 layers, 500
# steps), 5 seeds: no BN 0.76 / 2.6 / 7.9 (layers 1-3) with sd 3% / 4% / 8% of that; BN 0.004 / 0.003 / 0.012,
# sd 2-6%. One seed must beat 10% of the larger of the two.
DRIFT_NOISE_SHARE = 0.1
# Final train − test accuracy gap on 1,000 images (page 8's defaults), sd over 5 seeds: 0.1–0.17 points;
# the loss gap's: 0.005 nats.
ACCURACY_GAP_NOISE = 0.002
LOSS_GAP_NOISE = 0.005
WIDTH_TOLERANCE = 0.05  # a band whose width changed by less than 5% "kept its width"


# ---- shared pieces -------------------------------------------------------------------------------------------


def finished_runs(per_seed: PerSeed, name: str) -> list[RunResult]:
    """The seeds' runs of `name` that trained without diverging and recorded at least two steps."""
    return [r for r in runs_of(per_seed, name) if not r.diverged and len(r.history) >= 2]


def _too_short(per_seed: PerSeed, *names: str) -> bool:
    runs = [r for name in names for r in runs_of(per_seed, name) if not r.diverged]
    return not runs or min(r.steps for r in runs) < MIN_STEPS


def _per_seed_values(per_seed: PerSeed, name: str, value) -> list[float]:
    """`value(run)` per seed (NaN where the net diverged, is missing or has too few steps): paired by seed."""
    out = []
    for runs in per_seed:
        run = runs.get(name)
        ok = run is not None and not run.diverged and run.steps >= MIN_STEPS
        out.append(float(value(run)) if ok else math.nan)
    return out


def epoch_text(steps: int, batch_size: int, images: int = MNIST_TRAIN) -> str:
    """ "500 steps of 128 = 1.07 epochs (468 full batches per epoch; the last partial batch is dropped)"."""
    per_epoch = images // batch_size
    dropped = images - per_epoch * batch_size
    tail = f"; the last {dropped} images of each shuffle are dropped" if dropped else ""
    epochs = steps / per_epoch
    return (
        f"{steps:,} steps of {batch_size} = {epochs:.3g} epoch{'' if epochs == 1 else 's'} ({per_epoch:,} full "
        f"batches per epoch{tail})"
    )


# ---- Train & compare ------------------------------------------------------------------------------------------


def accuracy_verdict(per_seed: PerSeed, a: str = "bn", b: str = "plain") -> Finding:
    """Whose final test accuracy was higher, decided from the spread across seeds; silent without both nets,
    after too few steps, or when one net diverged in every seed."""
    if a not in nets(per_seed) or b not in nets(per_seed) or _too_short(per_seed, a, b):
        return SILENT
    gap = paired_gap(
        _per_seed_values(per_seed, a, lambda r: r.test_accuracy),
        _per_seed_values(per_seed, b, lambda r: r.test_accuracy),
        one_seed_noise=ACCURACY_NOISE,
    )
    return gap_sentence(gap, a=label(a), b=label(b), quantity="final test accuracy", fmt="{:.2%}")


def net_finding(per_seed: PerSeed, name: str) -> Finding:
    """One net's result over the seeds that finished: test accuracy and loss, and how the variance of its
    last hidden layer's pre-activations moved. Says when it diverged or recorded nothing."""
    notes = []
    diverged = figures.diverged_label(per_seed, name)
    if diverged:
        notes.append(diverged.removeprefix(f"{label(name)} "))
    ok = finished_runs(per_seed, name)
    if not ok:
        return Finding("; ".join(notes) + "." if notes else "stopped before two steps were recorded.")
    accuracy, loss = Spread.of([r.test_accuracy for r in ok]), Spread.of([r.test_loss for r in ok])
    layer = len(ok[0].config.hidden)
    variance = [figures.layer_table(r, layer)["var"] for r in ok]
    first, last = np.mean([v.iloc[0] for v in variance]), np.mean([v.iloc[-1] for v in variance])
    over = f"mean over {len(ok)} seeds" if len(ok) > 1 else "one seed"
    text = (
        f"test accuracy {accuracy.text('{:.2%}')} after {figures.spread_text([r.steps for r in ok], '{:,.0f}')} "
        f"steps (test loss {loss.text('{:.3f}')}); the batch variance of layer {layer}'s pre-activations went "
        f"from {first:.3g} to {last:.3g} ({over})"
    )
    return Finding(
        "; ".join([text, *notes]) + ".",
        {"accuracy": accuracy.mean, "loss": loss.mean, "var_first": first, "var_last": last, "n": len(ok)},
    )


def cost_of_bn(per_seed: PerSeed) -> Finding:
    """What BN costs per training step, from the seeds where both nets trained at least MIN_TIMED_STEPS
    steps without diverging (a diverged run's few steps give no rate). BN's time over no BN's is compared
    within each seed (both share the server's load of that moment); "slower" only when that ratio exceeds
    1 by more than its spread across seeds (at least TIME_RATIO_NOISE) in every seed."""
    pairs = [
        (runs["bn"], runs["plain"])
        for runs in per_seed
        if {"bn", "plain"} <= runs.keys()
        and all(not r.diverged and r.steps >= MIN_TIMED_STEPS for r in (runs["bn"], runs["plain"]))
    ]
    if not pairs:
        return SILENT
    bn, plain = [1000 * p[0].seconds_per_step for p in pairs], [1000 * p[1].seconds_per_step for p in pairs]
    ratios = [x / y for x, y in zip(bn, plain, strict=True)]
    ratio = Spread.of(ratios)
    noise = max(ratio.sd, TIME_RATIO_NOISE)
    numbers = {"bn_ms": float(np.mean(bn)), "plain_ms": float(np.mean(plain)), "ratio": ratio.mean, "noise": noise}
    measured = (
        f"a training step took {Spread.of(bn).text('{:.2f}')} ms with BN and {Spread.of(plain).text('{:.2f}')} ms "
        f"without ({seeds_phrase(len(pairs))}), measured on this server while other users' jobs shared its cores"
    )
    times = f"{ratio.text('{:.2f}')}×"
    if ratio.mean - 1 > noise and min(ratios) > 1:
        verdict = f"BN took {times} the time of no BN: the note's “extra computation”, measured"
    elif 1 - ratio.mean > noise and max(ratios) < 1:
        verdict = f"BN's steps were quicker here ({times}): timings on a shared server vary"
    else:
        verdict = f"BN's steps took about as long as no BN's ({times}, within the timings' spread of ±{noise:.2f})"
    return Finding(f"**Cost of BN:** {measured}. {verdict}.", numbers | {"n": len(pairs)})


def signed_text(spread: Spread, decimals: int = 3) -> str:
    """ "+0.270 ± 0.001": a signed mean with an unsigned sd (the value alone for one seed)."""
    if spread.n == 0:
        return "n/a"
    mean = f"{spread.mean:+.{decimals}f}"
    return mean if spread.n == 1 else f"{mean} ± {spread.sd:.{decimals}f}"


NEXT_LEARNING_RATES = (1.0, 3.0, 10.0)
SMALL_BATCH = 4


def try_next(config: TrainConfig, *, seeds: int, names: Sequence[str]) -> Finding:
    """Suggestions that change something about the current settings (never "raise the learning rate to 3"
    when it is 3, nor "shrink the batch to 4" when it is already that small)."""
    tips = []
    higher = [lr for lr in NEXT_LEARNING_RATES if lr > config.lr]
    if higher:
        tips.append(f"raise the learning rate to {higher[0]:g} and see which run diverges first")
    else:
        tips.append("lower the learning rate to 0.1 and see both nets train")
    if config.init != "gaussian":
        tips.append("pick the gaussian initialization with std 0.001 or 1")
    elif config.init_std <= 0.01:
        tips.append("raise the gaussian std to 1")
    else:
        tips.append("lower the gaussian std to 0.001")
    if any(n != "plain" for n in names):
        if config.batch_size > SMALL_BATCH:
            tips.append(
                f"shrink the batch to {SMALL_BATCH} and watch each batch's statistics of BN's input move away "
                "from the running averages used at inference (the charts of BN's input)"
            )
        else:
            tips.append("raise the batch to 128 and watch the gap between BN's batch and running statistics shrink")
    if len(names) < 2:
        tips.append("train both nets to compare them")
    if seeds == 1:
        tips.append("run 3 seeds to tell a real gap from seed-to-seed noise")
    numbers = {"lr": config.lr, "batch_size": config.batch_size, "init_std": config.init_std, "seeds": seeds}
    return Finding("**Try next:** " + "; ".join(tips) + ".", numbers)


def stored_summary(runs: dict[str, RunResult]) -> Finding:
    """The home page's sentence on its stored comparison, from the stored runs."""
    if not runs:
        return SILENT
    config = next(iter(runs.values())).config
    paired = ", paired (same initial weights, same batches)" if len(runs) > 1 else ""
    results = " · ".join(
        f"**{label(n)}**: {r.test_accuracy:.1%} test accuracy"
        if not r.diverged
        else f"**{label(n)}**: diverged at step {r.diverged_at}"
        for n, r in runs.items()
    )
    text = (
        f"Stored result, trained once by this lab's engine: the note's network, {config.steps:,} steps of plain "
        f"SGD at learning rate {config.lr:g}, batches of {config.batch_size}{paired}, one seed. {results}."
    )
    return Finding(text, {f"{n}_accuracy": r.test_accuracy for n, r in runs.items()})


# ---- Internal covariate shift ---------------------------------------------------------------------------------


def width_change(first: float, last: float) -> str:
    """ "widened from a to b", "narrowed from a to b" or "kept its width (a → b)": the word follows the sign
    and a change under WIDTH_TOLERANCE is no change."""
    if not (math.isfinite(first) and math.isfinite(last)) or first <= 0:
        return ""
    change = last / first - 1
    if abs(change) < WIDTH_TOLERANCE:
        return f"kept its width ({first:.3g} → {last:.3g})"
    return f"{'widened' if change > 0 else 'narrowed'} from {first:.3g} to {last:.3g}"


def mean_relative_drift(run: RunResult, layer: int) -> float:
    """The average over units of |change of the unit's batch mean|, in first standard deviations."""
    drift = distribution_figures.relative_unit_drift(run, layer)
    drift = drift[np.isfinite(drift)]
    return float(np.abs(drift).mean()) if drift.size else math.nan


def ics_net_finding(per_seed: PerSeed, name: str, layer: int) -> Finding:
    """How the tracked unit's median and 15–85 band moved and how far all units' means drifted, over the
    seeds that finished; moves are in band widths and standard deviations, so nets on different scales compare."""
    ok = [r for r in finished_runs(per_seed, name) if not r.tables["units"].empty]
    if not ok:
        return SILENT
    moves = [figures.percentile_moves(r, layer) for r in ok]
    median = Spread.of([m["median_moved_widths"] for m in moves])
    first, last = Spread.of([m["width_first"] for m in moves]), Spread.of([m["width_last"] for m in moves])
    drift = Spread.of([mean_relative_drift(r, layer) for r in ok])
    unit = ok[0].config.tracked_unit
    change = width_change(first.mean, last.mean)
    over = f" (means over {len(ok)} seeds)" if len(ok) > 1 else ""
    text = (
        f"the median of unit {unit} moved by {median.text('{:.2f}')} band widths (its first 15–85th band width)"
        f"; the band {change}{over}. Across all units, the batch mean moved by {drift.text('{:.3f}')} "
        f"of the layer's first standard deviation on average."
    )
    numbers = {"median_moved_widths": median.mean, "width_first": first.mean, "width_last": last.mean}
    return Finding(text, numbers | {"drift": drift.mean, "n": len(ok)})


def ics_verdict(per_seed: PerSeed, layer: int) -> Finding:
    """Did BN's layer inputs drift less than no BN's? The paired gap of the average drift of unit means
    (scale-free), decided from the seeds' spread; silent after too few steps."""
    if not {"bn", "plain"} <= set(nets(per_seed)) or _too_short(per_seed, "bn", "plain"):
        return SILENT
    bn = _per_seed_values(per_seed, "bn", lambda r: mean_relative_drift(r, layer))
    plain = _per_seed_values(per_seed, "plain", lambda r: mean_relative_drift(r, layer))
    scale = max((abs(v) for v in (*bn, *plain) if math.isfinite(v)), default=0.0)
    gap = paired_gap(bn, plain, one_seed_noise=DRIFT_NOISE_SHARE * scale)
    quantity = f"average drift of layer {layer}'s unit means (in first standard deviations)"
    return gap_sentence(gap, a="BN", b="no BN", quantity=quantity, fmt="{:.3f}", gap_fmt="{:.3f}", gap_scale=1.0)


def bn_before_after(per_seed: PerSeed, layer: int) -> Finding:
    """In the BN net: BN's input still moves as the weights learn, its output is normalised. Both moves of
    the tracked unit's median are in band widths of their own first record, so they compare."""
    ok = [r for r in finished_runs(per_seed, "bn") if not r.layers.empty]
    if not ok:
        return SILENT
    before = [figures.layer_table(r, layer, "bn_in_") for r in ok]
    after = [figures.layer_table(r, layer) for r in ok]

    def first_last(tables, column) -> tuple[float, float]:
        return float(np.mean([t[column].iloc[0] for t in tables])), float(np.mean([t[column].iloc[-1] for t in tables]))

    (v0, v1), (m0, m1) = first_last(before, "var"), first_last(before, "mean")
    (w0, w1), (n0, n1) = first_last(after, "var"), first_last(after, "mean")
    moved_in = Spread.of([figures.percentile_moves(r, layer, "bn_in_")["median_moved_widths"] for r in ok])
    moved_out = Spread.of([figures.percentile_moves(r, layer)["median_moved_widths"] for r in ok])
    over = f" (means over {len(ok)} seeds)" if len(ok) > 1 else ""
    text = (
        f"In the BN net{over}, BN's input — the Linear layer's output — still changes as the weights learn: "
        f"averaged over layer {layer}'s units, its batch variance went from {v0:.3g} to {v1:.3g} and its batch "
        f"mean from {m0:.3f} to {m1:.3f}. BN's output, the input of the nonlinearity, is what is normalised: "
        f"variance {w0:.3g} → {w1:.3g}, mean {n0:.3f} → {n1:.3f} (only γ and β, learned slowly, move it). "
        f"Unit {ok[0].config.tracked_unit}'s median moved by {moved_in.text('{:.2f}')} band widths before BN and "
        f"{moved_out.text('{:.2f}')} after it (each in its own first 15–85th band width)."
    )
    numbers = {"in_var_first": v0, "in_var_last": v1, "out_var_first": w0, "out_var_last": w1}
    return Finding(text, numbers | {"moved_in_widths": moved_in.mean, "moved_out_widths": moved_out.mean})


def ics_try_next(config: TrainConfig) -> Finding:
    """Suggestions for the ICS page that change something about the current settings."""
    tips = []
    if config.activation != "sigmoid":
        tips.append("switch to sigmoid")
    higher = [lr for lr in NEXT_LEARNING_RATES if lr > config.lr]
    if higher:
        tips.append(f"raise the learning rate to {higher[0]:g}")
    if len(config.hidden) < 4:
        tips.append(f"use {len(config.hidden) + 1} hidden layers")
    if not tips:
        tips.append("lower the learning rate to 0.1")
    text = "**Try next:** " + ", or ".join(tips) + ", and see whether the shift without BN grows."
    return Finding(text, {"lr": config.lr, "layers": len(config.hidden)})


# ---- Regularisation -------------------------------------------------------------------------------------------


def final_fit(run: RunResult) -> dict[str, float]:
    """The last evaluation on the training subset, against the full test set's numbers."""
    table = fit_figures.fit_table(run)
    if table.empty or run.diverged:
        return dict.fromkeys(("train_accuracy", "train_loss", "accuracy_gap", "loss_gap"), math.nan)
    last = table.iloc[-1]
    return {
        "train_accuracy": float(last["accuracy_train"]),
        "train_loss": float(last["loss_train"]),
        "accuracy_gap": float(last["accuracy_train"]) - run.test_accuracy,
        "loss_gap": run.test_loss - float(last["loss_train"]),
    }


def fit_finding(per_seed: PerSeed, name: str) -> Finding:
    """One net on the subset: how well it fit the training images, how well it did on the test set, the gap."""
    ok = [r for r in finished_runs(per_seed, name) if math.isfinite(r.test_accuracy)]
    diverged = figures.diverged_label(per_seed, name)
    if not ok:
        return Finding(f"{diverged.removeprefix(label(name) + ' ')}." if diverged else "")
    fits = [final_fit(r) for r in ok]

    def spread(key: str) -> Spread:
        return Spread.of([f[key] for f in fits])

    train_acc, gap, loss_gap = spread("train_accuracy"), spread("accuracy_gap"), spread("loss_gap")
    test_acc = Spread.of([r.test_accuracy for r in ok])
    images = ok[0].config.train_size
    text = (
        f"{train_acc.text('{:.1%}')} on its {images:,} training images, {test_acc.text('{:.1%}')} on the 10,000 "
        f"test images: a gap of {gap.text('{:.2f}', 100)} points (test loss − training loss "
        f"{signed_text(loss_gap)})" + (f"; {diverged.removeprefix(label(name) + ' ')}" if diverged else "") + "."
    )
    return Finding(text, {"train_accuracy": train_acc.mean, "test_accuracy": test_acc.mean, "gap": gap.mean})


GAP_MEASURES = {  # final_fit key -> (quantity, value format, gap format, gap scale, one seed's noise)
    "accuracy_gap": ("train − test accuracy gap", "{:.2%}", "{:.2f} points", 100.0, ACCURACY_GAP_NOISE),
    "loss_gap": ("test − train loss gap", "{:.3f}", "{:.3f} nats", 1.0, LOSS_GAP_NOISE),
}


def _fit_gap(per_seed: PerSeed, a: str, measure: str, b: str = "plain") -> PairedGap | None:
    """Net `a`'s final train–test gap against `b`'s, paired by seed; None without a training subset,
    after too few steps, or without both nets."""
    if a not in nets(per_seed) or b not in nets(per_seed) or _too_short(per_seed, a, b):
        return None
    if not all(r.config.train_size for r in runs_of(per_seed, a)):
        return None
    return paired_gap(
        _per_seed_values(per_seed, a, lambda r: final_fit(r)[measure]),
        _per_seed_values(per_seed, b, lambda r: final_fit(r)[measure]),
        one_seed_noise=GAP_MEASURES[measure][4],
    )


def gap_verdict(per_seed: PerSeed, a: str, measure: str, b: str = "plain") -> Finding:
    """Net `a`'s final train–test gap against `b`'s, decided from the seeds' spread (never a winner within
    the noise); silent where `_fit_gap` has nothing to compare."""
    gap = _fit_gap(per_seed, a, measure, b)
    if gap is None:
        return SILENT
    quantity, fmt, gap_fmt, scale, _ = GAP_MEASURES[measure]
    return gap_sentence(gap, a=label(a), b=label(b), quantity=quantity, fmt=fmt, gap_fmt=gap_fmt, gap_scale=scale)


CONCLUSIONS = {  # (accuracy gap outcome, loss gap outcome), BN against no BN -> sentence
    ("lower", "lower"): "BN overfit less than no BN on both measures here: the note's “slight regularisation” shows.",
    ("higher", "higher"): "BN overfit more than no BN on both measures here: the opposite of the note's claim.",
    ("noise", "noise"): "Neither gap differs beyond seed-to-seed noise: this setting shows no regularisation by BN.",
}


def regularisation_conclusion(per_seed: PerSeed) -> Finding:
    """What BN's two gap outcomes against no BN say about the note's claim, in one sentence; silent when
    either gap cannot be decided at all."""
    gaps = {m: _fit_gap(per_seed, "bn", m) for m in GAP_MEASURES}
    if any(g is None or g.outcome == "none" for g in gaps.values()):
        return SILENT
    acc, loss = gaps["accuracy_gap"].outcome, gaps["loss_gap"].outcome
    text = CONCLUSIONS.get(
        (acc, loss),
        f"The two measures disagree (BN's accuracy gap: {acc}; its loss gap: {loss}, against no BN's): on this "
        "setting BN does not clearly regularise.",
    )
    numbers = {
        "accuracy_gap_difference": gaps["accuracy_gap"].gap.mean,
        "loss_gap_difference": gaps["loss_gap"].gap.mean,
    }
    return Finding(f"**In short:** {text}", numbers)


def regularisation_try_next(config: TrainConfig) -> Finding:
    """Suggestions for the regularisation page that change something about the current settings."""
    size = 5000 if config.train_size <= 1000 else 500
    tips = [f"train on {size:,} images instead of {config.train_size:,}"]
    tips.append("halve the steps" if config.steps >= 2000 else "double the steps")
    if config.batch_size > SMALL_BATCH * 4:
        tips.append("use batches of 8, where BN's batch statistics are noisier (a stronger regulariser, if any)")
    else:
        tips.append("use batches of 128, where BN's batch statistics are steadier")
    text = "**Try next:** " + "; ".join(tips) + "."
    return Finding(text, {"train_size": config.train_size, "steps": config.steps, "batch_size": config.batch_size})
