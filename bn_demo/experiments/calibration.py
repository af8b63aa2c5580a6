"""What BN's inference statistics are worth: one trained BN net evaluated on the test set with its
normalising mean and variance taken from six sources. The model is left exactly as it was trained.

- running: the running averages kept during training (eval mode, what `model.eval()` uses). Like PyTorch
  and Ioffe & Szegedy's Algorithm 2, they average the *unbiased* batch variance m/(m−1)·σ²_B;
- biased: the same averages with that factor taken out again (variance × (m−1)/m, the 1/m variance), to
  measure what the factor is worth at the training batch size m;
- batch: the statistics of each test batch, batches of the training batch size (train mode);
- recomputed: running averages thrown away and recomputed, as a plain average, over training images
  passed through the final weights ("precise BN");
- few_updates: running averages reset to 0 / 1, then updated over only FEW_UPDATES training batches with
  momentum FEW_UPDATES_MOMENTUM: (1 − 0.001)^200 = 82% of each is still the initial 0 or 1 and 18% data.
  They are mostly reset statistics, not statistics that lag behind the weights;
- reset: running averages reset to their initial mean 0, variance 1 (never updated).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pandas as pd
import torch
import torch.nn.functional as F

from bn_demo.core.config import TrainConfig
from bn_demo.core.data import MNIST, batch_indices
from bn_demo.core.models import MLP
from bn_demo.core.results import RunResult
from bn_demo.core.train import PairedTraining, preserved_state

RECOMPUTE_EXAMPLES = 10_000  # training images the recomputed statistics average over
RECOMPUTE_CHUNK = 1_000  # images per forward pass while recomputing
FEW_UPDATES_MOMENTUM = 0.001  # PyTorch's default is 0.1
FEW_UPDATES = 200  # training batches the few-updates averages see
INITIAL_SHARE = (1 - FEW_UPDATES_MOMENTUM) ** FEW_UPDATES  # share of the initial 0 / 1 still in them (0.82)
METHODS = {
    "running": "running averages (eval mode)",
    "batch": "batch statistics (train mode)",
    "biased": "running averages with the 1/m variance",
    "recomputed": f"recomputed over {RECOMPUTE_EXAMPLES:,} training images",
    "few_updates": f"only {FEW_UPDATES} updates at momentum {FEW_UPDATES_MOMENTUM} ({INITIAL_SHARE:.0%} still 0 / 1)",
    "reset": "reset to mean 0, variance 1",
}
COLUMNS = ["method", "label", "test_loss", "test_accuracy"]


@contextlib.contextmanager
def _momentum(model: MLP, momentum: float | None) -> Iterator[None]:
    """BN momentum is a module attribute, not state: preserved_state does not restore it, this does."""
    norms = model.norms()
    saved = [n.momentum for n in norms]
    try:
        for n in norms:
            n.momentum = momentum
        yield
    finally:
        for n, m in zip(norms, saved, strict=True):
            n.momentum = m


def _reset(model: MLP) -> None:
    for n in model.norms():
        n.reset_running_stats()


def _loss_accuracy(model: MLP, x: torch.Tensor, y: torch.Tensor, batch_size: int | None) -> tuple[float, float]:
    """Eval mode over all of x when batch_size is None; otherwise train mode over whole batches of it."""
    if batch_size is None:
        model.eval()
        logits, labels = model(x), y
    else:
        model.train()
        n = (len(y) // batch_size) * batch_size or len(y)
        logits, labels = torch.cat([model(chunk) for chunk in x[:n].split(batch_size)]), y[:n]
    return F.cross_entropy(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()


@torch.no_grad()
def calibrate(model: MLP, config: TrainConfig, data: MNIST, x: torch.Tensor, y: torch.Tensor) -> pd.DataFrame:
    """Loss and accuracy on (x, y) under each source of BN statistics; one row per method (see METHODS)."""
    rows = {}
    with preserved_state(model):
        rows["running"] = _loss_accuracy(model, x, y, None)
        m = config.batch_size
        for norm in model.norms():
            norm.running_var.mul_((m - 1) / m)
        rows["biased"] = _loss_accuracy(model, x, y, None)
        rows["batch"] = _loss_accuracy(model, x, y, config.batch_size)  # train mode: moves the averages too
        _reset(model)
        model.train()
        with _momentum(model, None):  # None: a cumulative (plain) average over the batches seen
            for index in torch.arange(RECOMPUTE_EXAMPLES).split(RECOMPUTE_CHUNK):
                model(data.batch("train", index)[0])
        rows["recomputed"] = _loss_accuracy(model, x, y, None)
        _reset(model)
        model.train()
        with _momentum(model, FEW_UPDATES_MOMENTUM):
            for index in batch_indices(len(data.y_train), config.batch_size, FEW_UPDATES, config.seed + 1):
                model(data.batch("train", index)[0])
        rows["few_updates"] = _loss_accuracy(model, x, y, None)
        _reset(model)
        rows["reset"] = _loss_accuracy(model, x, y, None)
    return pd.DataFrame([(m, label, *rows[m]) for m, label in METHODS.items()], columns=COLUMNS)


def analyse_point(point, training: PairedTraining, runs: dict[str, RunResult]) -> pd.DataFrame | None:
    """sweeps.Analysis: calibrate the point's BN net on the full test set (None if it diverged)."""
    trainer = training.trainers.get("bn")
    if trainer is None or runs["bn"].diverged or not runs["bn"].steps:
        return None
    data = training.data
    x, y = data.batch("test", torch.arange(len(data.y_test)))
    return calibrate(trainer.model, trainer.config, data, x, y)
