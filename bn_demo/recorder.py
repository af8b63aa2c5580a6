"""What a run records. Recording must cost little next to a training step, so a recorded step only
copies a few raw tensors into preallocated buffers — per-unit batch means and variances, the tracked
unit's values in the batch, gradient and weight norms — with no Python loop over units
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


def layer_floats(width: int, uses_bn: bool, batch_size: int) -> int:
    """Floats one hidden layer adds to a recorded step (see LayerBuffer)."""
    block = 2 * width + batch_size
    return 2 * block + 2 * width if uses_bn else block


class LayerBuffer:
    """One hidden layer's columns [start, start + size) of the recorder's rows: means (U), vars (U)
    and the tracked unit's B values, repeated for BN's input (with BN's own inverse standard deviation
    1/sqrt(var + eps) in place of vars), then BN's running mean (U) and var (U). Storing the tracked
    unit's raw values costs one copy; numpy's percentile reads them later."""

    def __init__(self, width: int, uses_bn: bool, batch_size: int, start: int, bn_eps: float) -> None:
        self.width, self.uses_bn, self.start, self.bn_eps = width, uses_bn, start, bn_eps
        self.block = 2 * width + batch_size
        self.size = layer_floats(width, uses_bn, batch_size)

    def columns(self, rows: np.ndarray) -> np.ndarray:
        return rows[:, self.start : self.start + self.size]

    def quantities(self, rows: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
        """(n, row) raw records of every layer -> quantity name -> (n,) values of this layer."""
        mine = self.columns(rows)
        out = _distribution(mine[:, : self.block], self.width)
        if self.uses_bn:
            u = self.width
            mine = mine.copy()
            mine[:, self.block + u : self.block + 2 * u] = (
                mine[:, self.block + u : self.block + 2 * u] ** -2.0 - self.bn_eps
            )
            bn = _distribution(mine[:, self.block : 2 * self.block], self.width)
            out |= {f"bn_in_{k}": v for k, v in bn.items()}
            batch_mean, batch_var = mine[:, self.block : self.block + u], mine[:, self.block + u : self.block + 2 * u]
            running_mean, running_var = mine[:, 2 * self.block : 2 * self.block + u], mine[:, 2 * self.block + u :]
            unbiased = batch_var * batch_size / max(batch_size - 1, 1)  # what BN's running var averages
            out |= {
                "running_mean": running_mean.mean(1),
                "running_var": running_var.mean(1),
                "running_mean_gap": np.abs(running_mean - batch_mean).mean(1),
                "running_var_gap": np.abs(running_var - unbiased).mean(1),
            }
        return out


def _distribution(block: np.ndarray, width: int) -> dict[str, np.ndarray]:
    means, variances, tracked = block[:, :width], block[:, width : 2 * width], block[:, 2 * width :]
    percentiles = np.percentile(tracked, [100 * q for q in PERCENTILES], axis=1) if len(block) else np.zeros((3, 0))
    return {
        "mean": means.mean(1),
        "var": variances.mean(1),
        "mean_spread": means.std(1),
        "var_spread": variances.std(1),
        **{f"p{round(q * 100)}": percentiles[j] for j, q in enumerate(PERCENTILES)},
    }


class Recorder:
    """Fixed-size buffers for `capacity` recorded steps, plus small lists for evaluations."""

    def __init__(
        self, widths: tuple[int, ...], uses_bn: bool, capacity: int, batch_size: int, lr: float, bn_eps: float = 1e-5
    ) -> None:
        self.uses_bn, self.batch_size, self.lr = uses_bn, batch_size, lr
        self.layer_quantities = DIST_QUANTITIES + (BN_QUANTITIES if uses_bn else ())
        starts = np.cumsum([0, *(layer_floats(w, uses_bn, batch_size) for w in widths)])
        self.buffers = [
            LayerBuffer(w, uses_bn, batch_size, int(s), bn_eps) for w, s in zip(widths, starts[:-1], strict=True)
        ]
        self.rows = torch.zeros(capacity, int(starts[-1]))  # one row of every layer's raw records per step
        n_linear = len(widths) + 1
        self.steps = torch.zeros(capacity, dtype=torch.long)
        self.scalars = torch.zeros(capacity, 2 + 2 * n_linear)  # loss, correct, squared grad and weight norms
        self.step_array = self.steps.numpy()  # the same memory: a numpy write costs no tensor op
        self.count = 0
        self.evals: list[tuple[int, str, float, float]] = []  # step, mode, loss, accuracy
        self.snapshots: list[tuple[int, int, torch.Tensor]] = []  # step, layer, sampled values
        self.lock = threading.Lock()  # a UI thread may read while the training thread writes

    def record_step(self, step: int, scalars: list[torch.Tensor], layer_parts: list[torch.Tensor]) -> None:
        """scalars: loss, number correct, squared grad norms, squared weight norms (0-d); layer_parts: the
        1-d tensors of every hidden layer in turn, in LayerBuffer's column order. Two copies in all."""
        with self.lock:
            i = self.count
            self.step_array[i] = step
            torch.stack(scalars, out=self.scalars[i])
            torch.cat(layer_parts, out=self.rows[i])
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
            rows = self.rows[:n].numpy().copy()
            evals = list(self.evals)
            snapshots = list(self.snapshots)
        n_linear = len(self.buffers) + 1
        grad_norms, weight_norms = np.sqrt(scalars[:, 2 : 2 + n_linear]), np.sqrt(scalars[:, 2 + n_linear :])
        history = self._history(steps, scalars)
        per_layer = [b.quantities(rows, self.batch_size) for b in self.buffers]
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

    def history(self) -> pd.DataFrame:
        """The training-loss history alone: cheap enough to read every second beside training."""
        with self.lock:
            n = self.count
            steps, scalars = self.steps[:n].numpy().copy(), self.scalars[:n, :2].numpy().copy()
        return self._history(steps, scalars)

    def _history(self, steps: np.ndarray, scalars: np.ndarray) -> pd.DataFrame:
        """Loss and accuracy of each recorded batch (the recorder keeps the number correct)."""
        return pd.DataFrame(
            {"step": steps, "train_loss": scalars[:, 0], "train_accuracy": scalars[:, 1] / self.batch_size}
        )

    def _unit_frame(self, steps: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
        """Every unit's batch mean and variance at up to UNIT_TABLE_STEPS evenly spaced records."""
        keep = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), UNIT_TABLE_STEPS)).round().astype(int))
        frames = []
        for layer, buffer in enumerate(self.buffers, start=1):
            u, r = buffer.width, buffer.columns(rows)
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
