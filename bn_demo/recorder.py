"""What a run records, kept in preallocated tensors so that recording costs a handful of tensor ops a
step: no Python loop over units and no `.item()` per value. Tables come out as tidy DataFrames.

Per recorded step and hidden layer, for the input of the nonlinearity (and, with BN, for BN's input):
mean and variance over the batch averaged over units, their spread (std) across units, and the 15th,
50th and 85th percentiles of one tracked unit (Ioffe & Szegedy, Figure 1). With BN also the running
mean/var and their gap to the batch's. Per Linear layer: gradient norm and update-to-weight ratio.
"""

from __future__ import annotations

import threading

import pandas as pd
import torch

PERCENTILES = torch.tensor([0.15, 0.50, 0.85])
DIST_QUANTITIES = ("mean", "var", "mean_spread", "var_spread", "p15", "p50", "p85")
BN_QUANTITIES = (
    *(f"bn_in_{q}" for q in DIST_QUANTITIES),
    "running_mean",
    "running_var",
    "running_mean_gap",
    "running_var_gap",
)
PARAM_QUANTITIES = ("grad_norm", "update_ratio")
SNAPSHOT_VALUES = 512  # sampled layer-input values kept per evaluation, for histograms over time


def distribution_stats(z: torch.Tensor, unit: int) -> torch.Tensor:
    """z: (B, U) -> (7,) = mean, var, std-across-units of the means and of the vars, p15, p50, p85."""
    var, mean = torch.var_mean(z, dim=0, correction=0)  # per unit, over the batch: (U,), (U,)
    spreads = torch.stack([mean.mean(), var.mean(), mean.std(correction=0), var.std(correction=0)])
    return torch.cat([spreads, torch.quantile(z[:, unit], PERCENTILES)])


def running_stats(norm: torch.nn.BatchNorm1d, bn_input: torch.Tensor) -> torch.Tensor:
    """(4,) = running mean and var averaged over units, and their mean absolute gap to the batch's."""
    var, mean = torch.var_mean(bn_input, dim=0, correction=1)  # BN's running var is unbiased
    rm, rv = norm.running_mean, norm.running_var
    return torch.stack([rm.mean(), rv.mean(), (rm - mean).abs().mean(), (rv - var).abs().mean()])


class Recorder:
    """Fixed-size buffers for `capacity` recorded steps, plus small lists for evaluations."""

    def __init__(self, n_hidden: int, uses_bn: bool, capacity: int, tracked_unit: int) -> None:
        self.n_hidden, self.uses_bn, self.tracked_unit = n_hidden, uses_bn, tracked_unit
        self.layer_quantities = DIST_QUANTITIES + (BN_QUANTITIES if uses_bn else ())
        self.steps = torch.zeros(capacity, dtype=torch.long)
        self.scalars = torch.zeros(capacity, 2)  # train loss, train accuracy
        self.layers = torch.zeros(capacity, n_hidden, len(self.layer_quantities))
        self.params = torch.zeros(capacity, n_hidden + 1, len(PARAM_QUANTITIES))
        self.count = 0
        self.evals: list[tuple[int, str, float, float]] = []  # step, mode, loss, accuracy
        self.snapshots: list[tuple[int, int, torch.Tensor]] = []  # step, layer, sampled values
        self.units: list[tuple[int, int, torch.Tensor, torch.Tensor]] = []  # step, layer, means, vars
        self.lock = threading.Lock()  # a UI thread may read while the training thread writes

    def record_step(self, step: int, loss, accuracy, layer_rows, param_rows) -> None:
        """layer_rows: (n_hidden, Q) tensor; param_rows: (n_hidden + 1, 2) tensor."""
        with self.lock:
            i = self.count
            self.steps[i] = step
            self.scalars[i, 0], self.scalars[i, 1] = loss, accuracy
            self.layers[i] = layer_rows
            self.params[i] = param_rows
            self.count = i + 1

    def record_eval(self, step: int, mode: str, loss: float, accuracy: float) -> None:
        with self.lock:
            self.evals.append((step, mode, loss, accuracy))

    def record_distribution(self, step: int, layer_inputs: list[torch.Tensor]) -> None:
        """Per layer: a fixed random sample of all input values, and every unit's mean and var."""
        g = torch.Generator().manual_seed(0)
        with self.lock:
            for layer, z in enumerate(layer_inputs, start=1):
                flat = z.flatten()
                pick = torch.randint(flat.numel(), (min(SNAPSHOT_VALUES, flat.numel()),), generator=g)
                self.snapshots.append((step, layer, flat[pick].clone()))
                var, mean = torch.var_mean(z, dim=0, correction=0)
                self.units.append((step, layer, mean, var))

    # ---- tables --------------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        with self.lock:
            n = self.count
            steps = self.steps[:n].numpy().copy()
            scalars = self.scalars[:n].numpy().copy()
            layers = self.layers[:n].numpy().copy()
            params = self.params[:n].numpy().copy()
            evals = list(self.evals)
            snapshots = list(self.snapshots)
            units = list(self.units)
        history = pd.DataFrame({"step": steps, "train_loss": scalars[:, 0], "train_accuracy": scalars[:, 1]})
        return {
            "history": history,
            "layers": _tidy(steps, layers, self.layer_quantities, first_layer=1),
            "params": _tidy(steps, params, PARAM_QUANTITIES, first_layer=1),
            "evals": pd.DataFrame(evals, columns=["step", "mode", "loss", "accuracy"]),
            "snapshots": _snapshot_frame(snapshots),
            "units": _unit_frame(units),
        }


def _tidy(steps, values, quantities, first_layer: int) -> pd.DataFrame:
    """(n, layers, Q) array -> rows of step, layer, quantity, value."""
    n, n_layers, n_q = values.shape
    return pd.DataFrame(
        {
            "step": steps.repeat(n_layers * n_q),
            "layer": torch.arange(first_layer, first_layer + n_layers).repeat_interleave(n_q).repeat(n).numpy(),
            "quantity": list(quantities) * (n * n_layers),
            "value": values.reshape(-1),
        }
    )


def _snapshot_frame(snapshots) -> pd.DataFrame:
    rows = [(s, layer, v) for s, layer, values in snapshots for v in values.tolist()]
    return pd.DataFrame(rows, columns=["step", "layer", "value"])


def _unit_frame(units) -> pd.DataFrame:
    frames = [
        pd.DataFrame({"step": s, "layer": layer, "unit": range(len(m)), "mean": m.numpy(), "var": v.numpy()})
        for s, layer, m, v in units
    ]
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["step", "layer", "unit", "mean", "var"])
    )
