import numpy as np
import pytest
import torch

from bn_demo.core.config import TrainConfig
from bn_demo.core.models import build_model
from bn_demo.experiments.ics import MEASURES, gradient_shift, measure_ics
from tests.numpy_net import batch, loss_and_grads, parameters, sgd_step

LR = 0.5


def expected_ics(model, x, y, lr: float) -> list[tuple[float, float, float]]:
    """By hand: for layer i, the gradient of its weight before and after layers 1..i-1 took their step:
    ||G - G'||, cos(G, G') and ||G - G'|| / ||G||."""
    params = parameters(model)
    _, grads = loss_and_grads(params, x.double().numpy(), y.numpy())
    out = []
    for i in range(len(params)):
        _, shifted = loss_and_grads(sgd_step(params, grads, lr, range(i)), x.double().numpy(), y.numpy())
        g, g2 = grads[i][0].ravel(), shifted[i][0].ravel()
        change = np.linalg.norm(g - g2)
        out.append((change, g @ g2 / (np.linalg.norm(g) * np.linalg.norm(g2)), change / np.linalg.norm(g)))
    return out


@pytest.mark.parametrize("hidden", [(4,), (5, 3)])
def test_ics_matches_a_numpy_computation_of_the_definition(hidden):
    config = TrainConfig(norm="plain", hidden=hidden, activation="tanh", init="gaussian", init_std=0.3)
    model = build_model(config)
    x, y = batch()
    table = measure_ics(model, x, y, LR)
    expected = expected_ics(model, x, y, LR)
    assert list(table["layer"]) == list(range(1, len(hidden) + 2))
    assert table["l2"].to_numpy() == pytest.approx([e[0] for e in expected], rel=1e-3, abs=1e-7)
    assert table["cosine"].to_numpy() == pytest.approx([e[1] for e in expected], abs=1e-5)
    assert table["relative"].to_numpy() == pytest.approx([e[2] for e in expected], rel=1e-3, abs=1e-7)
    assert (table["l2"].iloc[1:] > 1e-4).all()  # the later layers did see a shift
    grad_norms = [np.linalg.norm(g[0]) for g in loss_and_grads(parameters(model), x.double().numpy(), y.numpy())[1]]
    assert table["grad_norm"].to_numpy() == pytest.approx(grad_norms, rel=1e-4)


@pytest.mark.parametrize("norm", ["plain", "bn", "noisy_bn"])
def test_first_layer_has_no_shift_and_the_model_is_left_unchanged(norm):
    model = build_model(TrainConfig(norm=norm, hidden=(16, 8)))
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    noise = [b.norm.noise_generator.get_state() for b in model.blocks if norm == "noisy_bn"]
    x, y = batch(32)
    table = measure_ics(model, x, y, LR)
    first = table.iloc[0]
    assert first["l2"] == 0 and first["relative"] == 0 and first["cosine"] == pytest.approx(1, abs=1e-12)
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(s, b.norm.noise_generator.get_state()) for s, b in zip(noise, model.blocks, strict=False))


def test_noisy_bn_shift_is_measured_with_one_noise_draw():
    """Same parameters and batch -> same answer: the noise does not change between the passes of a probe."""
    model = build_model(TrainConfig(norm="noisy_bn", hidden=(16, 8)))
    x, y = batch(32)
    a, b = measure_ics(model, x, y, LR), measure_ics(model, x, y, LR)
    assert a.equals(b)
    assert measure_ics(model, x, y, 0.0)["l2"].max() < 1e-6  # no step, no shift, even with noisy BN


def test_the_three_measures_on_gradients_worked_by_hand():
    """G = (3, 4), G' = (0, 4): ||G - G'|| = 3, ||G|| = 5, so relative 0.6; cos = 16 / (5 * 4) = 0.8. Twice the
    gradients: twice the absolute change, the same relative change and cosine (the scale-free measures)."""
    g, shifted = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 4.0]])
    assert gradient_shift(g, shifted) == pytest.approx((3.0, 0.6, 0.8, 5.0))
    assert gradient_shift(2 * g, 2 * shifted) == pytest.approx((6.0, 0.6, 0.8, 10.0))
    zero = torch.zeros(1, 2)
    l2, relative, cosine, norm = gradient_shift(zero, shifted)
    assert (l2, norm) == (4.0, 0.0) and np.isnan(relative) and np.isnan(cosine)
    assert MEASURES == ("l2", "relative", "cosine")
