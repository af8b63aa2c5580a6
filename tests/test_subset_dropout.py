"""Training on a fixed stratified subset (train_size) and dropout: the subset keeps each digit's share and
is the same for every seed; batches only come from it; dropout follows its law in training, does nothing
in eval mode, and leaves the paired runs' weights and batches untouched."""

import pytest
import torch

from bn_demo.core.config import FIT_EVAL_MODE, ConfigError, TrainConfig
from bn_demo.core.models import Dropout, build_model
from bn_demo.core.train import PairedTraining, stratified_subset


def test_stratified_subset_keeps_each_digits_share_and_is_fixed():
    labels = torch.tensor([0] * 600 + [1] * 300 + [2] * 100)
    rows = stratified_subset(labels, 100)
    assert len(rows) == 100 and len(set(rows.tolist())) == 100
    assert torch.bincount(labels[rows]).tolist() == [60, 30, 10]
    assert torch.equal(rows, stratified_subset(labels, 100))  # the same subset every time
    odd = stratified_subset(labels, 7)  # shares 4.2, 2.1, 0.7: largest remainders round to 4, 2, 1
    assert torch.bincount(labels[odd], minlength=3).tolist() == [4, 2, 1]


def test_training_on_a_subset_sees_only_its_images_and_evaluates_them(mnist, monkeypatch):
    config = TrainConfig(train_size=300, steps=20, batch_size=50, eval_size=100, eval_every=10)
    training = PairedTraining({"bn": config, "plain": config.with_(norm="plain")}, mnist)
    subset = set(stratified_subset(mnist.y_train, 300).tolist())
    seen = []
    original = mnist.batch

    def spy(split, index):
        if split == "train" and len(index) == 50:
            seen.extend(index.tolist())
        return original(split, index)

    monkeypatch.setattr(type(mnist), "batch", lambda self, split, index: spy(split, index))
    runs = training.run()
    assert seen and set(seen) <= subset
    assert len(set(seen)) == 300  # 20 steps of 50 are 3 epochs of the 6 full batches of 300
    evals = runs["bn"].evals
    fit = evals[evals["mode"] == FIT_EVAL_MODE]
    assert fit["step"].tolist() == [0, 10, 20]
    with torch.no_grad():
        model = build_model(config)  # step 0: the untrained model on the whole subset
        x, y = original("train", torch.tensor(sorted(subset)))
        accuracy = (model.eval()(x).argmax(1) == y).float().mean().item()
    assert fit["accuracy"].iloc[0] == pytest.approx(accuracy)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"train_size": 10, "batch_size": 32}, "cannot fill a batch"),
        ({"dropout": 0.95}, "dropout"),
        ({"train_size": -1}, "train_size"),
    ],
)
def test_bad_subset_and_dropout_settings_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_dropout_zeroes_a_share_p_scales_the_rest_and_is_off_in_eval_mode():
    layer = Dropout(0.3, seed=0)
    x = torch.ones(200, 500)
    y = layer(x)
    kept = y != 0
    assert abs(1 - kept.float().mean().item() - 0.3) < 0.01
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    assert not torch.equal(layer(x), y)  # a new mask at every call
    assert torch.equal(Dropout(0.3, seed=0)(x), y)  # the seed reproduces it
    assert torch.equal(layer.eval()(x), x)


def test_dropout_leaves_the_paired_weights_and_batches_alone(mnist):
    config = TrainConfig(norm="plain", steps=5, batch_size=32, eval_size=100)
    with_dropout = config.with_(dropout=0.5)
    for a, b in zip(build_model(config).parameters(), build_model(with_dropout).parameters(), strict=True):
        assert torch.equal(a, b)
    runs = PairedTraining({"plain": config, "dropout": with_dropout}, mnist).run()
    assert runs["plain"].history["train_loss"].iloc[0] != runs["dropout"].history["train_loss"].iloc[0]
    again = PairedTraining({"dropout": with_dropout}, mnist).run()["dropout"]
    assert again.history["train_loss"].tolist() == runs["dropout"].history["train_loss"].tolist()
