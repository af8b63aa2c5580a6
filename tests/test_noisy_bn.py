"""Noisy BN's noise against its documented law (models.NoisyBatchNorm1d): per example and unit, i.i.d. given the
step's distribution, whose mean is redrawn at every step; the moments of the law; eval mode's expectation.

The statistical checks use fixed seeds and tolerances of about 5 standard errors of each estimate (given
beside it), so they fail on a wrong law, not by chance."""

import math

import pytest
import torch
from torch import nn

from bn_demo.core.models import NoisyBatchNorm1d

A = 1.0
UNITS = 50


def draws(steps: int, batch: int, a: float = A, seed: int = 0) -> tuple[NoisyBatchNorm1d, list[dict]]:
    """`steps` training-mode passes on one batch: each pass's step distribution and per-example noise."""
    noisy = NoisyBatchNorm1d(UNITS, noise_scale=a, seed=seed)
    x = torch.randn(batch, UNITS, generator=torch.Generator().manual_seed(seed))
    out = []
    for _ in range(steps):
        y = noisy(x)
        out.append(
            {
                "y": y.detach(),
                "mu": noisy.shift_mean.clone(),
                "nu": noisy.scale_mean.clone(),
                "m": noisy.last_shift.clone(),
                "s": noisy.last_scale.clone(),
            }
        )
    return noisy, out


def test_output_is_bn_times_the_scale_plus_the_shift_of_each_example():
    noisy, (d,) = draws(1, 16)
    x = torch.randn(16, UNITS, generator=torch.Generator().manual_seed(0))
    expected = nn.BatchNorm1d(UNITS)(x) * d["s"] + d["m"]
    torch.testing.assert_close(d["y"], expected)
    assert d["m"].shape == d["s"].shape == (16, UNITS)


def test_noise_is_independent_across_examples_given_the_step():
    """Within one step, every example draws its own noise: the deviations from the step's means are
    U(-a/2, a/2), uncorrelated between examples and between scale and shift."""
    batch = 2000
    _, (d,) = draws(1, batch)
    dm, ds = d["m"] - d["mu"], d["s"] - d["nu"]  # (B, U) deviations from the step's means
    n = batch * UNITS
    assert dm.abs().max() <= A / 2 and ds.abs().max() <= A / 2
    for dev in (dm, ds):
        assert dev.mean().item() == pytest.approx(0, abs=5 * A / math.sqrt(12 * n))  # se of a mean: σ/√n
        assert dev.var().item() == pytest.approx(A**2 / 12, rel=0.03)  # se ≈ 0.6% of the variance at this n
    neighbours = (dm[:-1] * dm[1:]).mean() / dm.var()  # correlation of consecutive examples, per unit pooled
    assert abs(neighbours.item()) < 5 / math.sqrt(n)
    assert abs(((dm * ds).mean() / (dm.std() * ds.std())).item()) < 5 / math.sqrt(n)
    assert len({tuple(row) for row in d["m"][:, :3].tolist()}) == batch  # no two examples share their noise


def test_the_steps_distribution_has_non_zero_mean_and_is_redrawn_every_step():
    steps = 400
    _, out = draws(steps, 8)
    mu = torch.stack([d["mu"] for d in out])  # (steps, U)
    nu = torch.stack([d["nu"] for d in out])
    n = steps * UNITS
    # across steps: mu ~ U(-a, a) (mean 0, var a²/3) and nu ~ U(1, 1 + a) (mean 1 + a/2, var a²/12)
    assert mu.mean().item() == pytest.approx(0, abs=5 * math.sqrt(A**2 / 3 / n))
    assert mu.var().item() == pytest.approx(A**2 / 3, rel=0.03)  # se ≈ 0.9%
    assert nu.mean().item() == pytest.approx(1 + A / 2, abs=5 * math.sqrt(A**2 / 12 / n))
    assert nu.var().item() == pytest.approx(A**2 / 12, rel=0.03)
    assert mu.min() >= -A and mu.max() <= A and nu.min() >= 1 and nu.max() <= 1 + A
    # a new distribution at every step, unrelated to the last one
    assert all(not torch.equal(a, b) for a, b in zip(mu, mu[1:], strict=False))
    lag = ((mu[:-1] * mu[1:]).mean() / mu.var()).item()
    assert abs(lag) < 5 / math.sqrt(n)
    # non-zero mean: each step's noise is centred on its own mu, not on 0
    _, (d,) = draws(1, 4000)
    assert d["mu"].abs().min() > 0
    torch.testing.assert_close(d["m"].mean(0), d["mu"], atol=5 * A / math.sqrt(12 * 4000), rtol=0)


@pytest.mark.parametrize("a", [0.5, 2.0])
def test_marginal_moments_of_the_law(a):
    """Pooled over steps and examples: E[m] = 0, Var[m] = 5a²/12, E[s] = 1 + a/2, Var[s] = a²/6."""
    _, out = draws(300, 64, a=a, seed=3)
    m = torch.stack([d["m"] for d in out]).double()
    s = torch.stack([d["s"] for d in out]).double()
    # the step's mean is shared by a batch, so the effective sample size of a mean is the number of step draws
    n_steps = 300 * UNITS
    assert m.mean().item() == pytest.approx(0, abs=5 * a / math.sqrt(3 * n_steps))
    assert s.mean().item() == pytest.approx(1 + a / 2, abs=5 * a / math.sqrt(12 * n_steps))
    assert m.var().item() == pytest.approx(5 * a**2 / 12, rel=0.05)
    assert s.var().item() == pytest.approx(a**2 / 6, rel=0.05)
    assert m.var().item() > 0 and not math.isclose(s.var().item(), 1.0, rel_tol=0.05)  # non-unit variance


def test_eval_applies_the_noises_expectation_to_bn_with_running_statistics():
    a = 2.0
    noisy, out = draws(2000, 32, a=a)
    # on average over training draws, the output is E[s]·BN(x) + E[m] = (1 + a/2)·BN(x)
    x = torch.randn(32, UNITS, generator=torch.Generator().manual_seed(0))
    bn_batch = nn.functional.batch_norm(x, None, None, training=True, eps=noisy.eps)
    mean_output = torch.stack([d["y"] for d in out]).mean(0)
    se = math.sqrt((5 * a**2 / 12 + a**2 / 6 * bn_batch.square().max().item()) / 2000)
    torch.testing.assert_close(mean_output, (1 + a / 2) * bn_batch, atol=5 * se, rtol=0)
    noisy.eval()
    running = nn.functional.batch_norm(x, noisy.running_mean, noisy.running_var, eps=noisy.eps)
    torch.testing.assert_close(noisy(x), (1 + a / 2) * running)
    state = noisy.noise_generator.get_state()
    noisy(x)
    assert torch.equal(state, noisy.noise_generator.get_state())  # eval mode draws nothing


def test_zero_strength_is_plain_batchnorm():
    noisy = NoisyBatchNorm1d(UNITS, noise_scale=0.0, seed=0)
    x = torch.randn(16, UNITS)
    torch.testing.assert_close(noisy(x), nn.BatchNorm1d(UNITS)(x))
    noisy.eval()
    running = nn.functional.batch_norm(x, noisy.running_mean, noisy.running_var, eps=noisy.eps)
    torch.testing.assert_close(noisy(x), running)
