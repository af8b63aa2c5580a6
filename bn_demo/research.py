"""The experiments of "teach it honestly": Ioffe & Szegedy's (2015) covariate-shift story next to
Santurkar et al.'s (2018) tests of it. Each experiment trains paired runs (same seed, weights, batches)
and returns RunResults plus tidy DataFrames; the summaries here are pure functions of those tables, so
a page quotes numbers measured in the run.

- noisy BN: plain, BN and BN followed by noise redrawn every step (models.NoisyBatchNorm1d): if noisy
  BN trains about as well as BN while its layer inputs move as much as plain's, stable input
  distributions are not what makes BN work (Santurkar et al., section 2.1);
- ICS as a change of gradients (ics.measure_ics) and loss-landscape smoothness
  (landscape.probe_landscape), probed every few steps of paired BN / no-BN training.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from bn_demo.config import TrainConfig
from bn_demo.data import MNIST
from bn_demo.ics import measure_ics
from bn_demo.jobs import Job, live_work
from bn_demo.landscape import probe_landscape
from bn_demo.landscape import ranges as landscape_ranges
from bn_demo.models import MLP
from bn_demo.results import RunResult
from bn_demo.tables import stacked
from bn_demo.train import PairedTraining, ProgressFn, Trainer, compare_configs

NOISE_NORMS = ("bn", "plain", "noisy_bn")  # BN first, as on every page
PROBE_NORMS = ("bn", "plain")
PROBES: dict[str, Callable[[MLP, torch.Tensor, torch.Tensor, float], pd.DataFrame]] = {
    "ics": measure_ics,
    "landscape": probe_landscape,
}
DEFAULT_PROBES = 25  # probes per run when `every` is left to us
STABILITY_QUANTITIES = ("p15", "p50", "p85", "mean", "var")
STABILITY_COLUMNS = ["run", "layer", "quantity", "jitter", "drift"]
EARLY_FRACTION = 0.2  # "early in training": the first fifth of the recorded steps


@dataclass(frozen=True)
class EarlyShare:
    step: int  # the end of the early part
    share: float  # fraction of the net change (last - first) done by then; NaN if there was none
    first: float
    last: float


def noise_configs(config: TrainConfig) -> dict[str, TrainConfig]:
    """Plain, BN and noisy BN versions of `config`, to train paired (jobs.training_work takes them)."""
    return compare_configs(config, NOISE_NORMS)


def noise_experiment(config: TrainConfig, data: MNIST | None = None, **run_kwargs) -> dict[str, RunResult]:
    """Plain, BN and noisy BN trained paired; compare `stability` of their layer inputs and their accuracy."""
    return PairedTraining(noise_configs(config), data).run(**run_kwargs)


def probe_every(config: TrainConfig, probes: int = DEFAULT_PROBES) -> int:
    """Steps between probes so that a run is probed about `probes` times."""
    return max(1, config.steps // probes)


@dataclass
class ProbedRuns:
    runs: dict[str, RunResult]
    probes: pd.DataFrame  # run, step, then the probe's columns
    stopped: bool = False


@dataclass
class ProbedTraining:
    """Paired training that runs `probe` on every active model, on the step's batch and before the
    step, every `every` steps (and at the last step). Probes leave the models unchanged."""

    configs: dict[str, TrainConfig]
    probe: str  # a key of PROBES
    every: int
    data: MNIST | None = None
    rows: list[pd.DataFrame] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.training = PairedTraining(self.configs, self.data)
        self.last_step = self.training.config.steps - 1

    def _on_step(self, step: int, x: torch.Tensor, y: torch.Tensor, trainers: dict[str, Trainer]) -> None:
        if step % self.every and step != self.last_step:
            return
        measure = PROBES[self.probe]
        frames = [measure(t.model, x, y, t.config.lr).assign(run=name, step=step) for name, t in trainers.items()]
        with self.lock:
            self.rows.extend(frames)

    def table(self) -> pd.DataFrame:
        with self.lock:
            frames = list(self.rows)
        return stacked(frames, ["run", "step"])

    def run(self, progress: ProgressFn | None = None, stop: threading.Event | None = None) -> ProbedRuns:
        runs = self.training.run(progress=progress, stop=stop, on_step=self._on_step)
        return ProbedRuns(runs, self.table(), self.training.stopped)

    def partial(self) -> ProbedRuns:
        return ProbedRuns(self.training.partial(), self.table())


def track(config: TrainConfig, probe: str, every: int = 0, norms=PROBE_NORMS, data=None, **run_kwargs) -> ProbedRuns:
    """Paired runs of `config` for `norms` with `probe` ("ics" or "landscape") every `every` steps
    (0: about DEFAULT_PROBES times)."""
    return ProbedTraining(compare_configs(config, norms), probe, every or probe_every(config), data).run(**run_kwargs)


def probed_work(config: TrainConfig, probe: str, every: int = 0, norms=PROBE_NORMS, data=None) -> Callable[[Job], Any]:
    """A job's work (JobRegistry.submit, total = config.steps) for `track`, with live partial results."""
    return live_work(lambda: ProbedTraining(compare_configs(config, norms), probe, every or probe_every(config), data))


def landscape_bands(probes: pd.DataFrame) -> pd.DataFrame:
    """Landscape probes (run, step, multiplier, ...) -> run, step, quantity, min, max over the step sizes."""
    if probes.empty:
        return pd.DataFrame(columns=["run", "step", "quantity", "min", "max"])
    frames = [landscape_ranges(g).assign(run=run, step=step) for (run, step), g in probes.groupby(["run", "step"])]
    return pd.concat(frames, ignore_index=True)[["run", "step", "quantity", "min", "max"]]


def probe_summary(table: pd.DataFrame, value: str, by: tuple[str, ...] = ("run",)) -> pd.DataFrame:
    """Median and maximum of `value` per group (e.g. per run and layer), for sentences on a page."""
    return table.groupby(list(by))[value].agg(["median", "max"]).reset_index()


def stability(runs: dict[str, RunResult], layer: int, quantities=STABILITY_QUANTITIES) -> pd.DataFrame:
    """How much the input of a layer's nonlinearity moves during a run, per run and quantity of the
    layers table: jitter, the mean absolute change between consecutive recorded steps (step-to-step
    instability, what noisy BN injects), and drift, the range of its running mean over a tenth of the
    records (slow movement, what Ioffe & Szegedy's Figure 1 shows)."""
    rows = []
    for name, run in runs.items():
        table = run.layers[run.layers["layer"] == layer]
        for q in quantities:
            values = table[table["quantity"] == q].sort_values("step")["value"].to_numpy()
            rows.append((name, layer, q, *_jitter_drift(values)))
    return pd.DataFrame(rows, columns=STABILITY_COLUMNS)


def _jitter_drift(values: np.ndarray) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    window = max(1, len(values) // 10)
    smooth = pd.Series(values).rolling(window).mean().dropna()
    return float(np.abs(np.diff(values)).mean()), float(smooth.max() - smooth.min())


def early_share(run: RunResult, layer: int, quantity: str = "p50", fraction: float = EARLY_FRACTION) -> EarlyShare:
    """How much of a quantity's net change over the run (of its running mean over a twentieth of the records,
    first to last) had happened by the end of the first `fraction` of the records: is the drift early?"""
    table = run.layers[(run.layers["layer"] == layer) & (run.layers["quantity"] == quantity)].sort_values("step")
    steps, values = table["step"].to_numpy(), table["value"].to_numpy(float)
    if len(values) < 2:
        return EarlyShare(int(steps[-1]) if len(steps) else 0, float("nan"), float("nan"), float("nan"))
    window = max(1, len(values) // 20)
    smooth = pd.Series(values).rolling(window, min_periods=1).mean().to_numpy()
    cut = max(window - 1, round(fraction * (len(values) - 1)))
    first, last = smooth[window - 1], smooth[-1]
    share = (smooth[cut] - first) / (last - first) if last != first else float("nan")
    return EarlyShare(int(steps[cut]), float(share), float(first), float(last))


def first_step_reaching(run: RunResult, accuracy: float) -> int | None:
    """First evaluation step (held-out images, eval mode) at which `run` reached `accuracy`."""
    evals = run.evals[(run.evals["mode"] == "eval") & (run.evals["accuracy"] >= accuracy)]
    return int(evals["step"].min()) if len(evals) else None


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def race_text(bn: dict[float, int | None], plain: dict[float, int | None], steps: int) -> str:
    """Who first reached each accuracy target (first_step_reaching of BN and no BN, by target), in words:
    "BN reached 90% and 95% first; neither run reached 97% within 1,000 steps."."""
    groups: dict[str, list[str]] = {}
    for target in bn:
        b, p = bn[target], plain[target]
        if b is None and p is None:
            who = f"neither run reached {{}} within {steps:,} steps"
        elif p is None or (b is not None and b < p):
            who = "BN reached {} first"
        elif b is None or p < b:
            who = "no BN reached {} first"
        else:
            who = "both reached {} at the same evaluation"
        groups.setdefault(who, []).append(f"{target:.0%}")
    text = "; ".join(who.format(_and(targets)) for who, targets in groups.items())
    return text[:1].upper() + text[1:] + "."
