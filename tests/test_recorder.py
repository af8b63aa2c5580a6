"""Recorded statistics against a manual numpy recomputation for a given batch."""

import numpy as np
import pytest
import torch

from bn_demo.config import TrainConfig
from bn_demo.data import batch_indices
from bn_demo.train import Trainer


@pytest.mark.parametrize("norm", ["bn", "plain"])
def test_recorded_step_matches_numpy(mnist, norm):
    config = TrainConfig(norm=norm, hidden=(64, 32), steps=1, batch_size=50, tracked_unit=5, eval_size=100)
    eval_x, eval_y = mnist.batch("test", torch.arange(100))
    trainer = Trainer(norm, config, eval_x, eval_y)
    x, y = mnist.batch("train", next(batch_indices(60000, 50, 1, seed=0)))
    model = trainer.model
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # γ and β away from 1 and 0, so that the recorded BN output statistics must use them
        for norm_layer in model.norms():
            norm_layer.weight.copy_(torch.rand(norm_layer.num_features, generator=g) * 2 + 0.2)
            norm_layer.bias.copy_(torch.randn(norm_layer.num_features, generator=g))
    with torch.no_grad():  # the same forward pass, by hand, before the step changes the weights
        h, by_hand = x, []
        for block in model.blocks:
            z = block.linear(h)
            bn_in = z.numpy().copy()
            if block.norm is not None:
                z = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + block.norm.eps)
                z = z * block.norm.weight + block.norm.bias
            by_hand.append((z.numpy().copy(), bn_in))
            h = block.activation(z)
        logits = model.head(h).numpy()
    trainer.step(x, y, step=0)
    layers = trainer.recorder.frames()["layers"]
    for layer, (act_in, bn_in) in enumerate(by_hand, start=1):
        got = layers[layers.layer == layer].set_index("quantity")["value"]
        means, variances = act_in.mean(0), act_in.var(0)
        assert got["mean"] == pytest.approx(means.mean(), abs=1e-5)
        assert got["var"] == pytest.approx(variances.mean(), rel=1e-4)
        assert got["mean_spread"] == pytest.approx(means.std(), rel=1e-3, abs=1e-6)
        assert got["var_spread"] == pytest.approx(variances.std(), rel=1e-3, abs=1e-6)
        for q in (15, 50, 85):
            assert got[f"p{q}"] == pytest.approx(np.percentile(act_in[:, 5], q), rel=1e-4, abs=1e-5)
        if norm == "bn":
            assert got["bn_in_mean"] == pytest.approx(bn_in.mean(0).mean(), rel=1e-4, abs=1e-6)
            assert got["bn_in_var"] == pytest.approx(bn_in.var(0).mean(), rel=1e-4)
            assert got["bn_in_var_spread"] == pytest.approx(bn_in.var(0).std(), rel=1e-3)
            for q in (15, 50, 85):
                assert got[f"bn_in_p{q}"] == pytest.approx(np.percentile(bn_in[:, 5], q), rel=1e-4, abs=1e-5)
            # after one update from (0, 1) with momentum 0.1
            assert got["running_mean"] == pytest.approx(0.1 * bn_in.mean(0).mean(), rel=1e-3, abs=1e-7)
            assert got["running_var_gap"] == pytest.approx(0.9 * np.abs(1 - bn_in.var(0, ddof=1)).mean(), rel=1e-3)
    units = trainer.recorder.frames()["units"]
    for layer, (act_in, _) in enumerate(by_hand, start=1):
        mine = units[units.layer == layer].sort_values("unit")
        np.testing.assert_allclose(mine["mean"], act_in.mean(0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(mine["var"], act_in.var(0), rtol=1e-3, atol=1e-6)
    history = trainer.recorder.frames()["history"]
    loss = _cross_entropy(logits, y.numpy())
    assert history.train_loss[0] == pytest.approx(loss, rel=1e-5)
    assert history.train_accuracy[0] == pytest.approx((logits.argmax(1) == y.numpy()).mean())


def test_gradient_norm_and_update_ratio_match_the_weights(mnist):
    config = TrainConfig(norm="plain", steps=1, batch_size=32, lr=0.5, eval_size=100)
    eval_x, eval_y = mnist.batch("test", torch.arange(100))
    trainer = Trainer("plain", config, eval_x, eval_y)
    before = [linear.weight.detach().clone() for linear in trainer.model.linears()]
    x, y = mnist.batch("train", torch.arange(32))
    trainer.step(x, y, step=0)
    params = trainer.recorder.frames()["params"].set_index(["layer", "quantity"])["value"]
    for layer, (w0, linear) in enumerate(zip(before, trainer.model.linears(), strict=True), start=1):
        update = (linear.weight.detach() - w0).norm().item()
        assert params[(layer, "grad_norm")] == pytest.approx(update / 0.5, rel=1e-4)
        assert params[(layer, "update_ratio")] == pytest.approx(update / w0.norm().item(), rel=1e-4)


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())
