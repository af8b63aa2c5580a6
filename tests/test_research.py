import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from bn_demo import research
from bn_demo.config import TrainConfig
from bn_demo.jobs import JobRegistry
from bn_demo.landscape import QUANTITIES
from bn_demo.models import build_model
from bn_demo.presets import IOFFE_2015
from bn_demo.results import RunResult
from bn_demo.train import Trainer, compare

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


def test_early_share_is_the_part_of_the_net_change_done_in_the_first_fifth():
    fast = np.r_[np.linspace(0, 8, 21), np.linspace(8, 10, 80)]  # 8 of 10 in the first fifth of 101 records
    result = research.early_share(fake_run("a", {"p50": fast}, []), layer=1)
    window = 101 // 20  # the running mean over five records lags the values by two
    assert result.step == 20 and result.first == pytest.approx(fast[:window].mean())
    assert result.share == pytest.approx((fast[16:21].mean() - result.first) / (fast[-5:].mean() - result.first))
    assert 0.6 < result.share < 0.8  # most of the change, as the data were made
    flat = research.early_share(fake_run("a", {"p50": np.ones(50)}, []), layer=1)
    assert np.isnan(flat.share)


def test_race_text_says_who_reached_each_target_first():
    text = research.race_text({0.9: 100, 0.95: 300, 0.97: None}, {0.9: 200, 0.95: 300, 0.97: None}, 1000)
    assert text == (
        "BN reached 90% first; both reached 95% at the same evaluation; neither run reached 97% within 1,000 steps."
    )
    assert research.race_text({0.9: None}, {0.9: 50}, 80) == "No BN reached 90% first."
    never = {0.9: None, 0.95: None, 0.97: None}
    assert research.race_text(never, never, 150) == "Neither run reached 90%, 95% and 97% within 150 steps."


def test_first_step_reaching_is_the_first_evaluation_at_or_above_the_target():
    run = fake_run("bn", {"p50": [0, 1]}, [(0, 0.1), (10, 0.92), (20, 0.95)])
    assert research.first_step_reaching(run, 0.9) == 10 and research.first_step_reaching(run, 0.95) == 20
    assert research.first_step_reaching(run, 0.96) is None


def test_probed_job_reports_progress_and_returns_probes(mnist):
    registry = JobRegistry()
    config = SMALL.with_(steps=10)
    job = registry.submit(("ics", config), research.probed_work(config, "ics", every=5, data=mnist), config.steps)
    status = job.wait(60)
    assert status.state == "done" and status.done == config.steps
    result = job.peek()
    assert set(result.runs) == {"bn", "plain"} and sorted(set(result.probes.step)) == [0, 5, 9]
