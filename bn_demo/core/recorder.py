"""What a run records. Recording must cost little next to a training step, so a recorded step only
copies a few raw tensors into preallocated buffers — per-unit batch means and variances, the tracked
unit's values in the batch, gradient and weight norms — with no Python loop over units
and no `.item()`. Everything a chart shows (averages and spreads across units, percentiles, running
statistics' gaps, update ratios) is derived from those buffers with numpy when a table is asked for.

A recorded row is declared once, as named fields and their widths (LAYER_FIELDS, BN_FIELDS,
SCALAR_FIELDS): the trainer hands over its tensors by name, the recorder lays them end to end in the
declared order, and the tables read them back by name. Adding a measurement is one more Field, one
more entry where it is measured, and one more line where it is read.

Per recorded step and hidden layer, for the input of the nonlinearity (and, with BN, for BN's input):
mean and variance over the batch averaged over units, their spread (std) across units, and the 15th,
50th and 85th percentiles of one tracked unit (Ioffe & Szegedy, Figure 1). With BN also the running
mean/var and their gap to the batch's. Per Linear layer: gradient norm and update-to-weight ratio.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

PERCENTILES = (0.15, 0.50, 0.85)
SNAPSHOT_VALUES = 512  # sampled layer-input values kept per evaluation, for histograms over time
UNIT_TABLE_STEPS = 50  # recorded steps kept in the per-unit table


@dataclass(frozen=True)
class Field:
    """One named part of a recorded row. `per` names the count that gives its width: "unit" (the
    layer's width), "example" (the batch size), "linear" (Linear layers) or "one"."""

    name: str
    per: str


LAYER_FIELDS = (  # every hidden layer: the input of its nonlinearity
    Field("act_mean", "unit"),  # batch mean of each unit
    Field("act_var", "unit"),  # biased batch variance of each unit
    Field("act_tracked", "example"),  # the tracked unit's values in the batch (its percentiles)
)
BN_FIELDS = (  # with BN also BN's input, from BN's own batch statistics, and its running statistics
    Field("bn_in_mean", "unit"),
    Field("bn_in_invstd", "unit"),  # 1 / sqrt(biased batch variance + eps), as BN computed it
    Field("bn_in_tracked", "example"),
    Field("running_mean", "unit"),  # after this step's update
    Field("running_var", "unit"),
)
SCALAR_FIELDS = (  # per step, 0-d tensors
    Field("loss", "one"),
    Field("correct", "one"),  # examples of the batch classified correctly
    Field("grad_sq", "linear"),  # squared norm of each Linear weight's gradient
    Field("weight_sq", "linear"),  # squared norm of each Linear weight, before the update
)


def layer_fields(uses_bn: bool) -> tuple[Field, ...]:
    return LAYER_FIELDS + (BN_FIELDS if uses_bn else ())


@dataclass(frozen=True)
class Layout:
    """Where each field lies in a row: field name -> columns [start, stop)."""

    names: tuple[str, ...]  # the fields' names, in order
    slices: dict[str, slice]
    start: int
    stop: int

    @classmethod
    def of(cls, fields: Sequence[Field], *, start: int = 0, **counts: int) -> Layout:
        """Fields end to end from column `start`; `counts` gives the width of each kind of `per`."""
        slices, at = {}, start
        for f in fields:
            slices[f.name] = slice(at, at + counts[f.per])
            at += counts[f.per]
        if len(slices) != len(fields):
            raise ValueError(f"field names must be unique: {[f.name for f in fields]}")
        return cls(tuple(slices), slices, start, at)

    @property
    def size(self) -> int:
        return self.stop - self.start

    def check(self, parts: Mapping[str, torch.Tensor | Sequence[torch.Tensor]]) -> None:
        """Same names as declared, each of the declared width: a wrong part fails loudly, not silently."""
        if set(parts) != set(self.slices):
            raise ValueError(f"recorded parts {sorted(parts)} differ from the layout's {sorted(self.slices)}")
        for name, part in parts.items():
            width = self.slices[name].stop - self.slices[name].start
            if len(part) != width or getattr(part, "ndim", 1) != 1:
                raise ValueError(f"recorded part {name!r} has shape {tuple(np.shape(part))}, declared ({width},)")

    def read(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """(n, row) records -> field name -> (n, width) columns (views)."""
        return {name: rows[:, s] for name, s in self.slices.items()}


def layer_floats(width: int, uses_bn: bool, batch_size: int) -> int:
    """Floats one hidden layer adds to a recorded step."""
    return Layout.of(layer_fields(uses_bn), unit=width, example=batch_size).size


def layer_quantities(raw: Mapping[str, np.ndarray], *, batch_size: int, bn_eps: float) -> dict[str, np.ndarray]:
    """One layer's recorded fields (n, width) -> quantity name -> (n,) values for the layers table."""
    out = _distribution(raw["act_mean"], raw["act_var"], raw["act_tracked"])
    if "bn_in_mean" not in raw:
        return out
    batch_mean = raw["bn_in_mean"]
    batch_var = raw["bn_in_invstd"] ** -2.0 - bn_eps
    out |= {f"bn_in_{k}": v for k, v in _distribution(batch_mean, batch_var, raw["bn_in_tracked"]).items()}
    running_mean, running_var = raw["running_mean"], raw["running_var"]
    unbiased = batch_var * batch_size / max(batch_size - 1, 1)  # what BN's running var averages
    return out | {
        "running_mean": running_mean.mean(1),
        "running_var": running_var.mean(1),
        "running_mean_gap": np.abs(running_mean - batch_mean).mean(1),
        "running_var_gap": np.abs(running_var - unbiased).mean(1),
    }


def _distribution(means: np.ndarray, variances: np.ndarray, tracked: np.ndarray) -> dict[str, np.ndarray]:
    percentiles = np.percentile(tracked, [100 * q for q in PERCENTILES], axis=1) if len(means) else np.zeros((3, 0))
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
        self,
        widths: tuple[int, ...],
        *,
        fields: tuple[Field, ...],
        capacity: int,
        batch_size: int,
        lr: float,
        bn_eps: float = 1e-5,
    ) -> None:
        self.batch_size, self.lr, self.bn_eps = batch_size, lr, bn_eps
        self.layouts: list[Layout] = []
        for width in widths:  # one row holds every hidden layer's fields, layer after layer
            start = self.layouts[-1].stop if self.layouts else 0
            self.layouts.append(Layout.of(fields, start=start, unit=width, example=batch_size))
        self.scalar_layout = Layout.of(SCALAR_FIELDS, one=1, linear=len(widths) + 1)
        # (layer, field name) in row order: one flat list to copy from, built by one comprehension a step
        self.row_order = [(i, name) for i, layout in enumerate(self.layouts) for name in layout.names]
        self.rows = torch.zeros(capacity, self.layouts[-1].stop)
        self.steps = torch.zeros(capacity, dtype=torch.long)
        self.scalars = torch.zeros(capacity, self.scalar_layout.size)
        self.step_array = self.steps.numpy()  # the same memory: a numpy write costs no tensor op
        self.count = 0
        self.evals: list[tuple[int, str, float, float]] = []  # step, mode, loss, accuracy
        self.snapshots: list[tuple[int, int, torch.Tensor]] = []  # step, layer, sampled values
        self.lock = threading.Lock()  # a UI thread may read while the training thread writes

    def record_step(
        self, step: int, scalars: Mapping[str, Sequence[torch.Tensor]], layers: Sequence[Mapping[str, torch.Tensor]]
    ) -> None:
        """scalars: SCALAR_FIELDS by name, each a list of 0-d tensors; layers: per hidden layer, its
        fields by name, each a 1-d tensor. Checked against the layouts at the first record; two copies."""
        if self.count == 0:
            self.scalar_layout.check(scalars)
            if len(layers) != len(self.layouts):
                raise ValueError(f"recorded {len(layers)} layers, the layout has {len(self.layouts)}")
            for layout, parts in zip(self.layouts, layers, strict=True):
                layout.check(parts)
        with self.lock:
            i = self.count
            self.step_array[i] = step
            torch.stack([t for name in self.scalar_layout.names for t in scalars[name]], out=self.scalars[i])
            torch.cat([layers[layer][name] for layer, name in self.row_order], out=self.rows[i])
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

    def _recorded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps, scalars and rows recorded so far: views, not copies, since a recorded row is never written
        again (copying the rows, tens of MB, every second for the live view was most of a run's memory).
        The tables built from them copy what they keep."""
        with self.lock:
            n = self.count
        return self.steps[:n].numpy(), self.scalars[:n].numpy(), self.rows[:n].numpy()

    def field(self, name: str) -> list[np.ndarray]:
        """One field's raw records, per hidden layer: (recorded steps, width) each."""
        _, _, rows = self._recorded()
        return [layout.read(rows)[name] for layout in self.layouts]

    def frames(self) -> dict[str, pd.DataFrame]:
        steps, scalars, rows = self._recorded()
        with self.lock:
            evals, snapshots = list(self.evals), list(self.snapshots)
        s = self.scalar_layout.read(scalars)
        grad_norms, weight_norms = np.sqrt(s["grad_sq"]), np.sqrt(s["weight_sq"])
        per_layer = [
            layer_quantities(layout.read(rows), batch_size=self.batch_size, bn_eps=self.bn_eps)
            for layout in self.layouts
        ]
        params = [
            {"grad_norm": grad_norms[:, j], "update_ratio": self.lr * grad_norms[:, j] / weight_norms[:, j]}
            for j in range(grad_norms.shape[1])
        ]  # plain SGD: the update is lr * grad
        return {
            "history": self._history(steps, s),
            "layers": _tidy(steps, per_layer),
            "params": _tidy(steps, params),
            "evals": pd.DataFrame(evals, columns=["step", "mode", "loss", "accuracy"]),
            "snapshots": _snapshot_frame(snapshots),
            "units": self._unit_frame(steps, rows),
        }

    def history(self) -> pd.DataFrame:
        """The training-loss history alone: cheap enough to read every second beside training."""
        steps, scalars, _ = self._recorded()
        return self._history(steps, self.scalar_layout.read(scalars))

    def _history(self, steps: np.ndarray, scalars: Mapping[str, np.ndarray]) -> pd.DataFrame:
        """Loss and accuracy of each recorded batch (the recorder keeps the number correct)."""
        return pd.DataFrame(
            {
                "step": steps,
                "train_loss": scalars["loss"][:, 0],
                "train_accuracy": scalars["correct"][:, 0] / self.batch_size,
            }
        )

    def _unit_frame(self, steps: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
        """Every unit's batch mean and variance at up to UNIT_TABLE_STEPS evenly spaced records."""
        keep = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), UNIT_TABLE_STEPS)).round().astype(int))
        frames = []
        for layer, layout in enumerate(self.layouts, start=1):
            raw = layout.read(rows[keep])
            means, variances = raw["act_mean"], raw["act_var"]
            u = means.shape[1]
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
