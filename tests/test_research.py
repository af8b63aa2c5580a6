import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from bn_demo.core.config import IOFFE_2015, TrainConfig
from bn_demo.core.models import build_model
from bn_demo.core.results import RunResult
from bn_demo.core.train import Trainer, compare
from bn_demo.experiments import research
from bn_demo.experiments.landscape import QUANTITIES
from bn_demo.serving.jobs import JobRegistry

SMALL = TrainConfig(hidden=(32, 32), steps=24, batch_size=50, eval_size=100, eval_every=8)


def test_ioffe_preset_is_three_sigmoid_layers_of_100_with_small_gaussian_weights():
    for norm in ("plain", "bn"):
        model = build_model(IOFFE_2015.with_(norm=norm))
        shapes = [(lin.in_features, lin.out_features) for lin in model.linears()]
        assert shapes == [(784, 100), (100, 100), (100, 100), (100, 10)]
        assert all(isinstance(b.activation, nn.Sigmoid) for b in model.blocks)
        assert all((b.norm is None) == (norm == "plain") for b in model.blocks)
        for lin in model.linears():
            assert lin.weight.std().item() == pytest.approx(IOFFE_2015.init_std, rel=0.1)
            assert lin.weight.mean().item() == pytest.approx(0, abs=IOFFE_2015.init_std / 10)
            assert torch.count_nonzero(lin.bias) == 0
    assert IOFFE_2015.batch_size == 60 and IOFFE_2015.norm == "bn"


def test_noisy_bn_inside_a_trained_net_redraws_independent_noise_every_step(mnist):
    a = 0.5
    config = SMALL.with_(norm="noisy_bn", noise_scale=a, batch_size=64)
    trainer = Trainer("noisy_bn", config, *mnist.batch("test", torch.arange(100)))
    index = torch.arange(64)
    draws = []
    for step in range(3):
        x, y = mnist.batch("train", index + 64 * step)
        affine = [(b.norm.weight.detach().double(), b.norm.bias.detach().double()) for b in trainer.model.blocks]
        trainer.step(x, y, step)  # BN's scale and shift take their step after the forward pass
        for block, (gamma, beta) in zip(trainer.model.blocks, affine, strict=True):
            norm, z = block.norm, block.bn_input.double()
            mean, var = z.mean(0), z.var(0, unbiased=False)
            normalised = (z - mean) / torch.sqrt(var + norm.eps) * gamma + beta
            expected = normalised * norm.last_scale.double() + norm.last_shift.double()
            torch.testing.assert_close(block.activation_input.double(), expected, atol=1e-5, rtol=1e-5)
            assert (norm.last_shift.abs() <= 1.5 * a).all()  # mu + U(-a/2, a/2) with mu in (-a, a)
            assert ((norm.last_scale >= 1 - a / 2) & (norm.last_scale <= 1 + 1.5 * a)).all()
        draws.append([(b.norm.last_shift.clone(), b.norm.last_scale.clone()) for b in trainer.model.blocks])
    for earlier, later in zip(draws, draws[1:], strict=False):  # a new draw at every step
        assert all(
            not torch.equal(s0, s1) and not torch.equal(c0, c1)
            for (s0, c0), (s1, c1) in zip(earlier, later, strict=True)
        )
    first, second = draws[0]
    assert not torch.equal(first[0], second[0])  # the layers' noise is not one shared draw
    model = trainer.model.eval()
    with torch.no_grad():
        model(x)
    block = model.blocks[0]
    plain_bn = nn.functional.batch_norm(
        block.bn_input, block.norm.running_mean, block.norm.running_var, block.norm.weight, block.norm.bias
    )
    torch.testing.assert_close(block.activation_input, (1 + a / 2) * plain_bn)  # eval mode: the noise's expectation


def test_probes_see_every_kth_step_and_do_not_change_training(mnist):
    plain = compare(SMALL, data=mnist)
    probed = research.track(SMALL, "ics", every=10, data=mnist)
    for name in ("bn", "plain"):
        pd.testing.assert_frame_equal(plain[name].history, probed.runs[name].history)
        assert plain[name].test_accuracy == probed.runs[name].test_accuracy
    table = probed.probes
    assert list(table.columns[:2]) == ["run", "step"]
    assert set(table.run) == {"bn", "plain"}
    assert sorted(set(table.step)) == [0, 10, 20, SMALL.steps - 1]
    assert (table.groupby(["run", "step"]).size() == 3).all()  # two hidden layers and the head
    assert (table[table.layer == 1].l2 == 0).all() and (table[table.layer > 1].l2 > 0).all()


def test_landscape_bands_are_min_and_max_per_probe(mnist):
    probed = research.track(SMALL.with_(steps=6), "landscape", every=3, data=mnist)
    bands = research.landscape_bands(probed.probes)
    assert list(bands.columns) == ["run", "step", "quantity", "min", "max"]
    assert len(bands) == 2 * 3 * len(QUANTITIES)  # runs x probed steps (0, 3, 5) x quantities
    probes = probed.probes
    for row in bands.itertuples():
        values = probes[(probes.run == row.run) & (probes.step == row.step)][row.quantity]
        assert (row.min, row.max) == (values.min(), values.max())


def fake_run(name: str, values: dict[str, list[float]], evals: list[tuple[int, float]]) -> RunResult:
    steps = np.arange(len(next(iter(values.values()))))
    layers = pd.concat(
        [pd.DataFrame({"step": steps, "layer": 1, "quantity": q, "value": v}) for q, v in values.items()]
    )
    ev = pd.DataFrame([(s, "eval", 1.0, a) for s, a in evals], columns=["step", "mode", "loss", "accuracy"])
    return RunResult(name, TrainConfig(), len(steps), 0.0, tables={"layers": layers, "evals": ev})


def test_stability_is_mean_absolute_change_and_range_of_the_running_mean():
    rng = np.random.default_rng(0)
    wobbly = rng.normal(size=40)
    runs = {"a": fake_run("a", {"p50": wobbly, "var": np.linspace(0, 3, 40)}, [])}
    table = research.stability(runs, layer=1, quantities=("p50", "var")).set_index("quantity")
    assert table.loc["p50", "jitter"] == pytest.approx(np.mean(np.abs(np.diff(wobbly))))
    assert table.loc["var", "jitter"] == pytest.approx(3 / 39)
    smooth = np.convolve(wobbly, np.ones(4) / 4, mode="valid")  # a tenth of 40 records
    assert table.loc["p50", "drift"] == pytest.approx(smooth.max() - smooth.min())
    assert table.loc["var", "drift"] == pytest.approx(
        36 * 3 / 39
    )  # last and first windows' means: 37.5 and 1.5 steps of 3/39


def test_noisy_bn_inputs_jitter_more_than_bn_inputs(mnist):
    runs = research.noise_experiment(SMALL.with_(steps=40), data=mnist)
    assert set(runs) == set(research.NOISE_NORMS)
    table = research.stability(runs, layer=2).set_index(["run", "quantity"])
    for q in ("p15", "p50", "p85", "mean"):
        assert table.loc[("noisy_bn", q), "jitter"] > 2 * table.loc[("bn", q), "jitter"]


def test_movement_share_is_the_part_of_the_total_absolute_movement_made_early():
    # 11 values: the first fifth ends at index 2; movement 1 + 1 of 4 in all
    assert research.movement_share([0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4], 0.2) == (2, pytest.approx(0.5))
    # no net change (up then back down): the old "share of the net change" divided by zero; this is 50%
    assert research.movement_share([0, 5, 0], 0.5) == (1, pytest.approx(0.5))
    assert research.movement_share([3.0] * 20)[1] is None  # constant: nothing to time
    assert research.movement_share([1.0])[1] is None and research.movement_share([])[1] is None
    assert research.movement_share([math.nan] * 5)[1] is None
    assert research.movement_share([1e308, -1e308, 1e308, 1e308, 1e308], 0.25) == (1, pytest.approx(0.5))
    assert research.movement_share([0, math.nan, 1, math.inf, 2], 0.5)[1] == pytest.approx(0.5)  # NaN, inf left out


floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 1e308, -1e308, 5e-324, math.nan])


@given(st.lists(floats, max_size=60), st.floats(0.01, 0.99))
def test_movement_share_is_bounded_for_any_series(values, fraction):
    cut, share = research.movement_share(values, fraction)
    assert share is None or 0.0 <= share <= 1.0
    finite = [v for v in values if math.isfinite(v)]
    if share is not None:
        assert 1 <= cut <= len(finite) - 1
    if len(set(finite)) <= 1:
        assert share is None


normal = st.floats(-1e6, 1e6).filter(lambda v: v == 0 or abs(v) > 1e-200)  # scaling cannot underflow


@given(st.lists(normal, min_size=2, max_size=40), st.floats(0.01, 1e6))
def test_movement_share_does_not_depend_on_scale(values, scale):
    _, share = research.movement_share(values)
    _, scaled = research.movement_share([v * scale for v in values])
    assert (share is None) == (scaled is None)
    if share is not None:
        assert share == pytest.approx(scaled, abs=1e-6)


def test_early_share_times_the_smoothed_median_of_a_run():
    fast = np.r_[np.linspace(0, 8, 21), np.linspace(8, 10, 80)]  # 8 of 10 in the first fifth of 101 records
    result = research.early_share(fake_run("a", {"p50": fast}, []), layer=1)
    window = round(101 / 20)  # the running mean over five records lags the values by two
    smooth = np.convolve(fast, np.ones(window) / window, mode="valid")
    assert result.first == pytest.approx(smooth[0]) and result.last == pytest.approx(smooth[-1])
    cut = round(0.2 * (len(smooth) - 1))
    assert result.step == window - 1 + cut
    assert result.share == pytest.approx((smooth[cut] - smooth[0]) / (smooth[-1] - smooth[0]))  # monotone series
    assert 0.7 < result.share < 0.85  # most of the movement, as the data were made
    assert research.early_share(fake_run("a", {"p50": np.ones(50)}, []), layer=1).share is None
    wobble = np.r_[np.zeros(5), 5 * np.ones(5), np.zeros(90)]  # moves early and comes back: net change 0
    assert research.early_share(fake_run("a", {"p50": wobble}, []), layer=1).share == pytest.approx(1.0)


def test_first_step_reaching_is_the_first_evaluation_at_or_above_the_target():
    run = fake_run("bn", {"p50": [0, 1]}, [(0, 0.1), (10, 0.92), (20, 0.95)])
    assert research.first_step_reaching(run, 0.9) == 10 and research.first_step_reaching(run, 0.95) == 20
    assert research.first_step_reaching(run, 0.96) is None


def test_probed_request_trains_each_seed_paired_and_keys_on_the_seeds(mnist):
    config = SMALL.with_(steps=10, seed=4)
    request = research.probed_request(research.ICS, config, seeds=2, every=5, data=mnist)
    assert request.key[0] == "ics" and request.key[2] == (4, 5) and request.total == 20 and request.runs == 4
    assert hash(request.key) == hash(research.probed_request(research.ICS, config, seeds=2, every=5).key)
    assert request.key != research.probed_request(research.ICS, config, seeds=3, every=5).key
    job = JobRegistry().submit(request.key, request.work, request.total)
    status = job.wait(120)
    assert status.state == "done" and status.done == request.total
    result = job.peek()
    assert result.seeds == (4, 5) and len(result.per_seed) == 2
    for seed, probed in zip(result.seeds, result.per_seed, strict=True):
        assert set(probed.runs) == {"bn", "plain"} and sorted(set(probed.probes.step)) == [0, 5, 9]
        assert {r.config.seed for r in probed.runs.values()} == {seed}


def test_training_request_pairs_runs_within_each_seed(mnist):
    configs = research.noise_configs(SMALL.with_(steps=6, seed=2))
    request = research.training_request(research.NOISE, configs, seeds=2, data=mnist)
    assert request.key == ("noise", tuple(configs.values()), (2, 3)) and request.runs == 6 and request.total == 12
    job = JobRegistry().submit(request.key, request.work, request.total)
    assert job.wait(120).state == "done"
    first, second = job.peek().per_seed
    assert set(first) == set(research.NOISE_NORMS) and {r.config.seed for r in second.values()} == {3}
    alone = research.noise_experiment(SMALL.with_(steps=6, seed=3), data=mnist)  # seed 3 trained by itself
    for name in research.NOISE_NORMS:
        pd.testing.assert_frame_equal(second[name].history, alone[name].history)
