import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from bn_demo.core.config import TrainConfig
from bn_demo.core.models import build_model
from bn_demo.experiments.landscape import MULTIPLIERS, QUANTITIES, probe_landscape, ranges
from tests.numpy_net import Net, batch, loss_and_grads, parameters, sgd_step

LR = 0.3


def flat(grads) -> np.ndarray:
    return np.concatenate([g.ravel() for layer in grads for g in layer])


def test_loss_and_gradient_change_match_numpy_along_the_gradient():
    model = build_model(TrainConfig(norm="plain", hidden=(6, 4), activation="tanh", init="gaussian", init_std=0.3))
    x, y = batch(16)
    multipliers = (0.0, 0.5, 1.0, 4.0)
    probe = probe_landscape(model, x, y, LR, multipliers)
    params = parameters(model)
    xn, yn = x.double().numpy(), y.numpy()
    loss0, grads = loss_and_grads(params, xn, yn)
    g = flat(grads)
    for row, m in zip(probe.itertuples(), multipliers, strict=True):
        s = m * LR
        loss, moved = loss_and_grads(sgd_step(params, grads, s, range(len(params))), xn, yn)
        change = np.linalg.norm(flat(moved) - g)
        assert row.step_size == pytest.approx(s)
        assert row.loss == pytest.approx(loss, rel=1e-5)
        assert row.grad_change == pytest.approx(change, rel=1e-3, abs=1e-7)
        if m:
            assert row.smoothness == pytest.approx(change / (s * np.linalg.norm(g)), rel=1e-3)
    first = probe.iloc[0]
    assert first.loss == pytest.approx(loss0, rel=1e-5)
    assert first.grad_change == 0 and np.isnan(first.smoothness)  # no step: same gradient, ratio undefined
    assert probe.loss.iloc[1] < loss0  # a small step down the gradient lowers the loss


@pytest.mark.parametrize("norm", ["bn", "noisy_bn"])
def test_probe_uses_batch_statistics_and_leaves_the_model_unchanged(norm):
    model = build_model(TrainConfig(norm=norm, hidden=(16, 8)))
    x, y = batch(32)
    model.train()
    noise = [b.norm.noise_generator.get_state() for b in model.blocks if norm == "noisy_bn"]
    with torch.no_grad():
        expected = F.cross_entropy(model(x), y).item()  # train mode: batch statistics (and a noise draw)
    for b, state in zip(model.blocks, noise, strict=False):
        b.norm.noise_generator.set_state(state)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    probe = probe_landscape(model, x, y, LR, (0.0, *MULTIPLIERS))
    assert probe.loss.iloc[0] == pytest.approx(expected, rel=1e-6)
    assert probe.grad_change.iloc[0] == 0
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(s, b.norm.noise_generator.get_state()) for s, b in zip(noise, model.blocks, strict=False))


def test_ranges_are_the_min_and_max_over_step_sizes():
    probe = pd.DataFrame(
        {"loss": [2.0, 1.5, 3.0], "grad_change": [0.1, 0.4, 0.2], "smoothness": [np.nan, 0.8, 0.5]},
    )
    table = ranges(probe).set_index("quantity")
    assert list(table.index) == list(QUANTITIES)
    assert table.loc["loss"].tolist() == [1.5, 3.0]
    assert table.loc["grad_change"].tolist() == [0.1, 0.4]
    assert table.loc["smoothness"].tolist() == [0.5, 0.8]  # the undefined ratio at s = 0 is left out
    model = build_model(TrainConfig(norm="bn", hidden=(16,)))
    assert list(probe_landscape(model, *batch(32), LR).multiplier) == list(MULTIPLIERS)


def test_ranges_match_the_reference_on_a_bn_net():
    """On a BN net (every W, b, γ and β steps along the gradient), against the reference's values."""
    config = TrainConfig(norm="bn", hidden=(16,), activation="tanh")
    model = build_model(config)
    x, y = batch(32, seed=1)
    probe = probe_landscape(model, x, y, LR)
    assert list(probe.multiplier) == list(MULTIPLIERS)
    params, net, xn, yn = parameters(model), Net.of(config), x.double().numpy(), y.numpy()
    _, grads = loss_and_grads(params, xn, yn, net)
    g = flat(grads)
    expected = {"loss": [], "grad_change": [], "smoothness": []}
    for m in MULTIPLIERS:
        loss, moved = loss_and_grads(sgd_step(params, grads, m * LR, range(len(params))), xn, yn, net)
        change = np.linalg.norm(flat(moved) - g)
        expected["loss"].append(loss)
        expected["grad_change"].append(change)
        expected["smoothness"].append(change / (m * LR * np.linalg.norm(g)))
    table = ranges(probe).set_index("quantity")
    assert list(table.index) == list(QUANTITIES) and set(QUANTITIES) == set(expected)
    for q, values in expected.items():
        assert table.loc[q, "min"] == pytest.approx(min(values), rel=1e-3)
        assert table.loc[q, "max"] == pytest.approx(max(values), rel=1e-3)
    assert min(expected["loss"]) < max(expected["loss"])  # a band, not a point
