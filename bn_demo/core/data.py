"""Real MNIST, kept as uint8 (47 MB, not 188 MB of float32) and normalised one batch at a time.

The repository carries `data/mnist.npz`; where it is missing, torchvision's MNIST is used instead
(downloaded into a cache folder and converted), so a user without our copy still gets real data. A file
the user names must exist: a typo never turns into a download.
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NPZ = REPO_ROOT / "data" / "mnist.npz"
DEFAULT_CACHE = Path(os.environ.get("BN_DEMO_CACHE", Path.home() / ".cache" / "bn_demo"))
PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081  # of the training set, pixels scaled to [0, 1]
KEYS = ("x_train", "y_train", "x_test", "y_test")
FIX_HINT = (
    "Restore data/mnist.npz from the repository (git checkout -- data/mnist.npz), "
    "or delete it so the app downloads MNIST through torchvision."
)
GIVEN_FILE_HINT = "Give the path of a complete MNIST .npz (arrays x_train, y_train, x_test, y_test)."
EVAL_SAMPLE_SEED = 2015  # fixes the held-out sample evaluated during training, the same for every run


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

    def eval_indices(self, size: int) -> torch.Tensor:
        """The test images evaluated during training: a fixed sample stratified by label, the same for every
        net and seed. The first `size` test images would not do: they are harder than the whole set
        (issue 8 measured 94.65% on the first 2,000 against 95.94% on all 10,000, same model)."""
        if not 1 <= size <= len(self.y_test):
            raise DataError(f"{self.source} holds {len(self.y_test)} test images; {size} cannot be held out")
        return torch.from_numpy(stratified_sample(self.y_test.numpy(), size, seed=EVAL_SAMPLE_SEED))

    def check_fits(self, *, batch_size: int, eval_size: int) -> None:
        """DataError unless a run with this batch and held-out size can train on these images."""
        if batch_size > len(self.y_train):
            raise DataError(
                f"{self.source} holds {len(self.y_train)} training images, fewer than one batch of {batch_size}"
            )
        self.eval_indices(eval_size)


def stratified_sample(labels: np.ndarray, size: int, *, seed: int) -> np.ndarray:
    """`size` sorted row indices drawn at random (fixed by `seed`) within each label, as many of each label
    as its share of `labels` gives (largest remainder: within one image of size × share for every label)."""
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * size / len(labels)
    take = np.floor(quota).astype(int)
    take[np.argsort(take - quota, kind="stable")[: size - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picked))


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 with the training set's mean 0 and std 1."""
    return pixels.float().mul_(1.0 / (255.0 * PIXEL_STD)).sub_(PIXEL_MEAN / PIXEL_STD)


_loaded: dict[tuple[str | None, str | None], MNIST] = {}
_loading = threading.Lock()  # held while loading: callers arriving meanwhile wait for that one load


def load_mnist(path: str | None = None, cache_dir: str | None = None) -> MNIST:
    """Load once per process, however many threads ask at once (30 sessions loading it side by side
    would hold 30 copies). A given `path` must exist; without one, the repository's npz is used if present,
    else torchvision's copy. A failed load is not remembered, so a fixed file is picked up."""
    with _loading:
        if (path, cache_dir) not in _loaded:
            _loaded[path, cache_dir] = _load(path, cache_dir)
        return _loaded[path, cache_dir]


def _load(path: str | None, cache_dir: str | None) -> MNIST:
    if path:
        npz = Path(path)
        if not os.path.exists(npz):  # False for any OSError (a name too long), where Path.exists raises
            raise DataError(f"The MNIST file {path} does not exist. {GIVEN_FILE_HINT}")
        return _from_arrays(_read_npz(npz, GIVEN_FILE_HINT), str(npz), GIVEN_FILE_HINT)
    if DEFAULT_NPZ.exists():
        return _from_arrays(_read_npz(DEFAULT_NPZ, FIX_HINT), str(DEFAULT_NPZ))
    return _from_arrays(_read_torchvision(Path(cache_dir) if cache_dir else DEFAULT_CACHE), "torchvision")


def _read_npz(npz: Path, hint: str) -> dict[str, np.ndarray]:
    if npz.is_dir():
        raise DataError(f"The MNIST file {npz} is a folder, not an .npz file. {hint}")
    if not zipfile.is_zipfile(npz):  # np.load would try it as a pickle and answer with a hint about pickles
        raise DataError(f"The MNIST file {npz} is unreadable or incomplete (not an .npz zip archive). {hint}")
    try:
        with np.load(npz) as f:
            arrays = {k: f[k] for k in KEYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"The MNIST file {npz} is unreadable or incomplete ({e}). {hint}") from e
    return arrays


def _read_torchvision(cache_dir: Path) -> dict[str, np.ndarray]:
    from torchvision.datasets import MNIST as TorchvisionMNIST  # only on this fallback path

    try:
        train = TorchvisionMNIST(str(cache_dir), train=True, download=True)
        test = TorchvisionMNIST(str(cache_dir), train=False, download=True)
    except Exception as e:  # torchvision raises RuntimeError, URLError, OSError, ...
        raise DataError(
            f"{DEFAULT_NPZ} is missing and torchvision could not download MNIST into {cache_dir} "
            f"({type(e).__name__}: {e}). Put mnist.npz back into the repository's data/ folder."
        ) from e
    return {
        "x_train": train.data.numpy(),
        "y_train": train.targets.numpy(),
        "x_test": test.data.numpy(),
        "y_test": test.targets.numpy(),
    }


def _from_arrays(arrays: dict[str, np.ndarray], source: str, hint: str = FIX_HINT) -> MNIST:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8 or y.shape != (len(x),):
            raise DataError(
                f"MNIST {split} images/labels have shapes {x.shape} {x.dtype} / {y.shape}, expected "
                f"(N, 28, 28) uint8 / (N,) ({source}). {hint}"
            )
        if not len(y):
            raise DataError(f"MNIST has no {split} images ({source}). {hint}")
        if y.dtype.kind not in "iu" or y.min() < 0 or y.max() > 9:
            raise DataError(f"MNIST y_{split} holds labels other than the integers 0..9 ({source}). {hint}")
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
