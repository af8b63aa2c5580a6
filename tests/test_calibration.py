"""Calibration of BN's inference statistics: each source checked against a forward pass by hand, and the
trained model left exactly as it was."""

import numpy as np
import pytest
import torch

from bn_demo.core.train import PairedTraining
from bn_demo.experiments import calibration


@pytest.fixture(scope="module")
def trained(mnist):
    from bn_demo.core.config import TrainConfig

    config = TrainConfig(steps=40, batch_size=50, eval_size=500, eval_every=20, hidden=(32,))
    training = PairedTraining({"bn": config}, mnist)
    runs = training.run()
    return training.trainers["bn"], runs["bn"]


def manual_accuracy(model, x, y, mean, var) -> float:
    """The MLP's forward pass in numpy with BN normalising by the given mean and variance."""
    block = model.blocks[0]
    w, b = block.linear.weight.detach().numpy(), block.linear.bias.detach().numpy()
    g, beta = block.norm.weight.detach().numpy(), block.norm.bias.detach().numpy()
    z = x.numpy() @ w.T + b
    h = np.maximum(g * (z - mean) / np.sqrt(var + block.norm.eps) + beta, 0)
    logits = h @ model.head.weight.detach().numpy().T + model.head.bias.detach().numpy()
    return float((logits.argmax(1) == y.numpy()).mean())


def test_each_source_matches_a_forward_pass_by_hand(mnist, trained):
    trainer, run = trained
    model = trainer.model
    x, y = trainer.eval_x, trainer.eval_y
    table = calibration.calibrate(model, trainer.config, mnist, x, y).set_index("method")
    assert list(table.index) == list(calibration.METHODS)
    norm = model.blocks[0].norm
    running = manual_accuracy(model, x, y, norm.running_mean.numpy(), norm.running_var.numpy())
    assert table.loc["running", "test_accuracy"] == pytest.approx(running, abs=1e-6)
    reset = manual_accuracy(model, x, y, np.zeros(32), np.ones(32))
    assert table.loc["reset", "test_accuracy"] == pytest.approx(reset, abs=1e-6)
    # the 1/m variance: PyTorch's running variance (an average of m/(m-1) * the 1/m batch variance) x (m-1)/m
    m = trainer.config.batch_size
    biased = manual_accuracy(model, x, y, norm.running_mean.numpy(), norm.running_var.numpy() * (m - 1) / m)
    assert table.loc["biased", "test_accuracy"] == pytest.approx(biased, abs=1e-6)
    assert table.loc["biased", "test_loss"] != table.loc["running", "test_loss"]
    # recomputed: plain average of the per-chunk means and unbiased variances of BN's input
    train_x = mnist.batch("train", torch.arange(calibration.RECOMPUTE_EXAMPLES))[0].numpy()
    w, b = model.blocks[0].linear.weight.detach().numpy(), model.blocks[0].linear.bias.detach().numpy()
    chunks = np.split(train_x @ w.T + b, calibration.RECOMPUTE_EXAMPLES // calibration.RECOMPUTE_CHUNK)
    mean = np.mean([c.mean(0) for c in chunks], axis=0)
    var = np.mean([c.var(0, ddof=1) for c in chunks], axis=0)
    assert table.loc["recomputed", "test_accuracy"] == pytest.approx(manual_accuracy(model, x, y, mean, var), abs=3e-3)
    # batch statistics on the held-out images: what training recorded as its last train-mode evaluation
    last_train = run.evals[run.evals["mode"] == "train"].iloc[-1]
    assert table.loc["batch", "test_accuracy"] == pytest.approx(last_train["accuracy"], abs=1e-6)


def test_few_update_averages_are_mostly_the_initial_values(mnist, trained, monkeypatch):
    """With momentum m over n batches from 0 / 1, the running mean is (1 - (1-m)^n) x a data average: 82% of
    it is still the initial 0, which is what the page must say (not "lagging" statistics)."""
    trainer, _ = trained
    model, norm = trainer.model, trainer.model.blocks[0].norm
    before = {k: v.clone() for k, v in model.state_dict().items()}
    momentum_before, was_training = norm.momentum, model.training
    captured = {}
    original = calibration._loss_accuracy

    def spy(m, x, y, batch_size):
        if batch_size is None:
            captured.setdefault("means", []).append(norm.running_mean.clone())
        return original(m, x, y, batch_size)

    monkeypatch.setattr(calibration, "_loss_accuracy", spy)
    calibration.calibrate(model, trainer.config, mnist, trainer.eval_x, trainer.eval_y)
    running, biased, recomputed, few, reset = captured["means"]
    assert torch.all(reset == 0) and torch.equal(biased, running)  # the 1/m method changes the variance only
    assert torch.equal(running, before["blocks.0.norm.running_mean"])  # measured before train mode moves them
    assert calibration.INITIAL_SHARE == pytest.approx(0.999**200) and f"{calibration.INITIAL_SHARE:.0%}" == "82%"
    share = 1 - calibration.INITIAL_SHARE
    np.testing.assert_allclose(few.numpy(), share * recomputed.numpy(), atol=0.05 * float(recomputed.abs().max()))
    assert "82% still 0 / 1" in calibration.METHODS["few_updates"]
    # the model is left exactly as trained
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert norm.momentum == momentum_before and model.training == was_training
