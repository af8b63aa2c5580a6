"""Sweeps: one setting varied over a list of values, with a paired BN / no-BN comparison at each value,
repeated over seeds (runs paired within each seed: same initial weights, same batches).

A job trains the seeds one after another (seeds.SeededRun), each seed's points one after another
(SweepRunner): a whole first seed is drawn early, and the later seeds fill in the bands. Progress counts
training steps over everything, a stop keeps what was trained, and the partial result can be drawn while
it trains. Results come out as tidy DataFrames: one row per (value, run, seed), and the stacked curves.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from bn_demo.core.config import ConfigError, TrainConfig
from bn_demo.core.data import MNIST
from bn_demo.core.results import RunResult, stacked
from bn_demo.core.seeds import SeededRun, SeedResults, Spread
from bn_demo.core.train import PairedTraining, ProgressFn, compare_configs
from bn_demo.serving.jobs import Job, live_work
from bn_demo.serving.shared import shared
from bn_demo.views.style import label

NORMS = ("bn", "plain")
ROUND_MANTISSAS = (1, 2, 3, 5)  # of the round numbers that log-spaced sweep values move to
KEPT_TABLES = ("history", "evals")  # of each finished run: what sweep pages draw and offer as CSV
MAX_POINTS = 12  # values per sweep: beyond this the small multiples stop being readable
EVAL_SIZE = 500  # held-out images of the evaluations during training: a sweep quotes the full test set
POINT_COLUMNS = [
    "setting",
    "value",
    "run",
    "test_accuracy",
    "test_loss",
    "train_loss",
    "diverged",
    "diverged_at",
    "stopped",
    "steps",
    "batch_size",
    "seconds",
    "seed",
    "first_loss",
    "finished",
]
CURVE_KEYS = ["setting", "value", "run", "seed"]
BY_VALUE_COLUMNS = [
    "setting",
    "value",
    "run",
    "seeds",
    *(f"{c}_{s}" for c in ("test_accuracy", "test_loss") for s in ("mean", "sd", "min", "max")),
    "diverged_seeds",
    "ahead_seeds",
    "compared_seeds",
]

# Runs after a point has trained (not after a stopped one), in the job's thread, with the trained
# models at hand: returns extra rows about that point (e.g. calibration of BN's running statistics).
Analysis = Callable[["SweepPoint", PairedTraining, dict[str, RunResult]], pd.DataFrame | None]


@dataclass(frozen=True)
class SweepPoint:
    setting: str  # the TrainConfig field varied, e.g. "lr"
    value: Any  # its value at this point
    config: TrainConfig  # the configuration trained, BN and no BN alike (norm is set per run)


@dataclass(frozen=True)
class Sweep:
    """Frozen and hashable, so that it keys a shared job: a class asking for the same sweep trains once."""

    points: tuple[SweepPoint, ...]
    norms: tuple[str, ...] = NORMS

    def __post_init__(self) -> None:
        if not 1 <= len(self.points) <= 2 * MAX_POINTS:
            raise ConfigError(f"sweep: give 1 to {2 * MAX_POINTS} values, got {len(self.points)}")

    def __add__(self, other: Sweep) -> Sweep:
        return Sweep(self.points + other.points, self.norms)

    @property
    def total_steps(self) -> int:
        """Training steps of the whole sweep, as the progress bar counts them (paired runs step together)."""
        return sum(p.config.steps for p in self.points)

    @property
    def n_runs(self) -> int:
        return len(self.points) * len(self.norms)


def base_config(**settings) -> TrainConfig:
    """A sweep's starting configuration: lighter evaluations during training, as only the final numbers
    (on all 10,000 test images) and the training loss are shown."""
    return TrainConfig(**{"eval_size": EVAL_SIZE, **settings})


def log_values(name: str, low: float, high: float, count: int) -> tuple[float, ...]:
    """`count` values evenly spaced on a log scale from `low` to `high`, the inner ones moved to the
    nearest 1, 2, 3 or 5 x 10^k (numbers a teacher would write on the board), or, where that would make
    two values meet, rounded to 2 significant digits."""
    if not 2 <= count <= MAX_POINTS:
        raise ConfigError(f"{name} count: {count} is out of range; valid range is 2 to {MAX_POINTS}")
    if not 0 < low < high:
        raise ConfigError(f"{name}: the lowest value ({low:g}) must be positive and below the highest ({high:g})")
    inner = np.geomspace(low, high, count)[1:-1]
    for rounding in (_round_number, lambda v: float(f"{v:.2g}"), float):
        values = (float(low), *(rounding(v) for v in inner), float(high))
        if all(a < b for a, b in itertools.pairwise(values)):
            break  # unrounded (the last try), geometric values always are
    return values


def _round_number(value: float) -> float:
    """The nearest (on a log scale) of 1, 2, 3 and 5 x 10^k."""
    exponent = np.floor(np.log10(value))
    candidates = np.array([m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in ROUND_MANTISSAS])
    return float(f"{candidates[np.argmin(np.abs(np.log(candidates / value)))]:.3g}")


def geometric_ints(name: str, low: int, high: int, ratio: int) -> tuple[int, ...]:
    """low, low*ratio, low*ratio^2, ... up to high (batch sizes)."""
    if ratio < 2:
        raise ConfigError(f"{name} ratio: {ratio} is out of range; valid range is 2 and above")
    if not 1 <= low <= high:
        raise ConfigError(f"{name}: the smallest ({low}) must be at least 1 and at most the largest ({high})")
    count = int(math.floor(math.log(high / low, ratio) + 1e-9)) + 1
    return tuple(low * ratio**i for i in range(count))


def vary(base: TrainConfig, setting: str, values: Iterable) -> Sweep:
    """The sweep of `base` with `setting` set to each value (each config validated: ConfigError if out of range)."""
    return Sweep(tuple(SweepPoint(setting, v, base.with_(**{setting: v})) for v in values))


def batch_size_sweep(base: TrainConfig, sizes: Iterable[int], examples: int | None = None) -> Sweep:
    """Batch sizes at a fixed number of steps (examples=None), or at a fixed number of examples seen,
    in which case a batch of b trains examples // b steps."""
    points = []
    for b in sizes:
        steps = base.steps if examples is None else max(1, examples // b)
        points.append(SweepPoint("batch_size", b, base.with_(batch_size=b, steps=steps)))
    return Sweep(tuple(points))


@dataclass
class SweepResult:
    sweep: Sweep
    runs: list[dict[str, RunResult]] = field(default_factory=list)  # per point trained so far, in order
    analyses: list[pd.DataFrame] = field(default_factory=list)
    stopped: bool = False

    @property
    def complete(self) -> bool:
        return not self.stopped and len(self.runs) == len(self.sweep.points)

    def pairs(self) -> Iterable[tuple[SweepPoint, dict[str, RunResult]]]:
        return zip(self.sweep.points, self.runs, strict=False)

    def points(self) -> pd.DataFrame:
        """One row per (value, run): the final numbers of every run trained so far. `first_loss` is the loss of
        its first training batch; `finished` says the run is over (trained every step and evaluated, or
        diverged), so that its numbers may be quoted: a stopped or still-training run's may not."""
        rows = [
            {
                "setting": point.setting,
                "value": point.value,
                "run": name,
                "test_accuracy": run.test_accuracy,
                "test_loss": run.test_loss,
                "train_loss": run.train_loss,
                "diverged": run.diverged,
                "diverged_at": run.diverged_at,
                "stopped": run.stopped,
                "steps": run.steps,
                "batch_size": run.config.batch_size,
                "seconds": run.seconds,
                "seed": run.config.seed,
                "first_loss": _first_loss(run),
                "finished": run.diverged or (not run.stopped and math.isfinite(run.test_accuracy)),
            }
            for point, runs in self.pairs()
            for name, run in runs.items()
        ]
        table = pd.DataFrame(rows, columns=POINT_COLUMNS)
        return table.astype({"diverged_at": "Int64"})

    def curves(self, table: str = "history") -> pd.DataFrame:
        """`table` of every run stacked (like results.combined), with the point's setting, value, run and seed first."""
        frames = [
            run.tables[table].assign(setting=point.setting, value=point.value, run=name, seed=run.config.seed)
            for point, runs in self.pairs()
            for name, run in runs.items()
            if table in run.tables
        ]
        return stacked(frames, CURVE_KEYS)

    def analysis(self) -> pd.DataFrame:
        return pd.concat(self.analyses, ignore_index=True) if self.analyses else pd.DataFrame()


class SweepRunner:
    """Trains a sweep's points one after another; `partial()` is safe to call from another thread."""

    def __init__(self, sweep: Sweep, data: MNIST | None = None, analyse: Analysis | None = None) -> None:
        self.sweep, self.data, self.analyse = sweep, data, analyse
        self.result = SweepResult(sweep)
        self.training: PairedTraining | None = None  # the point training now
        self.lock = threading.Lock()  # a point moves from `training` to `result.runs` atomically

    def run(self, progress: ProgressFn | None = None, stop: threading.Event | None = None) -> SweepResult:
        total, offset = self.sweep.total_steps, 0
        for point in self.sweep.points:
            if stop is not None and stop.is_set():
                break
            training = PairedTraining(compare_configs(point.config, self.sweep.norms), self.data)
            self.data = training.data  # loaded once, shared by the following points
            with self.lock:
                self.training = training

            def report(done: int, _steps: int, offset: int = offset) -> None:
                if progress is not None:
                    progress(offset + done, total)

            runs = training.run(progress=report, stop=stop)
            extra = None
            if not training.stopped and self.analyse is not None:
                extra = self.analyse(point, training, runs)
            for run in runs.values():  # a sweep draws its runs' curves only: the rest would fill the server
                run.tables = {name: run.tables[name] for name in KEPT_TABLES if name in run.tables}
            with self.lock:
                if extra is not None:
                    where = {"setting": point.setting, "value": point.value, "seed": point.config.seed}
                    self.result.analyses.append(extra.assign(**where))
                self.result.runs.append(runs)
                self.result.stopped = training.stopped
                self.training = None
            offset += point.config.steps
            if progress is not None:
                progress(offset, total)
        if len(self.result.runs) < len(self.sweep.points):
            self.result.stopped = True
        return self.result

    def partial(self) -> SweepResult:
        """Finished points plus the one training now (its runs with their loss history only)."""
        with self.lock:
            runs, analyses, training = list(self.result.runs), list(self.result.analyses), self.training
        if training is not None:
            runs.append({name: t.partial_result(history_only=True) for name, t in training.trainers.items()})
        return SweepResult(self.sweep, runs, analyses, self.result.stopped)


def _first_loss(run: RunResult) -> float:
    history = run.tables.get("history")
    return float(history["train_loss"].iloc[0]) if history is not None and len(history) else math.nan


@dataclass(frozen=True)
class SeededSweep:
    """A sweep repeated over seeds, BN and no BN paired within each seed. Frozen and hashable: with its page
    it keys the shared job, so a class asking for the same sweep over the same seeds trains it once."""

    sweep: Sweep  # at the first seed
    seeds: tuple[int, ...]

    def at(self, seed: int) -> Sweep:
        """The sweep at `seed`: every point's configuration with only its seed changed."""
        points = tuple(replace(p, config=p.config.with_(seed=seed)) for p in self.sweep.points)
        return Sweep(points, self.sweep.norms)

    @property
    def total_steps(self) -> int:
        return self.sweep.total_steps * len(self.seeds)

    @property
    def n_runs(self) -> int:
        return self.sweep.n_runs * len(self.seeds)

    @property
    def trained(self) -> tuple[TrainConfig, ...]:
        """Every run over all seeds: what the server's budget costs."""
        return tuple(p.config.with_(norm=n) for s in self.seeds for p in self.at(s).points for n in self.sweep.norms)

    def work(self, data: MNIST | None = None, analyse: Analysis | None = None) -> Callable[[Job], Any]:
        """A job's work (for JobRegistry.submit, total = total_steps): the seeds one after another, with
        live partial results (seeds.SeedResults of SweepResults)."""

        def make() -> SeededRun:
            return SeededRun(lambda seed: SweepRunner(self.at(seed), data, analyse), self.seeds)

        return live_work(make)


@shared
def seeded_points(results: SeedResults) -> pd.DataFrame:
    """SweepResult.points of every seed, stacked (each row names its seed)."""
    return stacked([r.points() for r in results.per_seed], POINT_COLUMNS).astype({"diverged_at": "Int64"})


@shared
def seeded_curves(results: SeedResults) -> pd.DataFrame:
    return stacked([r.curves() for r in results.per_seed], CURVE_KEYS)


@shared
def seeded_analysis(results: SeedResults) -> pd.DataFrame:
    frames = [r.analysis() for r in results.per_seed]
    return stacked([f for f in frames if len(f)], ["setting", "value", "seed"])


@shared
def of_setting(table: pd.DataFrame, setting: str) -> pd.DataFrame:
    """The rows of `table` that vary `setting`: one frame for every session drawing them."""
    return table[table["setting"] == setting]


def seeded_complete(results: SeedResults) -> bool:
    return results.complete and all(r.complete for r in results.per_seed)


def decided(points: pd.DataFrame) -> pd.DataFrame:
    """The rows a verdict may use: runs that finished, at the (value, seed) pairs where every run did, so
    that every comparison is paired within a seed. A stopped or still-training run says nothing."""
    done = points[points["finished"].astype(bool)]
    if done.empty:
        return done
    complete = done.groupby(["setting", "value", "seed"], sort=False)["run"].transform("count")
    return done[complete == points["run"].nunique()]


def value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float | np.number) else str(value)


def by_value(points: pd.DataFrame) -> pd.DataFrame:
    """One row per (value, run) over the decided seeds: final test accuracy and loss as mean, sd, min and max
    over the seeds where the run did not diverge; in how many seeds it diverged; and in how many of the
    seeds where every run has an accuracy it was ahead of the others (paired within each seed)."""
    rows = []
    for (setting, value), group in decided(points).groupby(["setting", "value"], sort=False):
        accuracy = group.pivot(index="seed", columns="run", values="test_accuracy")
        compared = accuracy.dropna()
        for run in dict.fromkeys(group["run"]):
            mine = group[group["run"] == run]
            others = compared.drop(columns=run)
            stats = {}
            for column in ("test_accuracy", "test_loss"):
                s = Spread.of(mine[column].tolist())
                stats |= {f"{column}_mean": s.mean, f"{column}_sd": s.sd, f"{column}_min": s.lo, f"{column}_max": s.hi}
            rows.append(
                {
                    "setting": setting,
                    "value": value,
                    "run": run,
                    "seeds": len(mine),
                    **stats,
                    "diverged_seeds": int(mine["diverged"].sum()),
                    "ahead_seeds": int((compared[run] > others.max(axis=1)).sum()) if len(others.columns) else 0,
                    "compared_seeds": len(compared),
                }
            )
    return pd.DataFrame(rows, columns=BY_VALUE_COLUMNS)


def for_csv(table: pd.DataFrame) -> pd.DataFrame:
    """A table as a download: the run named as the page names it ("no BN", not `plain`)."""
    return table.assign(run=table["run"].map(label)) if "run" in table else table
