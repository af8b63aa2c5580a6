"""Several seeds of one experiment. One seed's spread of final test accuracy on the note's network is
about 0.1–0.5 points, so a single run cannot decide a smaller gap between BN and no BN: every
experiment can be repeated over seeds `seed`, `seed`+1, …, with its runs paired *within* each seed
(same initial weights and minibatches), and its numbers summarised across seeds.

`SeededRun` trains the seeds one after another in a job (progress counts the steps of all seeds; a stop
keeps the finished seeds and the interrupted one); `band` and `Spread` aggregate across seeds.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bn_demo.core.config import ConfigError

MAX_SEEDS = 5  # per request: each seed is a whole experiment


def seed_list(first: int, count: int) -> tuple[int, ...]:
    """The seeds of a request: `first` … `first` + `count` − 1."""
    if not 1 <= count <= MAX_SEEDS:
        raise ConfigError(f"seeds: {count!r} is out of range; valid range is 1 to {MAX_SEEDS}")
    return tuple(range(first, first + count))


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation (ddof=1; 0 for one value) and min–max of finite values."""

    mean: float
    sd: float
    lo: float
    hi: float
    n: int  # finite values: a diverged run's NaN is left out and counted by the caller

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
        if not len(finite):
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        sd = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
        return cls(float(finite.mean()), sd, float(finite.min()), float(finite.max()), len(finite))

    def text(self, fmt: str = "{:.3g}", scale: float = 1.0) -> str:
        """'96.1 ± 0.2' (mean ± sd) for several values, the value alone for one."""
        if self.n == 0:
            return "n/a"
        mean = fmt.format(self.mean * scale)
        return mean if self.n == 1 else f"{mean} ± {fmt.format(self.sd * scale)}"


@dataclass(frozen=True)
class PairedGap:
    """A quantity of run a against run b, seed by seed (paired): who is ahead, and by more than the noise?"""

    a: Spread
    b: Spread
    gap: Spread  # of the per-seed differences a − b
    ahead: int  # seeds where a > b
    n: int  # seeds where both are finite
    noise: float  # the spread a gap must exceed: across seeds, or the typical one for a single seed

    @property
    def outcome(self) -> str:
        """'higher' / 'lower' (a against b), 'noise' (within seed-to-seed noise) or 'none' (nothing to compare).
        A gap counts only when it is larger than the noise and, over several seeds, has the same sign in all."""
        if self.n == 0:
            return "none"
        if abs(self.gap.mean) <= self.noise or (self.n > 1 and 0 < self.ahead < self.n):
            return "noise"
        return "higher" if self.gap.mean > 0 else "lower"


def paired_gap(a: Sequence[float], b: Sequence[float], *, one_seed_noise: float) -> PairedGap:
    """`a` and `b` hold one value per seed, in the same seed order. With several seeds the noise is the larger
    of the two runs' standard deviations across seeds; with one seed it is `one_seed_noise` (the typical
    seed-to-seed spread of this quantity, measured beforehand), because one run cannot measure its own."""
    if len(a) != len(b):
        raise ValueError(f"paired values need one per seed on both sides, got {len(a)} and {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if math.isfinite(x) and math.isfinite(y)]
    sa, sb = Spread.of([x for x, _ in pairs]), Spread.of([y for _, y in pairs])
    gap = Spread.of([x - y for x, y in pairs])
    noise = max(sa.sd, sb.sd) if len(pairs) > 1 else one_seed_noise
    return PairedGap(sa, sb, gap, sum(x > y for x, y in pairs), len(pairs), noise)


def seeds_phrase(n: int) -> str:
    """How a sentence says over what its numbers were taken."""
    return "one seed" if n == 1 else f"mean ± sd over {n} seeds"


def band(frames: Sequence[pd.DataFrame], x: str, y: str) -> pd.DataFrame:
    """Per value of `x`, the mean of `y` over the frames (one per seed) and its band: min and max over seeds
    (the charts draw min–max), sd (ddof=1, NaN for one seed) and how many seeds reached that `x` (a diverged
    or stopped seed ends early, and later points are means of fewer seeds)."""
    columns = [x, "mean", "sd", "lo", "hi", "n"]
    stacked = [f[[x, y]].dropna() for f in frames if len(f)]
    if not stacked:
        return pd.DataFrame(columns=columns)
    grouped = pd.concat(stacked, ignore_index=True).groupby(x, sort=True)[y]
    out = grouped.agg(mean="mean", sd="std", lo="min", hi="max", n="count").reset_index()
    return out[columns]


@dataclass
class SeedResults:
    """An experiment's result per seed, in seed order; while it trains the last entry may be partial."""

    seeds: tuple[int, ...]
    per_seed: list[Any] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.per_seed) == len(self.seeds)


class SeededRun:
    """A job's work over several seeds (jobs.LiveRun): `make(seed)` builds the experiment of one seed."""

    def __init__(self, make: Callable[[int], Any], seeds: Sequence[int]) -> None:
        self.make, self.seeds = make, tuple(seeds)
        self.finished: list[Any] = []
        self.current: Any = None
        self.lock = threading.Lock()  # partial() is called from the UI while run() moves to the next seed

    def run(
        self, progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None
    ) -> SeedResults:
        n = len(self.seeds)
        for i, seed in enumerate(self.seeds):
            if stop is not None and stop.is_set():
                break
            runner = self.make(seed)
            with self.lock:
                self.current = runner

            def report(done: int, total: int, i: int = i) -> None:
                if progress is not None:
                    progress(i * total + done, n * total)

            result = runner.run(progress=report, stop=stop)
            with self.lock:
                self.finished.append(result)
                self.current = None
        return SeedResults(self.seeds, list(self.finished))

    def partial(self) -> SeedResults:
        with self.lock:
            finished, current = list(self.finished), self.current
        partial = current.partial() if current is not None else None
        return SeedResults(self.seeds, finished + ([partial] if partial is not None else []))
