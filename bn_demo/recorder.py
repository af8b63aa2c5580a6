"""What a run records. Recording must cost little next to a training step, so a recorded step only
copies a few raw tensors into preallocated buffers — per-unit batch means and variances, a handful
of order statistics of the tracked unit, gradient and weight norms — with no Python loop over units
and no `.item()`. Everything a chart shows (averages and spreads across units, percentiles, running
statistics' gaps, update ratios) is derived from those buffers with numpy when a table is asked for.

Per recorded step and hidden layer, for the input of the nonlinearity (and, with BN, for BN's input):
mean and variance over the batch averaged over units, their spread (std) across units, and the 15th,
50th and 85th percentiles of one tracked unit (Ioffe & Szegedy, Figure 1). With BN also the running
mean/var and their gap to the batch's. Per Linear layer: gradient norm and update-to-weight ratio.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import torch

PERCENTILES = (0.15, 0.50, 0.85)
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
UNIT_TABLE_STEPS = 50  # recorded steps kept in the per-unit table


def order_statistic_positions(batch_size: int) -> tuple[torch.Tensor, np.ndarray]:
    """Indices into a sorted batch column (lower and upper neighbour of each percentile) and the
    interpolation weights: numpy's default 'linear' percentile, done in two steps."""
    position = np.array(PERCENTILES) * (batch_size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, batch_size - 1)
    return torch.from_numpy(np.concatenate([low, high])), position - low


class LayerBuffer:
    """One hidden layer's raw records; a row is [means (U), vars (U), order stats (6)], repeated for
    BN's input, then BN's running mean (U) and running var (U)."""

    def __init__(self, width: int, uses_bn: bool, capacity: int) -> None:
        self.width, self.uses_bn = width, uses_bn
        self.block = 2 * width + 2 * len(PERCENTILES)
        self.rows = torch.zeros(capacity, self.block * (2 if uses_bn else 1) + (2 * width if uses_bn else 0))

    def write(self, i: int, parts: list[torch.Tensor]) -> None:
        torch.cat(parts, out=self.rows[i])

    def quantities(self, rows: np.ndarray, weights: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
        """(n, row) raw records -> quantity name -> (n,) values."""
        out = _distribution(rows[:, : self.block], self.width, weights)
        if self.uses_bn:
            bn = _distribution(rows[:, self.block : 2 * self.block], self.width, weights)
            out |= {f"bn_in_{k}": v for k, v in bn.items()}
            u = self.width
            batch_mean, batch_var = rows[:, self.block : self.block + u], rows[:, self.block + u : self.block + 2 * u]
            running_mean, running_var = rows[:, 2 * self.block : 2 * self.block + u], rows[:, 2 * self.block + u :]
            unbiased = batch_var * batch_size / max(batch_size - 1, 1)  # what BN's running var averages
            out |= {
                "running_mean": running_mean.mean(1),
                "running_var": running_var.mean(1),
                "running_mean_gap": np.abs(running_mean - batch_mean).mean(1),
                "running_var_gap": np.abs(running_var - unbiased).mean(1),
            }
        return out


def _distribution(block: np.ndarray, width: int, weights: np.ndarray) -> dict[str, np.ndarray]:
    means, variances, order = block[:, :width], block[:, width : 2 * width], block[:, 2 * width :]
    k = len(PERCENTILES)
    percentiles = order[:, :k] + (order[:, k:] - order[:, :k]) * weights
    return {
        "mean": means.mean(1),
        "var": variances.mean(1),
        "mean_spread": means.std(1),
        "var_spread": variances.std(1),
        **{f"p{round(q * 100)}": percentiles[:, j] for j, q in enumerate(PERCENTILES)},
    }


class Recorder:
    """Fixed-size buffers for `capacity` recorded steps, plus small lists for evaluations."""

    def __init__(self, widths: tuple[int, ...], uses_bn: bool, capacity: int, batch_size: int, lr: float) -> None:
        self.uses_bn, self.batch_size, self.lr = uses_bn, batch_size, lr
        self.layer_quantities = DIST_QUANTITIES + (BN_QUANTITIES if uses_bn else ())
        self.order_index, self.order_weights = order_statistic_positions(batch_size)
        self.buffers = [LayerBuffer(w, uses_bn, capacity) for w in widths]
        n_linear = len(widths) + 1
        self.steps = torch.zeros(capacity, dtype=torch.long)
        self.scalars = torch.zeros(capacity, 2 + 2 * n_linear)  # loss, correct, grad norms, weight norms
        self.count = 0
        self.evals: list[tuple[int, str, float, float]] = []  # step, mode, loss, accuracy
        self.snapshots: list[tuple[int, int, torch.Tensor]] = []  # step, layer, sampled values
        self.lock = threading.Lock()  # a UI thread may read while the training thread writes

    def order_stats(self, column: torch.Tensor) -> torch.Tensor:
        """(B,) -> the 6 sorted values that bracket the 15th, 50th and 85th percentiles."""
        return column.sort().values.index_select(0, self.order_index)

    def record_step(self, step: int, scalars: list[torch.Tensor], layer_parts: list[list[torch.Tensor]]) -> None:
        """scalars: loss, number correct, grad norms, weight norms (0-d tensors); layer_parts: one
        list of 1-d tensors per hidden layer, in LayerBuffer's row order."""
        with self.lock:
            i = self.count
            self.steps[i] = step
            torch.stack(scalars, out=self.scalars[i])
            for buffer, parts in zip(self.buffers, layer_parts, strict=True):
                buffer.write(i, parts)
            self.count = i + 1

    def record_eval(self, step: int, mode: str, loss: float, accuracy: float) -> None:
        with self.lock:
            self.evals.append((step, mode, loss, accuracy))

    def record_snapshot(self, step: int, layer_inputs: list[torch.Tensor]) -> None:
        """Per layer, a fixed random sample of all input values, for histograms over time."""
        g = torch.Generator().manual_seed(0)
        with self.lock:
            for layer, z in enumerate(layer_inputs, start=1):
                flat = z.flatten()
                pick = torch.randint(flat.numel(), (min(SNAPSHOT_VALUES, flat.numel()),), generator=g)
                self.snapshots.append((step, layer, flat[pick].clone()))

    # ---- tables --------------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        with self.lock:
            n = self.count
            steps = self.steps[:n].numpy().copy()
            scalars = self.scalars[:n].numpy().copy()
            rows = [b.rows[:n].numpy().copy() for b in self.buffers]
            evals = list(self.evals)
            snapshots = list(self.snapshots)
        n_linear = len(self.buffers) + 1
        grad_norms, weight_norms = scalars[:, 2 : 2 + n_linear], scalars[:, 2 + n_linear :]
        history = pd.DataFrame(
            {"step": steps, "train_loss": scalars[:, 0], "train_accuracy": scalars[:, 1] / self.batch_size}
        )
        per_layer = [
            b.quantities(r, self.order_weights, self.batch_size) for b, r in zip(self.buffers, rows, strict=True)
        ]
        params = [
            {"grad_norm": grad_norms[:, j], "update_ratio": self.lr * grad_norms[:, j] / weight_norms[:, j]}
            for j in range(n_linear)
        ]  # plain SGD: the update is lr * grad
        return {
            "history": history,
            "layers": _tidy(steps, per_layer),
            "params": _tidy(steps, params),
            "evals": pd.DataFrame(evals, columns=["step", "mode", "loss", "accuracy"]),
            "snapshots": _snapshot_frame(snapshots),
            "units": self._unit_frame(steps, rows),
        }

    def _unit_frame(self, steps: np.ndarray, rows: list[np.ndarray]) -> pd.DataFrame:
        """Every unit's batch mean and variance at up to UNIT_TABLE_STEPS evenly spaced records."""
        keep = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), UNIT_TABLE_STEPS)).round().astype(int))
        frames = []
        for layer, (buffer, r) in enumerate(zip(self.buffers, rows, strict=True), start=1):
            u = buffer.width
            means, variances = r[keep, :u], r[keep, u : 2 * u]
            frames.append(
                pd.DataFrame(
                    {
                        "step": np.repeat(steps[keep], u),
                        "layer": layer,
                        "unit": np.tile(np.arange(u), len(keep)),
                        "mean": means.reshape(-1),
                        "var": variances.reshape(-1),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)


def _tidy(steps: np.ndarray, per_layer: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """Per layer {quantity: (n,) values} -> rows of step, layer (1-based), quantity, value."""
    frames = [
        pd.DataFrame({"step": steps, "layer": layer, "quantity": name, "value": values})
        for layer, quantities in enumerate(per_layer, start=1)
        for name, values in quantities.items()
    ]
    if not frames:
        return pd.DataFrame(columns=["step", "layer", "quantity", "value"])
    return pd.concat(frames, ignore_index=True).sort_values(["step", "layer"], kind="stable", ignore_index=True)


def _snapshot_frame(snapshots) -> pd.DataFrame:
    if not snapshots:
        return pd.DataFrame(columns=["step", "layer", "value"])
    return pd.DataFrame(
        {
            "step": np.concatenate([np.full(len(v), s) for s, _, v in snapshots]),
            "layer": np.concatenate([np.full(len(v), layer) for _, layer, v in snapshots]),
            "value": np.concatenate([v.numpy() for _, _, v in snapshots]),
        }
    )
