import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from bn_demo.data import DataError, batch_indices, load_mnist, normalise


def test_the_bundled_file_is_real_complete_mnist(mnist):
    assert mnist.x_train.shape == (60000, 784) and mnist.x_train.dtype == torch.uint8
    assert mnist.x_test.shape == (10000, 784)
    counts = torch.bincount(mnist.y_train, minlength=10).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    pixels = mnist.x_train.numpy().astype(np.float64) / 255
    assert pixels.mean() == pytest.approx(0.1307, abs=5e-5)
    assert pixels.std() == pytest.approx(0.3081, abs=5e-5)


def test_batches_are_normalised_from_uint8(mnist):
    x, y = mnist.batch("train", torch.arange(1000))
    expected = (mnist.x_train[:1000].numpy() / 255 - 0.1307) / 0.3081
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-5)
    assert x.dtype == torch.float32 and y.tolist() == mnist.y_train[:1000].tolist()


def test_batch_indices_reshuffle_each_epoch_and_never_yield_a_partial_batch():
    batches = list(batch_indices(10, 3, steps=7, seed=1))
    assert [len(b) for b in batches] == [3] * 7  # 10 // 3 = 3 batches an epoch, the 10th image dropped
    first_epoch = torch.cat(batches[:3])
    assert len(set(first_epoch.tolist())) == 9
    assert [b.tolist() for b in batches] == [b.tolist() for b in batch_indices(10, 3, 7, seed=1)]
    assert batches[0].tolist() != next(batch_indices(10, 3, 7, seed=2)).tolist()


@pytest.mark.parametrize("content", [b"not a zip file", b""])
def test_a_corrupt_file_gives_one_clear_message(tmp_path, content):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(content)
    with pytest.raises(DataError, match="git checkout -- data/mnist.npz"):
        load_mnist(str(bad))


@pytest.mark.parametrize("damage", ["truncated", "missing y_test"])
def test_a_truncated_or_incomplete_npz_gives_one_clear_message(tmp_path, damage):
    arrays = {"x_train": np.zeros((100, 28, 28), np.uint8), "y_train": np.zeros(100, np.uint8)}
    arrays |= {"x_test": np.zeros((10, 28, 28), np.uint8), "y_test": np.zeros(10, np.uint8)}
    path = tmp_path / "mnist.npz"
    if damage == "missing y_test":
        del arrays["y_test"]
    np.savez(path, **arrays)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:40_000])  # the zip directory at the end is lost
    with pytest.raises(DataError, match="unreadable or incomplete") as e:
        load_mnist(str(path))
    assert "git checkout -- data/mnist.npz" in str(e.value)


def test_a_file_with_wrong_shapes_is_refused(tmp_path):
    bad = tmp_path / "mnist.npz"
    arrays = {"x_train": np.zeros((100, 28, 28), np.uint8), "y_train": np.zeros(99, np.uint8)}
    arrays |= {"x_test": np.zeros((10, 28, 28), np.uint8), "y_test": np.zeros(10, np.uint8)}
    np.savez(bad, **arrays)
    with pytest.raises(DataError, match="shape"):
        load_mnist(str(bad))


def _write_idx(path: Path, array: np.ndarray) -> None:
    """torchvision's raw MNIST format: magic (0, 0, 0x08 for uint8, ndim), big-endian sizes, bytes."""
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_torchvision_fallback_reads_a_raw_idx_folder_offline(tmp_path, monkeypatch):
    """Without data/mnist.npz the loader goes through torchvision.datasets.MNIST. The test writes a
    tiny raw MNIST folder in IDX format where torchvision looks first, and forbids any download."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    sizes = {"train": 20, "t10k": 10}
    images = {s: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for s, n in sizes.items()}
    labels = {s: rng.integers(0, 10, n, dtype=np.uint8) for s, n in sizes.items()}
    for split in sizes:
        _write_idx(raw / f"{split}-images-idx3-ubyte", images[split])
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels[split])
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", _no_network)
    loaded = load_mnist(str(tmp_path / "missing.npz"), cache_dir=str(tmp_path))
    assert loaded.source == "torchvision"
    assert np.array_equal(loaded.x_test.numpy().reshape(-1, 28, 28), images["t10k"])
    assert np.array_equal(loaded.x_train.numpy().reshape(-1, 28, 28), images["train"])
    assert np.array_equal(loaded.y_train.numpy(), labels["train"])


def test_a_failed_download_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", _no_network)
    with pytest.raises(DataError, match="Put mnist.npz back"):
        load_mnist(str(tmp_path / "missing.npz"), cache_dir=str(tmp_path / "empty"))


def _no_network(*args, **kwargs):
    raise OSError("network unreachable (this test runs offline)")


def test_normalise_matches_the_formula():
    pixels = torch.tensor([[0, 255, 128]], dtype=torch.uint8)
    expected = (np.array([0, 255, 128]) / 255 - 0.1307) / 0.3081
    np.testing.assert_allclose(normalise(pixels).numpy()[0], expected, rtol=1e-6)
