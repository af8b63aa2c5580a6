"""Real MNIST, kept as uint8 (47 MB, not 188 MB of float32) and normalised one batch at a time.

The repository carries `data/mnist.npz`; where it is missing, torchvision's MNIST is used instead
(downloaded into a cache folder and converted), so a user without our copy still gets real data.
"""

from __future__ import annotations

import functools
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NPZ = REPO_ROOT / "data" / "mnist.npz"
DEFAULT_CACHE = Path(os.environ.get("BN_DEMO_CACHE", Path.home() / ".cache" / "bn_demo"))
PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081  # of the training set, pixels scaled to [0, 1]
KEYS = ("x_train", "y_train", "x_test", "y_test")
FIX_HINT = (
    "Restore data/mnist.npz from the repository (git checkout -- data/mnist.npz), "
    "or delete it so the app downloads MNIST through torchvision."
)


class DataError(RuntimeError):
    """MNIST could not be loaded; the message says how to fix it."""


@dataclass(frozen=True)
class MNIST:
    """Images as uint8 (N, 784) and labels as int64 (N,), for the training and test sets."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str

    def batch(self, split: str, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised float32 images (B, 784) and labels (B,) for the given row indices."""
        x, y = (self.x_train, self.y_train) if split == "train" else (self.x_test, self.y_test)
        return normalise(x[index]), y[index]


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 with the training set's mean 0 and std 1."""
    return pixels.float().mul_(1.0 / (255.0 * PIXEL_STD)).sub_(PIXEL_MEAN / PIXEL_STD)


@functools.cache
def load_mnist(path: str | None = None, cache_dir: str | None = None) -> MNIST:
    """Load once per process: the repository's npz if present, else torchvision's copy."""
    npz = Path(path) if path else DEFAULT_NPZ
    if npz.exists():
        return _from_arrays(_read_npz(npz), source=str(npz))
    return _from_arrays(_read_torchvision(Path(cache_dir) if cache_dir else DEFAULT_CACHE), "torchvision")


def _read_npz(npz: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(npz) as f:
            arrays = {k: f[k] for k in KEYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"The MNIST file {npz} is unreadable or incomplete ({e}). {FIX_HINT}") from e
    return arrays


def _read_torchvision(cache_dir: Path) -> dict[str, np.ndarray]:
    from torchvision.datasets import MNIST as TorchvisionMNIST  # only on this fallback path

    try:
        train = TorchvisionMNIST(str(cache_dir), train=True, download=True)
        test = TorchvisionMNIST(str(cache_dir), train=False, download=True)
    except Exception as e:  # torchvision raises RuntimeError, URLError, OSError, ...
        raise DataError(
            f"data/mnist.npz is missing and torchvision could not download MNIST into {cache_dir} "
            f"({type(e).__name__}: {e}). Put mnist.npz back into the repository's data/ folder."
        ) from e
    return {
        "x_train": train.data.numpy(),
        "y_train": train.targets.numpy(),
        "x_test": test.data.numpy(),
        "y_test": test.targets.numpy(),
    }


def _from_arrays(arrays: dict[str, np.ndarray], source: str) -> MNIST:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8 or y.shape != (len(x),):
            raise DataError(
                f"MNIST {split} images/labels have shapes {x.shape} {x.dtype} / {y.shape}, expected "
                f"(N, 28, 28) uint8 / (N,) ({source}). {FIX_HINT}"
            )
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise DataError(f"MNIST y_{split} holds labels outside 0..9 ({source}). {FIX_HINT}")
    return MNIST(
        **{k: torch.from_numpy(arrays[k].reshape(len(arrays[k]), 784).copy()) for k in ("x_train", "x_test")},
        **{k: torch.from_numpy(arrays[k].astype(np.int64)) for k in ("y_train", "y_test")},
        source=source,
    )


def batch_indices(n_examples: int, batch_size: int, steps: int, seed: int) -> Iterator[torch.Tensor]:
    """Row indices (batch_size,) of each minibatch of a run, reshuffled every epoch and identical
    for a seed. Incomplete last batches are dropped: a batch of one example would break BatchNorm."""
    if not 1 <= batch_size <= n_examples:
        raise ValueError(f"batch_size must be between 1 and the {n_examples} training examples")
    g = torch.Generator().manual_seed(seed)
    per_epoch = n_examples // batch_size
    step = 0
    while step < steps:
        perm = torch.randperm(n_examples, generator=g)
        for b in range(min(per_epoch, steps - step)):
            yield perm[b * batch_size : (b + 1) * batch_size]
        step += per_epoch
