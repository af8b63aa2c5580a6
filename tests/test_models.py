import math

import numpy as np
import pytest
import torch
from torch import nn

from bn_demo.core.config import IOFFE_2015, TrainConfig
from bn_demo.core.models import BatchNorm1d, build_model

EPS, MOMENTUM = 1e-5, 0.1  # nn.BatchNorm1d(256)'s defaults, as the note's network uses them


def test_default_config_is_exactly_the_notes_net():
    model = build_model(TrainConfig())
    (block,) = model.blocks
    assert (block.linear.in_features, block.linear.out_features) == (784, 256)
    assert isinstance(block.norm, nn.BatchNorm1d) and block.norm.num_features == 256
    assert block.norm.eps == EPS and block.norm.momentum == MOMENTUM
    assert block.norm.affine and block.norm.track_running_stats
    assert isinstance(block.activation, nn.ReLU)
    assert (model.head.in_features, model.head.out_features) == (256, 10)


def test_bn_output_matches_the_formula_by_hand():
    """(x − μ_B)/√(σ²_B + ε)·γ + β with the biased batch variance, per feature, in training mode."""
    torch.manual_seed(0)
    model = build_model(TrainConfig())
    bn = model.blocks[0].norm
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1.0, 1.0)
    x = torch.randn(32, 784)
    model.train()
    model(x)
    z = model.blocks[0].bn_input.double().numpy()
    mu, var = z.mean(axis=0), z.var(axis=0)
    gamma, beta = bn.weight.detach().double().numpy(), bn.bias.detach().double().numpy()
    by_hand = (z - mu) / np.sqrt(var + EPS) * gamma + beta
    np.testing.assert_allclose(model.blocks[0].activation_input.numpy(), by_hand, rtol=1e-4, atol=1e-5)
    # running averages: (1 - momentum) * initial + momentum * batch, with the unbiased variance
    np.testing.assert_allclose(bn.running_mean.numpy(), MOMENTUM * mu, rtol=1e-4, atol=1e-6)
    unbiased = z.var(axis=0, ddof=1)
    np.testing.assert_allclose(bn.running_var.numpy(), 1 - MOMENTUM + MOMENTUM * unbiased, rtol=1e-4)


def test_bn_in_eval_mode_uses_the_running_statistics():
    model = build_model(TrainConfig())
    bn = model.blocks[0].norm
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    model.eval()
    x = torch.randn(8, 784)
    model(x)
    z = model.blocks[0].bn_input.numpy()
    by_hand = (z - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + EPS)
    np.testing.assert_allclose(model.blocks[0].activation_input.numpy(), by_hand, rtol=1e-4, atol=1e-5)


def test_paired_models_share_every_linear_layer_and_seeds_differ():
    bn, plain = build_model(TrainConfig(norm="bn", seed=3)), build_model(TrainConfig(norm="plain", seed=3))
    for a, b in zip(bn.linears(), plain.linears(), strict=True):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert plain.norms() == []
    other = build_model(TrainConfig(norm="bn", seed=4))
    assert not torch.equal(bn.head.weight, other.head.weight)


@pytest.mark.parametrize("init", ["default", "xavier", "kaiming", "gaussian"])
def test_initialisations_have_their_documented_scale(init):
    model = build_model(TrainConfig(init=init, init_std=0.05))
    w = model.blocks[0].linear.weight.detach()  # (256, 784)
    expected_std = {
        "default": 1 / math.sqrt(784) / math.sqrt(3),  # U(-1/√fan_in, 1/√fan_in)
        "xavier": math.sqrt(2) * math.sqrt(2 / (784 + 256)),  # gain √2 for ReLU
        "kaiming": math.sqrt(2 / 784),
        "gaussian": 0.05,
    }[init]
    assert w.std().item() == pytest.approx(expected_std, rel=0.02)
    assert w.mean().item() == pytest.approx(0, abs=expected_std / 20)


def test_bn_after_activation_normalises_the_activation_output():
    model = build_model(TrainConfig(bn_placement="after", activation="tanh"))
    model.train()
    x = torch.randn(64, 784)
    model(x)
    block = model.blocks[0]
    assert torch.allclose(block.bn_input, torch.tanh(block.activation_input))


def test_ioffe_szegedy_preset_is_784_100_100_100_10_with_sigmoids():
    model = build_model(IOFFE_2015)
    shapes = [(linear.in_features, linear.out_features) for linear in model.linears()]
    assert shapes == [(784, 100), (100, 100), (100, 100), (100, 10)]
    assert all(isinstance(b.activation, nn.Sigmoid) for b in model.blocks)
    assert IOFFE_2015.batch_size == 60 and IOFFE_2015.init == "gaussian"


@pytest.mark.parametrize("momentum", [0.1, None, 0.001])
def test_our_batchnorm_is_exactly_torchs_and_keeps_the_batch_statistics(momentum):
    torch.manual_seed(0)
    ours, theirs = BatchNorm1d(20), nn.BatchNorm1d(20)
    ours.momentum = theirs.momentum = momentum
    for _ in range(3):
        x = torch.randn(32, 20, requires_grad=True)
        y_ours, y_theirs = ours(x), theirs(x)
        assert torch.equal(y_ours, y_theirs)
        (g_ours,) = torch.autograd.grad(y_ours.pow(3).sum(), x)
        (g_theirs,) = torch.autograd.grad(y_theirs.pow(3).sum(), x)
        assert torch.equal(g_ours, g_theirs)
        for name, buffer in theirs.named_buffers():
            assert torch.equal(getattr(ours, name), buffer), name
        z = x.detach().double().numpy()
        np.testing.assert_allclose(ours.batch_mean.numpy(), z.mean(0), atol=1e-6)
        np.testing.assert_allclose(ours.batch_invstd.numpy(), 1 / np.sqrt(z.var(0) + ours.eps), rtol=1e-5)
    with pytest.raises(ValueError, match="more than 1 value"):
        ours(torch.randn(1, 20))
