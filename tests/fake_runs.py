"""Hand-made results for the verdict tests: RunResults and probe tables with exactly the numbers a test
states, so a sentence can be checked on both sides of each threshold without training anything."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bn_demo.core.config import IOFFE_2015, TrainConfig
from bn_demo.experiments.research import ProbedRuns

LAYER = 3


def run(
    name: str,
    *,
    accuracy: float = 0.95,
    seed: int = 0,
    steps: int = 1000,
    percentiles: dict[str, np.ndarray] | None = None,
    evals: list[tuple[int, float]] = (),
    diverged_at: int | None = None,
    stopped: bool = False,
    records: int = 100,
):
    """A finished run of Ioffe & Szegedy's net: its final test accuracy, held-out evaluations (step, accuracy),
    the tracked unit's percentiles in layer 3 (flat at 0 unless given) and `records` recorded steps."""
    from bn_demo.core.results import RunResult

    config: TrainConfig = IOFFE_2015.with_(norm=name, seed=seed, steps=steps)
    step = np.linspace(0, steps - 1, min(records, steps)).round().astype(int)
    percentiles = percentiles or {q: np.zeros(len(step)) for q in ("p15", "p50", "p85")}
    layers = pd.concat(
        [pd.DataFrame({"step": step, "layer": LAYER, "quantity": q, "value": v}) for q, v in percentiles.items()],
        ignore_index=True,
    )
    ev = pd.DataFrame([(s, "eval", 1.0, a) for s, a in evals], columns=["step", "mode", "loss", "accuracy"])
    history = pd.DataFrame({"step": step, "train_loss": 1.0, "train_accuracy": 0.5})
    return RunResult(
        name,
        config,
        steps if diverged_at is None else diverged_at,
        1.0,
        diverged=diverged_at is not None,
        diverged_at=diverged_at,
        stopped=stopped,
        test_accuracy=float("nan") if diverged_at is not None else accuracy,
        tables={"layers": layers, "evals": ev, "history": history},
    )


def seeds(values: dict[str, list[float]], **kwargs) -> list[dict]:
    """One dict of runs per seed: `values` maps a net to its final accuracy in each seed."""
    n = len(next(iter(values.values())))
    return [{name: run(name, accuracy=acc[i], seed=i, **kwargs) for name, acc in values.items()} for i in range(n)]


def ics_probes(values: dict[tuple[str, str], float], layers=(1, 2, 3, 4), probes: int = 5) -> pd.DataFrame:
    """An ICS probe table whose every probe of run r has value values[(r, measure)] (layer 1: no shift)."""
    rows = []
    for run_name in ("bn", "plain"):
        for step in range(probes):
            for layer in layers:
                first = layer == 1
                rows.append(
                    {
                        "run": run_name,
                        "step": step * 10,
                        "layer": layer,
                        "l2": 0.0 if first else values[(run_name, "l2")],
                        "relative": 0.0 if first else values[(run_name, "relative")],
                        "cosine": 1.0 if first else values[(run_name, "cosine")],
                        "grad_norm": values[(run_name, "grad_norm")],
                    }
                )
    return pd.DataFrame(rows)


def landscape_probes(values: dict[tuple[str, str], tuple[float, float]], probes: int = 5) -> pd.DataFrame:
    """A landscape probe table whose loss spans values[(r, 'loss')] = (lo, hi) over the step sizes at every
    probe, and whose smoothness and gradient change span values[(r, 'smoothness')], values[(r, 'grad_change')]."""
    rows = []
    for run_name in ("bn", "plain"):
        for step in range(probes):
            for i, m in enumerate((0.5, 1.0)):
                rows.append(
                    {
                        "run": run_name,
                        "step": step * 10,
                        "multiplier": m,
                        "step_size": m,
                        **{q: values[(run_name, q)][i] for q in ("loss", "grad_change", "smoothness")},
                    }
                )
    return pd.DataFrame(rows)


def probed(probe_table: pd.DataFrame, *, diverged: str | None = None, seed: int = 0, plain: float = 0.95) -> ProbedRuns:
    """Probed BN and no BN runs of one seed (no BN's final accuracy `plain`), the probes as given."""
    accuracy = {"bn": 0.95, "plain": plain}
    runs = {
        name: run(name, seed=seed, accuracy=accuracy[name], diverged_at=5 if name == diverged else None)
        for name in ("bn", "plain")
    }
    return ProbedRuns(runs, probe_table)
