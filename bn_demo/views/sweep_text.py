"""Every sentence the sweep lessons (learning rate, initialization, batch size and inference) write, as pure
functions: a sweep's tidy tables in (sweeps.seeded_points / seeded_analysis, or hand-made ones in tests),
verdicts.Finding out, with the numbers each sentence used.

They read only the decided rows (sweeps.decided: finished runs, paired within each seed). A value counts as
"trained" for a net only if it reached the page's accuracy in every seed without diverging; a diverged run
gives no number, only "diverged"; a gap between BN and no BN counts only beyond the seeds' spread
(seeds.paired_gap), so nothing within seed-to-seed noise is called a win.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bn_demo.core.seeds import PairedGap, Spread, paired_gap, seeds_phrase
from bn_demo.experiments.sweeps import decided, value_text
from bn_demo.serving.shared import shared
from bn_demo.views.style import label
from bn_demo.views.verdicts import SILENT, Finding, gap_sentence

UNIFORM_LOSS = math.log(10)  # the cross-entropy of a uniform guess over 10 classes
# One seed's spread of final test accuracy in these sweeps, measured: the sd across seeds 0-4 of each (value, net)
# of the three pages' default sweeps at 300 steps (31 pairs that did not diverge) has a median of 0.33 points.
ONE_SEED_NOISE = 0.003
CHANCE_MARGIN = 0.02  # a final loss within 2% of ln 10 is a uniform guess: nothing got through
WRONG_FACTOR = 1.5  # a final loss above 1.5 x ln 10: the net is confident where it is wrong
HUGE_START_FACTOR = 2.0  # a first loss above 2 x ln 10: the logits start far too large
MAX_STEPS = 20_000  # the pages' highest step setting: "raise the steps" needs room above the current value
MIN_DECIDING_SEEDS = 3  # fewer seeds than this: the pages suggest more


def _join(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _values(values: Sequence[Any]) -> str:
    return _join([value_text(v) for v in values])


def _runs(points: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(points["run"]))


def good_values(points: pd.DataFrame, run: str, *, min_accuracy: float) -> list:
    """The values (in sweep order) at which `run` reached `min_accuracy` in every decided seed, never diverging."""
    rows = decided(points)
    rows = rows[rows["run"] == run]
    good = []
    for value, group in rows.groupby("value", sort=False):
        if not group["diverged"].any() and (group["test_accuracy"] >= min_accuracy).all():
            good.append(value)
    return good


def _in_every_seed(n_seeds: int) -> str:
    return {1: "in its one seed", 2: "in both seeds"}.get(n_seeds, f"in all {n_seeds} seeds")


def run_summary(points: pd.DataFrame, run: str, *, noun: str, min_accuracy: float) -> Finding:
    """'**BN** reached ≥ 90% test accuracy in all 3 seeds at 4 of 5 values (…); best 96.0% ± 0.3 at learning
    rate 0.5; diverged at learning rate 30 in 3 of 3 seeds (by step 4).' Best is among values where no seed
    diverged; nothing is said of runs that did not finish."""
    rows = decided(points)
    rows = rows[rows["run"] == run]
    if rows.empty:
        return SILENT
    values = list(dict.fromkeys(rows["value"]))
    n_seeds = rows["seed"].nunique()
    good = good_values(points, run, min_accuracy=min_accuracy)
    where = f"at none of the {len(values)} values"
    if good:
        where = f"at {len(good)} of {len(values)} values ({_values(good)})"
    text = f"**{label(run)}** reached ≥ {min_accuracy:.0%} test accuracy {_in_every_seed(n_seeds)} {where}"
    numbers: dict[str, float] = {"good": len(good), "values": len(values), "seeds": n_seeds}
    finite = rows.groupby("value", sort=False).filter(lambda g: not g["diverged"].any())
    spreads = {v: Spread.of(g["test_accuracy"].tolist()) for v, g in finite.groupby("value", sort=False)}
    if spreads:
        best = max(spreads, key=lambda v: spreads[v].mean)
        text += f"; best {spreads[best].text('{:.1%}')} at {noun} {value_text(best)}"
        numbers |= {"best": spreads[best].mean, "best_value": best}
    bad = []
    for value, group in rows[rows["diverged"]].groupby("value", sort=False):
        seeds = f" in {len(group)} of {rows[rows['value'] == value]['seed'].nunique()} seeds" if n_seeds > 1 else ""
        bad.append(f"{value_text(value)}{seeds} (by step {int(group['diverged_at'].max())})")
    if bad:
        text += f"; diverged at {noun} {_join(bad)}"
        numbers["diverged_values"] = len(bad)
    return Finding(text + ".", numbers)


def summarise(points: pd.DataFrame, *, noun: str, min_accuracy: float) -> list[Finding]:
    """One run_summary per run, in the table's order (BN first)."""
    found = [run_summary(points, run, noun=noun, min_accuracy=min_accuracy) for run in _runs(points)]
    return [f for f in found if f]


def value_gap(points: pd.DataFrame, value: Any, *, a: str = "bn", b: str = "plain", one_seed_noise: float) -> PairedGap:
    """Test accuracy of `a` against `b` at one value, paired seed by seed over the decided seeds."""
    rows = decided(points)
    wide = rows[rows["value"] == value].pivot(index="seed", columns="run", values="test_accuracy")
    return paired_gap(wide[a].tolist(), wide[b].tolist(), one_seed_noise=one_seed_noise)


def _gap_text(gap: PairedGap) -> str:
    """The paired gap in percentage points: '+0.91 ± 0.11' (mean ± sd of the per-seed gaps)."""
    mean = f"{gap.gap.mean * 100:+.2f}"
    return mean if gap.n == 1 else f"{mean} ± {gap.gap.sd * 100:.2f}"


def _accuracy_cell(group: pd.DataFrame) -> str:
    n, k = len(group), int(group["diverged"].sum())
    if k == n:
        return "✕ diverged" + (f" ({k} of {n})" if n > 1 else "")
    text = Spread.of(group["test_accuracy"].tolist()).text("{:.1%}")
    return text + (f" (✕ {k} of {n})" if k else "")


def value_verdict(points: pd.DataFrame, value: Any, *, one_seed_noise: float) -> str:
    """A value's verdict in words: divergence first (no accuracy claim from a diverged run), then the paired
    gap of BN against no BN, which is a win only beyond the seeds' spread."""
    rows = decided(points)
    rows = rows[rows["value"] == value]
    n = rows["seed"].nunique()
    counts = {r: int(rows[rows["run"] == r]["diverged"].sum()) for r in _runs(rows)}
    diverged = {r: k for r, k in counts.items() if k}
    if diverged and all(k == n for k in counts.values()):
        return "both diverged"
    if len(diverged) == 1:
        ((run, k),) = diverged.items()
        return f"{label(run)} diverged" + (f" in {k} of {n} seeds" if n > 1 else "")
    if diverged:  # both, in some seeds: short enough for the table's column
        first, second = (f" in {k} of {n}" if n > 1 else "" for k in diverged.values())
        return f"BN diverged{first}, no BN{second}"
    outcome = value_gap(points, value, one_seed_noise=one_seed_noise).outcome
    return {"higher": "BN higher", "lower": "no BN higher", "noise": "within seed-to-seed noise"}.get(outcome, "")


@shared
def value_table(points: pd.DataFrame, *, noun: str, one_seed_noise: float) -> pd.DataFrame:
    """The page's table: per value, each net's test accuracy (mean ± sd over seeds, ✕ where it diverged), the
    paired gap in points, in how many seeds BN was ahead, and the verdict."""
    rows = decided(points)
    out = []
    for value, group in rows.groupby("value", sort=False):
        gap = value_gap(points, value, one_seed_noise=one_seed_noise)
        out.append(
            {
                noun: value_text(value),
                "BN": _accuracy_cell(group[group["run"] == "bn"]),
                "no BN": _accuracy_cell(group[group["run"] == "plain"]),
                "BN − no BN (points)": _gap_text(gap) if gap.n else "–",
                "BN ahead in": f"{gap.ahead} of {gap.n} seed{'s' * (gap.n > 1)}" if gap.n else "–",
                "verdict": value_verdict(points, value, one_seed_noise=one_seed_noise),
            }
        )
    return pd.DataFrame(out, columns=[noun, "BN", "no BN", "BN − no BN (points)", "BN ahead in", "verdict"])


def _span(values: Sequence[Any], total: int) -> str:
    if len(values) == 1:
        return f"only {value_text(values[0])}"
    return f"{value_text(values[0])} to {value_text(values[-1])} ({len(values)} of {total} values)"


def _one_seed_caveat(points: pd.DataFrame) -> str:
    if decided(points)["seed"].nunique() > 1:
        return ""
    return " One seed only: a value near the line could fall on the other side with another seed."


def usable_lr_range(points: pd.DataFrame, *, min_accuracy: float) -> Finding:
    """Page 3's verdict: each net's usable learning rates (≥ `min_accuracy` in every seed, never diverging),
    and whether BN's highest usable rate is above no BN's, in words that match the sign."""
    rows = decided(points)
    if rows.empty:
        return SILENT
    total = rows["value"].nunique()
    good = {run: good_values(points, run, min_accuracy=min_accuracy) for run in ("bn", "plain")}
    line = f"≥ {min_accuracy:.0%} test accuracy in every seed, no divergence"
    caveat = _one_seed_caveat(points)
    if not good["bn"] and not good["plain"]:
        text = f"Neither BN nor no BN was usable ({line}) at any of the {total} learning rates tried."
        return Finding(text + caveat, {"bn_good": 0, "plain_good": 0})
    for run, other in (("bn", "plain"), ("plain", "bn")):
        if not good[other]:
            text = (
                f"Usable learning rates ({line}): {label(run)} {_span(good[run], total)}; "
                f"{label(other)} none of the {total} tried."
            )
            return Finding(text + caveat, {f"{run}_high": max(good[run]), f"{other}_good": 0})
    high = {run: max(v) for run, v in good.items()}
    text = f"Usable learning rates ({line}): BN {_span(good['bn'], total)}, no BN {_span(good['plain'], total)}."
    ratio = high["bn"] / high["plain"]
    if ratio > 1:
        text += f" BN's highest usable rate is {ratio:.3g}× no BN's: on this net BN trains at higher learning rates."
    elif ratio == 1:
        text += f" Both nets' highest usable rate was {value_text(high['bn'])}: at these settings BN did not raise it."
    else:
        text += f" No BN's highest usable rate, {value_text(high['plain'])}, was above BN's, {value_text(high['bn'])}."
    text += " The true edges lie between the values tried."
    return Finding(text + caveat, {"bn_high": high["bn"], "plain_high": high["plain"], "ratio": ratio})


def init_std_range(points: pd.DataFrame, *, min_accuracy: float) -> Finding:
    """Page 4's verdict on the Gaussian stds: from how many each net trained, and whether BN widened that set,
    narrowed it, or left it as it was, computed from the sets themselves."""
    rows = decided(points)
    if rows.empty:
        return SILENT
    total = rows["value"].nunique()
    good = {run: good_values(points, run, min_accuracy=min_accuracy) for run in ("bn", "plain")}
    numbers = {"bn_good": len(good["bn"]), "plain_good": len(good["plain"]), "values": total}
    if not good["bn"] and not good["plain"]:
        text = (
            f"Neither BN nor no BN reached ≥ {min_accuracy:.0%} test accuracy in every seed from any of the "
            f"{total} stds tried."
        )
        return Finding(text + _one_seed_caveat(points), numbers)

    def listed(run: str) -> str:
        return f"{len(good[run])} of {total}" + (f" ({_values(good[run])})" if good[run] else "")

    text = (
        f"Initial stds a net trained from (≥ {min_accuracy:.0%} test accuracy in every seed): "
        f"BN {listed('bn')}, no BN {listed('plain')}."
    )
    only_bn = [v for v in good["bn"] if v not in good["plain"]]
    only_plain = [v for v in good["plain"] if v not in good["bn"]]
    if not only_bn and not only_plain:
        text += " BN did not widen the range of initial stds this net trains from."
    elif not good["plain"] or not good["bn"]:
        run = "bn" if good["bn"] else "plain"
        text += f" Only {label(run)} trained at all."
    elif not only_plain:
        text += f" BN widened it: only BN trained from std {_values(only_bn)}."
    elif not only_bn:
        text += f" BN narrowed it: only no BN trained from std {_values(only_plain)}."
    else:
        text += f" Only BN trained from std {_values(only_bn)}; only no BN from std {_values(only_plain)}."
    return Finding(text + _one_seed_caveat(points), numbers)


def failures(points: pd.DataFrame, run: str, *, noun: str, min_accuracy: float) -> Finding:
    """Where `run` finished without diverging but below `min_accuracy`: what it measured there (accuracy and
    final test loss), with the loss read against ln 10, the loss of a uniform guess: near it, nothing got
    through; far above it, the net is confident where it is wrong."""
    rows = decided(points)
    rows = rows[(rows["run"] == run)]
    parts, numbers = [], {}
    for value, group in rows.groupby("value", sort=False):
        if group["diverged"].any() or (group["test_accuracy"] >= min_accuracy).all():
            continue
        accuracy, loss = Spread.of(group["test_accuracy"].tolist()), Spread.of(group["test_loss"].tolist())
        if abs(loss.mean - UNIFORM_LOSS) <= CHANCE_MARGIN * UNIFORM_LOSS:
            reading = ": a uniform guess's loss, nothing got through"
        elif loss.mean > WRONG_FACTOR * UNIFORM_LOSS:
            reading = ": a loss above a uniform guess's, confident where it is wrong"
        else:
            reading = ""
        parts.append(f"{noun} {value_text(value)}: {accuracy.text('{:.1%}')}, test loss {loss.text('{:.2f}')}{reading}")
        numbers[f"loss_at_{value_text(value)}"] = loss.mean
    if not parts:
        return SILENT
    text = (
        f"Where {label(run)} fell short (below {min_accuracy:.0%} in some seed), it ended at: "
        f"{'; '.join(parts)}. A uniform guess scores ln 10 ≈ {UNIFORM_LOSS:.2f}."
    )
    return Finding(text, numbers)


def output_layer_reason(points: pd.DataFrame, *, min_accuracy: float) -> Finding:
    """Why BN stops helping at large stds: BN normalises what enters each hidden nonlinearity, not the output
    layer, whose weights are drawn with the same std. Said only for the stds above BN's last good one where
    BN's first training loss shows logits that start far too large (above 2 × ln 10)."""
    rows = decided(points)
    bn = rows[rows["run"] == "bn"]
    good = good_values(points, "bn", min_accuracy=min_accuracy)
    values = list(dict.fromkeys(bn["value"]))
    tail = values[values.index(good[-1]) + 1 :] if good else values
    start = {v: Spread.of(bn[bn["value"] == v]["first_loss"].tolist()) for v in tail}
    huge = [v for v in tail if start[v].n and start[v].mean > HUGE_START_FACTOR * UNIFORM_LOSS]
    if not huge:
        return SILENT
    first = Spread.of(bn[bn["value"].isin(huge)]["first_loss"].tolist())
    there = rows[rows["value"].isin(huge)]
    plain_diverged = there[(there["run"] == "plain")]["diverged"].any()
    bn_diverged = there[(there["run"] == "bn")]["diverged"].any()
    avoided = " (it avoided no BN's divergence there, nothing more)" if plain_diverged and not bn_diverged else ""
    plain_good = good_values(points, "plain", min_accuracy=min_accuracy)
    either = "" if any(v in plain_good for v in huge) else " either"
    text = (
        f"At std {_values(huge)} BN did not reach {min_accuracy:.0%} in every seed{either}{avoided}. "
        "BN normalises what enters each hidden layer's nonlinearity, whatever the scale of the weights before it, "
        "but not the output layer, whose weights are drawn with the same std: BN's first training loss there was "
        f"{first.text('{:.3g}')}, against ln 10 ≈ {UNIFORM_LOSS:.2f} for a uniform guess: its logits start far "
        "too large."
    )
    return Finding(text, {"from_std": huge[0], "first_loss": first.mean})


def _try_next(items: list[str]) -> Finding:
    return Finding(f"**Try next:** {'; '.join(items)}.", {"suggestions": len(items)}) if items else SILENT


def _common_advice(*, steps: int, seeds: int, why_steps: str) -> list[str]:
    items = []
    if steps * 4 <= MAX_STEPS:
        items.append(f"raise the steps (now {steps:,}) {why_steps}")
    if seeds < MIN_DECIDING_SEEDS:
        items.append(f"run {MIN_DECIDING_SEEDS} or more seeds (now {seeds}) so that gaps can be told from noise")
    return items


def lr_try_next(*, layers: int, max_layers: int, activation: str, steps: int, seeds: int) -> Finding:
    """Advice that fits the current settings: never suggests what is already set."""
    items = []
    if layers < max_layers:
        items.append(f"add hidden layers (now {layers}) and see whether the gap between the nets grows")
    if activation != "sigmoid":
        items.append("switch to sigmoid, which saturates")
    return _try_next(
        items + _common_advice(steps=steps, seeds=seeds, why_steps="to see whether the small learning rates catch up")
    )


def init_try_next(*, layers: int, activation: str, steps: int, seeds: int) -> Finding:
    items = []
    if activation != "relu":
        items.append("switch to relu")
    if layers > 1:
        items.append(f"try one hidden layer (now {layers}) and see how much of the gap remains")
    return _try_next(items + _common_advice(steps=steps, seeds=seeds, why_steps="to see whether no BN escapes later"))


def batch_try_next(*, smallest: int, min_smallest: int, lr: float, max_lr: float, budget: str, seeds: int) -> Finding:
    items = []
    if smallest > min_smallest:
        items.append(f"a smallest batch of {min_smallest} (now {smallest})")
    if lr < max_lr:
        items.append(f"a larger learning rate (now {value_text(lr)})")
    items.append("fixed examples seen instead of fixed steps" if budget == "steps" else "fixed steps instead")
    if seeds < MIN_DECIDING_SEEDS:
        items.append(f"{MIN_DECIDING_SEEDS} or more seeds (now {seeds})")
    return _try_next(items)


def network_phrase(*, layers: int, width: int, activation: str) -> str:
    """'3 hidden layers of 100 sigmoid units', said against the note's net so no page calls it the same."""
    layer_word = "hidden layer" if layers == 1 else "hidden layers"
    net = f"{layers} {layer_word} of {width} {activation} units"
    if (layers, width, activation) == (1, 256, "relu"):
        return f"the note's network ({net})"
    return f"a net of {net} (the note's has one hidden layer of 256 relu units)"


def _method_gap(analysis: pd.DataFrame, value: Any, a: str, b: str, *, one_seed_noise: float) -> PairedGap:
    rows = analysis[analysis["value"] == value]
    wide = rows.pivot(index="seed", columns="method", values="test_accuracy")
    return paired_gap(wide[a].tolist(), wide[b].tolist(), one_seed_noise=one_seed_noise)


def _method_text(analysis: pd.DataFrame, method: str, values: Sequence[Any]) -> str:
    parts = []
    for value in values:
        rows = analysis[(analysis["value"] == value) & (analysis["method"] == method)]
        parts.append(Spread.of(rows["test_accuracy"].tolist()).text("{:.1%}"))
    return " / ".join(parts)


def inference_findings(analysis: pd.DataFrame, *, methods: dict[str, str], one_seed_noise: float) -> list[Finding]:
    """Page 5's conclusion, from the calibration of every BN net that did not diverge (calibration.analyse_point):
    eval mode (running averages) against train mode (each test batch's own statistics) at the smallest and the
    largest batch, paired within each seed; then what the other sources of statistics gave. `methods` names
    each source as the page's legend does."""
    if analysis.empty:
        return []
    sizes = sorted(analysis["value"].unique())
    ends = [sizes[0]] if len(sizes) == 1 else [sizes[0], sizes[-1]]
    found = []
    for size in ends:
        gap = _method_gap(analysis, size, "running", "batch", one_seed_noise=one_seed_noise)
        found.append(gap_sentence(gap, a="Eval mode", b="train mode", quantity=f"test accuracy at batch size {size}"))
    shown = " / ".join(str(s) for s in ends)
    rest = [m for m in dict.fromkeys(analysis["method"]) if m not in ("running", "batch", "biased")]
    others = [f"{methods[m]}: {_method_text(analysis, m, ends)}" for m in rest]
    if others:
        text = f"The running averages are only as good as their calibration (batch size {shown}): {'; '.join(others)}."
        found.append(Finding(text, {"sizes": len(ends)}))
    return [f for f in found if f]


def variance_factor(analysis: pd.DataFrame, *, one_seed_noise: float) -> Finding:
    """The unbiased factor m/(m−1) of PyTorch's running variance at the smallest batch, and what removing it
    (the 1/m variance, method "biased") changed in eval mode, decided from the seeds' spread."""
    if analysis.empty or "biased" not in set(analysis["method"]):
        return SILENT
    m = int(min(analysis["value"]))
    gap = _method_gap(analysis, m, "running", "biased", one_seed_noise=one_seed_noise)
    if not gap.n:
        return SILENT
    factor = m / (m - 1)
    size, noise = f"{abs(gap.gap.mean) * 100:.2f} points", f"{gap.noise * 100:.2f} points"
    if gap.outcome == "noise":
        verdict = f"the difference, {size}, is within seed-to-seed noise ({noise})"
        if gap.n > 1 and 0 < gap.ahead < gap.n:
            verdict = f"within seed-to-seed noise: the factor helped in {gap.ahead} of {gap.n} seeds only"
    else:
        word = "was worth" if gap.outcome == "higher" else "cost"
        seeds = (
            f", in {gap.ahead if gap.outcome == 'higher' else gap.n - gap.ahead} of {gap.n} seeds" if gap.n > 1 else ""
        )
        verdict = f"the factor {word} {size}{seeds}"
    text = (
        f"At batch size {m} the running variance averages {m}/{m - 1} = {factor:.3g} × σ²_B (so the running std is "
        f"{math.sqrt(factor):.3g} × the batch's). In eval mode the running averages as PyTorch keeps them gave "
        f"{gap.a.text('{:.1%}')}; with the factor taken out (the 1/m variance) {gap.b.text('{:.1%}')} "
        f"({seeds_phrase(gap.n)}): {verdict}."
    )
    return Finding(text, {"factor": factor, "kept": gap.a.mean, "biased": gap.b.mean, "gap": gap.gap.mean})
