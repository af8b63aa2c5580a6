"""The experiments of "teach it honestly": Ioffe & Szegedy's (2015) covariate-shift story next to
Santurkar et al.'s (2018) tests of it, each repeated over seeds with its runs paired within a seed (same
initial weights, same minibatches). Results are RunResults plus tidy DataFrames; the per-seed numbers here
are pure functions of those tables, so a page (research_text) quotes numbers measured in the run.

- Ioffe & Szegedy's Figure 1: BN and no BN on their MNIST network (`IOFFE`);
- noisy BN: BN, no BN and BN followed by noise redrawn every step (models.NoisyBatchNorm1d): if noisy
  BN trains about as well as BN while its layer inputs move more than no BN's, stable input
  distributions are not what makes BN work (Santurkar et al., section 2.1);
- ICS as a change of gradients (ics.measure_ics, three ways) and loss-landscape smoothness
  (landscape.probe_landscape), probed every few steps of paired BN / no-BN training.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from bn_demo.core.config import TrainConfig
from bn_demo.core.data import MNIST
from bn_demo.core.models import MLP
from bn_demo.core.results import RunResult, stacked
from bn_demo.core.seeds import SeededRun, seed_list
from bn_demo.core.train import PairedTraining, ProgressFn, Trainer, compare_configs
from bn_demo.experiments.ics import measure_ics
from bn_demo.experiments.landscape import probe_landscape
from bn_demo.experiments.landscape import ranges as landscape_ranges
from bn_demo.serving.jobs import Job, live_work, seeded_training_work
from bn_demo.serving.shared import shared
from bn_demo.views.verdicts import bounded_share

IOFFE = "ioffe"  # the experiments, by name: a job key and a page's dispatch say which one ran
NOISE, ICS, LANDSCAPE = "noise", "ics", "landscape"
PROBE_EXPERIMENTS = (ICS, LANDSCAPE)
NOISE_NORMS = ("bn", "plain", "noisy_bn")  # BN first, as on every page
PROBE_NORMS = ("bn", "plain")
PROBES: dict[str, Callable[[MLP, torch.Tensor, torch.Tensor, float], pd.DataFrame]] = {
    ICS: measure_ics,
    LANDSCAPE: probe_landscape,
}
DEFAULT_PROBES = 25  # probes per run when `every` is left to us
STABILITY_QUANTITIES = ("p15", "p50", "p85", "mean", "var")
PERCENTILES = ("p15", "p50", "p85")
STABILITY_COLUMNS = ["run", "layer", "quantity", "jitter", "drift"]
EARLY_FRACTION = 0.2  # "early in training": the first fifth of the recorded steps
SMOOTHING_FRACTION = 1 / 20  # running mean over a twentieth of the records, so jitter does not count as movement


# ---- jobs: settings -> (key, work, total) ------------------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """What a page submits: a hashable key (experiment name, configs, seeds), the job's work, its progress
    total (steps over all seeds), and steps x runs over all seeds for the server's budget."""

    key: tuple  # (experiment name, configs of the first seed, seeds[, probe interval])
    work: Callable[[Job], Any] = field(compare=False)
    total: int
    steps: int
    runs: int
    probe_every: int = 0  # steps between probes (0: not a probe experiment)

    @property
    def configs(self) -> tuple[TrainConfig, ...]:
        return self.key[1]

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.key[2]

    @property
    def trained(self) -> tuple[TrainConfig, ...]:
        """Every run over all seeds: what the server's budget costs."""
        return tuple(c.with_(seed=s) for s in self.seeds for c in self.configs)


def seeded_configs(configs: dict[str, TrainConfig], seed: int) -> dict[str, TrainConfig]:
    """The paired configs of one seed: identical but for the seed, so each seed is its own pairing."""
    return {name: c.with_(seed=seed) for name, c in configs.items()}


def training_request(name: str, configs: dict[str, TrainConfig], seeds: int, data: MNIST | None = None) -> JobRequest:
    """Paired training of `configs` over `seeds` seeds (their seed, +1, …): per_seed holds each seed's runs."""
    first = next(iter(configs.values()))
    chosen = seed_list(first.seed, seeds)
    work = seeded_training_work(configs, chosen, data)
    key = (name, tuple(configs.values()), chosen)
    return JobRequest(key, work, first.steps * len(chosen), first.steps, len(configs) * len(chosen))


def probed_request(probe: str, config: TrainConfig, seeds: int, every: int = 0, data=None) -> JobRequest:
    """BN and no BN paired, probed with `probe` (ICS or LANDSCAPE) every `every` steps, over `seeds` seeds."""
    configs = compare_configs(config, PROBE_NORMS)
    chosen = seed_list(config.seed, seeds)
    every = every or probe_every(config)

    def make(seed: int) -> ProbedTraining:
        return ProbedTraining(seeded_configs(configs, seed), probe, every, data)

    work = live_work(lambda: SeededRun(make, chosen))
    key = (probe, tuple(configs.values()), chosen, every)
    return JobRequest(key, work, config.steps * len(chosen), config.steps, len(configs) * len(chosen), every)


def noise_configs(config: TrainConfig) -> dict[str, TrainConfig]:
    """BN, no BN and noisy BN versions of `config`, to train paired."""
    return compare_configs(config, NOISE_NORMS)


def noise_experiment(config: TrainConfig, data: MNIST | None = None, **run_kwargs) -> dict[str, RunResult]:
    """BN, no BN and noisy BN trained paired (one seed); compare `stability` of their layer inputs and accuracy."""
    return PairedTraining(noise_configs(config), data).run(**run_kwargs)


# ---- probes during training --------------------------------------------------------------------------------


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


@shared
def seed_probes(probed: ProbedRuns) -> pd.DataFrame:
    """One seed's probes, each row naming its seed (one frame for every session drawing them)."""
    return probed.probes.assign(seed=next(iter(probed.runs.values())).config.seed)


def track(config: TrainConfig, probe: str, every: int = 0, norms=PROBE_NORMS, data=None, **run_kwargs) -> ProbedRuns:
    """Paired runs of `config` for `norms` with `probe` ("ics" or "landscape") every `every` steps
    (0: about DEFAULT_PROBES times), one seed."""
    return ProbedTraining(compare_configs(config, norms), probe, every or probe_every(config), data).run(**run_kwargs)


@shared
def landscape_bands(probes: pd.DataFrame) -> pd.DataFrame:
    """Landscape probes (run, step, multiplier, ...) -> run, step, quantity, min, max over the step sizes."""
    if probes.empty:
        return pd.DataFrame(columns=["run", "step", "quantity", "min", "max"])
    frames = [landscape_ranges(g).assign(run=run, step=step) for (run, step), g in probes.groupby(["run", "step"])]
    return pd.concat(frames, ignore_index=True)[["run", "step", "quantity", "min", "max"]]


# ---- per-seed numbers (pure functions of one seed's tables) -----------------------------------------------


@shared
def stability(runs: dict[str, RunResult], layer: int, quantities=STABILITY_QUANTITIES) -> pd.DataFrame:
    """How much the input of a layer's nonlinearity moves during a run, per run and quantity of the
    layers table: jitter, the mean absolute change between consecutive recorded steps (step-to-step
    instability, what noisy BN injects), and drift, the range of its running mean over a tenth of the
    records (slow movement, what Ioffe & Szegedy's Figure 1 shows)."""
    rows = []
    for name, run in runs.items():
        table = run.layers[run.layers["layer"] == layer] if len(run.layers) else run.layers
        for q in quantities:
            values = table[table["quantity"] == q].sort_values("step")["value"].to_numpy() if len(table) else []
            rows.append((name, layer, q, *_jitter_drift(np.asarray(values, dtype=float))))
    return pd.DataFrame(rows, columns=STABILITY_COLUMNS)


def _jitter_drift(values: np.ndarray) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    window = max(1, len(values) // 10)
    smooth = pd.Series(values).rolling(window).mean().dropna()
    return float(np.abs(np.diff(values)).mean()), float(smooth.max() - smooth.min())


def summed_movement(run: RunResult, layer: int, measure: str) -> float:
    """The tracked unit's 15th, 50th and 85th percentiles' `measure` ("jitter" or "drift") summed; NaN for a
    diverged run, whose last records are the blow-up, not training."""
    if run.diverged:
        return math.nan
    table = stability({run.name: run}, layer, PERCENTILES)
    return float(table[measure].sum(min_count=len(PERCENTILES)))


def _rows(run: RunResult, layer: int, quantities: Sequence[str]) -> pd.DataFrame:
    """The layers table's rows of one layer and some quantities (none for a run that recorded nothing)."""
    layers = run.layers
    if not len(layers):
        return layers
    return layers[(layers["layer"] == layer) & layers["quantity"].isin(quantities)]


@dataclass(frozen=True)
class EarlyShare:
    step: int  # the end of the early part
    share: float | None  # fraction (0-1) of the total movement done by then; None if there was none to time
    first: float  # the smoothed series at the start and at the end
    last: float


def movement_share(values: Sequence[float], fraction: float = EARLY_FRACTION) -> tuple[int, float | None]:
    """(cut, share): the index ending the first `fraction` of the series and the share of its total absolute
    movement (sum of |changes|) made up to it. Bounded in 0-1 for any series; None when there is no movement
    (constant, fewer than two finite values). NaN and infinite values are left out; the series is rescaled by
    its largest magnitude first, so huge values cannot overflow the sum (a share does not depend on scale)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return 0, None
    top = np.abs(v).max()
    steps = np.abs(np.diff(v / top)) if top > 0 else np.zeros(len(v) - 1)
    cut = max(1, round(fraction * (len(v) - 1)))
    return cut, bounded_share(float(steps[:cut].sum()), float(steps.sum()))


def early_share(run: RunResult, layer: int, quantity: str = "p50", fraction: float = EARLY_FRACTION) -> EarlyShare:
    """How early a quantity moved: the share of its total movement (of its running mean over a twentieth of the
    records, so that step-to-step jitter does not count) made in the first `fraction` of the records. An even
    pace gives `fraction`; a drift that happens early gives more, up to 100%."""
    table = _rows(run, layer, (quantity,))
    if len(table) < 2 or run.diverged:
        return EarlyShare(0, None, math.nan, math.nan)
    table = table.sort_values("step")
    steps, values = table["step"].to_numpy(), table["value"].to_numpy(float)
    window = max(1, round(len(values) * SMOOTHING_FRACTION))
    smooth = pd.Series(values).rolling(window, min_periods=1).mean().to_numpy()[window - 1 :]
    cut, share = movement_share(smooth, fraction)
    return EarlyShare(int(steps[window - 1 + cut]), share, float(smooth[0]), float(smooth[-1]))


def first_last_percentiles(run: RunResult, layer: int) -> dict[str, float] | None:
    """The tracked unit's median and 15-85th band width at the first and last record (None before any)."""
    rows = _rows(run, layer, PERCENTILES)
    if not len(rows):
        return None
    wide = rows.pivot(index="step", columns="quantity", values="value").sort_index()
    width = wide["p85"] - wide["p15"]
    return {
        "median_first": float(wide["p50"].iloc[0]),
        "median_last": float(wide["p50"].iloc[-1]),
        "width_first": float(width.iloc[0]),
        "width_last": float(width.iloc[-1]),
    }


def first_step_reaching(run: RunResult, accuracy: float) -> int | None:
    """First evaluation step (held-out images, eval mode) at which `run` reached `accuracy`."""
    evals = run.evals[(run.evals["mode"] == "eval") & (run.evals["accuracy"] >= accuracy)]
    return int(evals["step"].min()) if len(evals) else None


def final_accuracy(run: RunResult) -> float:
    """Test accuracy on the full test set at the end; NaN for a diverged or unfinished run."""
    return math.nan if run.diverged else float(run.test_accuracy)


def probe_medians(probes: pd.DataFrame, run: str, value: str) -> dict[int, float]:
    """Per layer, the median over probes of `value` for one run (ICS probes): layer -> median."""
    rows = probes[probes["run"] == run] if len(probes) else probes
    if not len(rows):
        return {}
    return {int(layer): float(v) for layer, v in rows.groupby("layer")[value].median().items()}


def landscape_summary(probes: pd.DataFrame, run: str) -> dict[str, float]:
    """One run's landscape in three numbers, medians over probes: the loss range over the step sizes
    (`loss_range`), the largest gradient change (`grad_change`) and the largest L, the gradient's change per
    distance moved (`smoothness`)."""
    bands = landscape_bands(probes[probes["run"] == run]) if len(probes) else landscape_bands(probes)
    if bands.empty:
        return {"loss_range": math.nan, "grad_change": math.nan, "smoothness": math.nan}
    width = bands.assign(width=bands["max"] - bands["min"]).groupby("quantity")
    return {
        "loss_range": float(width["width"].median()["loss"]),
        "grad_change": float(width["max"].median()["grad_change"]),
        "smoothness": float(width["max"].median()["smoothness"]),
    }
