"""The building blocks of every sentence a page writes from a run: a `Finding` (the text and the numbers it
used, so a test can check both), and the paired-gap sentence that decides from the seeds' spread.

Lesson-specific findings are pure functions in the engine too (results in, Finding out); they say nothing
(`SILENT`) when there is nothing to decide from: a diverged run, too few steps, no finite value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bn_demo.core.seeds import PairedGap, seeds_phrase


@dataclass(frozen=True)
class Finding:
    text: str  # markdown; empty when the run cannot support a sentence
    numbers: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.text)


SILENT = Finding("")


def gap_sentence(
    gap: PairedGap,
    *,
    a: str,
    b: str,
    quantity: str,
    fmt: str = "{:.1%}",
    gap_fmt: str = "{:.2f} points",
    gap_scale: float = 100.0,
) -> Finding:
    """'BN's test accuracy was higher than no BN's …', decided from the spread across seeds (see PairedGap);
    within the noise it says so and never names a winner. `gap_fmt`/`gap_scale` show the gap itself
    (accuracy gaps in percentage points by default)."""
    numbers = {"a_mean": gap.a.mean, "b_mean": gap.b.mean, "gap": gap.gap.mean, "noise": gap.noise, "n": gap.n}
    if gap.outcome == "none":
        return SILENT
    values = f"{gap.a.text(fmt)} vs {gap.b.text(fmt)} ({seeds_phrase(gap.n)})"
    size, noise = gap_fmt.format(abs(gap.gap.mean) * gap_scale), gap_fmt.format(gap.noise * gap_scale)
    if gap.outcome == "noise":
        if gap.n == 1:
            reason = f"the gap, {size}, is below the typical seed-to-seed spread of {noise}, which one seed cannot beat"
            advice = "; run 3 or more seeds to decide it"
        elif 0 < gap.ahead < gap.n:
            reason, advice = f"{a} was ahead in {gap.ahead} of {gap.n} seeds only", ""
        else:
            reason, advice = f"the gap, {size}, is smaller than the spread across seeds, {noise}", ""
        return Finding(f"{a} and {b}: {quantity} within seed-to-seed noise, {values}: {reason}{advice}.", numbers)
    word = "higher" if gap.outcome == "higher" else "lower"
    tail = f", in {gap.ahead if word == 'higher' else gap.n - gap.ahead} of {gap.n} seeds" if gap.n > 1 else ""
    one = " (one seed: the gap is larger than the typical spread of " + noise + ")" if gap.n == 1 else ""
    return Finding(f"{a}'s {quantity} was {word} than {b}'s by {size}{tail}: {values}{one}.", numbers)


def bounded_share(part: float, whole: float) -> float | None:
    """part / whole for non-negative amounts (a share of a total movement), always within 0–1; None when
    the whole is zero or not finite, so no sentence can print 349% or −69%."""
    if not (whole > 0) or whole == float("inf") or part < 0:
        return None
    return min(part / whole, 1.0)
