import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import bn_demo.core.data
from bn_demo.core.config import TrainConfig
from bn_demo.core.data import DataError, batch_indices, load_mnist, normalise, stratified_sample
from bn_demo.core.train import PairedTraining


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


@pytest.fixture
def default_npz(tmp_path, monkeypatch) -> Path:
    """Where the loader looks when no path is given, moved into tmp_path (a fresh process's cache)."""
    monkeypatch.setattr(bn_demo.core.data, "DEFAULT_NPZ", tmp_path / "mnist.npz")
    monkeypatch.setattr(bn_demo.core.data, "_loaded", {})
    return tmp_path / "mnist.npz"


@pytest.mark.parametrize("content", [b"not a zip file", b""])
def test_a_corrupt_file_gives_one_clear_message(default_npz, content):
    default_npz.write_bytes(content)
    with pytest.raises(DataError, match="git checkout -- data/mnist.npz"):
        load_mnist()


@pytest.mark.parametrize("damage", ["truncated", "missing y_test"])
def test_a_truncated_or_incomplete_npz_gives_one_clear_message(default_npz, damage):
    arrays = {"x_train": np.zeros((100, 28, 28), np.uint8), "y_train": np.zeros(100, np.uint8)}
    arrays |= {"x_test": np.zeros((10, 28, 28), np.uint8), "y_test": np.zeros(10, np.uint8)}
    path = default_npz
    if damage == "missing y_test":
        del arrays["y_test"]
    np.savez(path, **arrays)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:40_000])  # the zip directory at the end is lost
    with pytest.raises(DataError, match="unreadable or incomplete") as e:
        load_mnist()
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
    monkeypatch.setattr(bn_demo.core.data, "DEFAULT_NPZ", tmp_path / "missing.npz")  # only the default path falls back
    loaded = load_mnist(cache_dir=str(tmp_path))
    assert loaded.source == "torchvision"
    assert np.array_equal(loaded.x_test.numpy().reshape(-1, 28, 28), images["t10k"])
    assert np.array_equal(loaded.x_train.numpy().reshape(-1, 28, 28), images["train"])
    assert np.array_equal(loaded.y_train.numpy(), labels["train"])


def test_a_failed_download_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", _no_network)
    monkeypatch.setattr(bn_demo.core.data, "DEFAULT_NPZ", tmp_path / "missing.npz")
    with pytest.raises(DataError, match="Put mnist.npz back") as e:
        load_mnist(cache_dir=str(tmp_path / "empty"))
    assert str(e.value).startswith(f"{tmp_path / 'missing.npz'} is missing")  # the path that is, not data/mnist.npz


def test_a_given_path_that_does_not_exist_is_refused_without_a_download(tmp_path, monkeypatch):
    monkeypatch.setattr(bn_demo.core.data, "_read_torchvision", _no_network)
    missing = tmp_path / "typo.npz"
    with pytest.raises(DataError) as e:
        load_mnist(str(missing))
    assert str(e.value).startswith(f"The MNIST file {missing} does not exist")
    assert "data/mnist.npz" not in str(e.value)


def _write_npz(path: Path, n_train: int, n_test: int) -> Path:
    rng = np.random.default_rng(0)
    sizes = {"train": n_train, "test": n_test}
    arrays = {f"x_{s}": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for s, n in sizes.items()}
    arrays |= {f"y_{s}": rng.integers(0, 10, n, dtype=np.uint8) for s, n in sizes.items()}
    np.savez(path, **arrays)
    return path


def test_an_empty_file_is_refused_and_a_tiny_one_cannot_hold_a_run(tmp_path):
    with pytest.raises(DataError, match=r"^MNIST has no train images"):
        load_mnist(str(_write_npz(tmp_path / "empty.npz", 0, 0)))
    tiny = load_mnist(str(_write_npz(tmp_path / "three.npz", 3, 3)))
    with pytest.raises(DataError, match="holds 3 training images, fewer than one batch of 4"):
        tiny.check_fits(batch_size=4, eval_size=3)
    with pytest.raises(DataError, match="holds 3 test images; 10 cannot be held out"):
        tiny.check_fits(batch_size=3, eval_size=10)
    tiny.check_fits(batch_size=3, eval_size=3)  # the edge that fits


def test_a_text_file_is_named_as_not_an_npz_without_numpys_pickle_hint(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("x_train,y_train\n1,2\n")
    with pytest.raises(DataError) as e:
        load_mnist(str(text))
    message = str(e.value)
    assert f"{text} is unreadable or incomplete (not an .npz zip archive)" in message
    assert "pickle" not in message and "git checkout" not in message  # a user's file: no hint about ours


def test_mnist_loads_once_when_thirty_threads_ask_at_the_same_moment(tmp_path, monkeypatch):
    path = str(_write_npz(tmp_path / "small.npz", 20, 10))
    monkeypatch.setattr(bn_demo.core.data, "_loaded", {})
    reads, real = [], bn_demo.core.data._read_npz

    def slow_read(npz, hint):
        reads.append(npz)
        time.sleep(0.3)  # long enough for every thread to arrive while the first one reads
        return real(npz, hint)

    monkeypatch.setattr(bn_demo.core.data, "_read_npz", slow_read)
    start, results = threading.Barrier(30), []

    def ask():
        start.wait()
        results.append(load_mnist(path))

    threads = [threading.Thread(target=ask) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reads) == 1 and len(results) == 30
    assert all(r is results[0] for r in results)
    assert load_mnist(path) is results[0] and len(reads) == 1  # and later calls too


def test_a_failed_load_is_not_remembered(tmp_path, monkeypatch):
    monkeypatch.setattr(bn_demo.core.data, "_loaded", {})
    path = tmp_path / "later.npz"
    with pytest.raises(DataError):
        load_mnist(str(path))
    _write_npz(path, 20, 10)
    assert len(load_mnist(str(path)).y_train) == 20


@pytest.mark.parametrize("size", [10, 11, 100, 500, 2000, 9999, 10000])
def test_the_held_out_sample_is_stratified_fixed_and_not_the_first_images(mnist, size):
    index = mnist.eval_indices(size).numpy()
    labels = mnist.y_test.numpy()
    assert len(index) == len(set(index)) == size and (np.diff(index) > 0).all()
    share = np.bincount(labels, minlength=10) / len(labels)
    counts = np.bincount(labels[index], minlength=10)
    assert (np.abs(counts - size * share) < 1).all(), (counts, size * share)
    assert np.array_equal(index, mnist.eval_indices(size).numpy())  # fixed: the same for every run
    if size < 10000:
        assert not np.array_equal(index, np.arange(size))
        assert index.max() > 5000  # drawn from the whole test set


def test_stratified_sample_on_skewed_labels_and_its_seed():
    labels = np.repeat(np.arange(3), [90, 9, 1])
    for size in range(1, 101):
        counts = np.bincount(labels[stratified_sample(labels, size, seed=0)], minlength=3)
        assert counts.sum() == size and (np.abs(counts - size * np.array([0.9, 0.09, 0.01])) < 1).all()
    a, b = (stratified_sample(labels, 50, seed=s) for s in (0, 1))
    assert not np.array_equal(a, b)  # random within each label, fixed by the seed


def test_every_run_evaluates_on_the_same_sample_and_reports_the_full_test_set(mnist):
    config = TrainConfig(steps=30, batch_size=64, eval_size=200, eval_every=10)
    training = PairedTraining({"bn": config, "plain": config.with_(norm="plain")}, mnist)
    sample = mnist.eval_indices(200)
    for trainer in training.trainers.values():
        assert torch.equal(trainer.eval_y, mnist.y_test[sample])
        assert torch.equal(trainer.eval_x, normalise(mnist.x_test[sample]))
    runs = training.run()
    x_all, y_all = normalise(mnist.x_test), mnist.y_test
    for name, trainer in training.trainers.items():
        trainer.model.eval()
        with torch.no_grad():
            logits = trainer.model(x_all)
        assert runs[name].test_accuracy == pytest.approx((logits.argmax(1) == y_all).float().mean().item(), abs=1e-6)
        assert runs[name].test_loss == pytest.approx(torch.nn.functional.cross_entropy(logits, y_all).item(), rel=1e-5)
        on_sample = (logits[sample].argmax(1) == y_all[sample]).float().mean().item()
        assert runs[name].evals.query("mode == 'eval'").accuracy.iloc[-1] == pytest.approx(on_sample, abs=1e-6)


def _no_network(*args, **kwargs):
    raise OSError("network unreachable (this test runs offline)")


def test_normalise_matches_the_formula():
    pixels = torch.tensor([[0, 255, 128]], dtype=torch.uint8)
    expected = (np.array([0, 255, 128]) / 255 - 0.1307) / 0.3081
    np.testing.assert_allclose(normalise(pixels).numpy()[0], expected, rtol=1e-6)
