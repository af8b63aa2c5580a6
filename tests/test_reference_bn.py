"""The engine's BN nets against the independent float64 reference (tests/numpy_net.py): forward pass, loss,
every gradient, running statistics, eval mode, every statistic the recorder keeps, paired training and the
ICS probe. One regime has BN's input variance comparable to ε (gaussian init with std 1e-4), where ε
changes the answer by a factor of two or more, so a wrong ε cannot hide behind float32 noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bn_demo.core.config import TrainConfig
from bn_demo.core.data import MNIST
from bn_demo.core.models import build_model
from bn_demo.core.train import PairedTraining
from bn_demo.experiments.ics import measure_ics
from tests import numpy_net as ref

RTOL = 2e-4  # relative to the largest value of each compared array: float32 engine vs float64 reference
SMALL = TrainConfig(hidden=(32, 16), batch_size=32, steps=6, lr=0.1, eval_size=64, eval_every=3, tracked_unit=3)
CASES = {
    "relu-before-eps-regime": SMALL.with_(init="gaussian", init_std=1e-4),  # σ² of BN's input ~ ε
    "tanh-before": SMALL.with_(activation="tanh"),
    "sigmoid-after": SMALL.with_(activation="sigmoid", bn_placement="after"),
    "tanh-after-eps-regime": SMALL.with_(activation="tanh", bn_placement="after", init="gaussian", init_std=1e-4),
    "relu-plain": SMALL.with_(norm="plain"),
}
BN_CASES = [name for name, c in CASES.items() if c.norm == "bn"]


def assert_close(got, want, rtol: float = RTOL, what: str = "", scale: float | None = None) -> None:
    """|got − want| <= rtol · (|want| + scale), elementwise, with scale max|want| unless given: float32's
    error scales with the magnitude of what is computed, not of each element."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    scale = np.abs(want).max() if scale is None else scale
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


# ---- one step: forward, loss, gradients, running statistics, eval mode ----------------------------------


@pytest.mark.parametrize("case", CASES)
def test_one_step_matches_the_reference_forward_backward_running_stats_and_eval(mnist, case):
    config = CASES[case]
    model = build_model(config)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():  # γ and β away from 1 and 0, so that their use and their gradients show
        for norm in model.norms():
            norm.weight.copy_(torch.rand(norm.num_features, generator=g) + 0.5)
            norm.bias.copy_(torch.randn(norm.num_features, generator=g) * 0.5)
    params, running, net = ref.parameters(model), ref.running_stats(model), ref.Net.of(config)
    x, y = mnist.batch("train", torch.arange(config.batch_size))
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()

    fwd = ref.forward(params, x.double().numpy(), net)
    ref_loss, grads = ref.backward(params, fwd, y.numpy(), net)
    assert_close(logits.detach(), fwd.logits, what="logits")
    assert loss.item() == pytest.approx(ref_loss, rel=RTOL)
    engine_grads = ref.parameters(model)  # same layout as the parameters, read from .grad
    for i, block in enumerate(model.blocks):
        tensors = [block.linear.weight, block.linear.bias] + (
            [] if block.norm is None else [block.norm.weight, block.norm.bias]
        )
        engine_grads[i] = tuple(t.grad.double().numpy() for t in tensors)
    engine_grads[-1] = (model.head.weight.grad.double().numpy(), model.head.bias.grad.double().numpy())
    for layer, (mine, theirs) in enumerate(zip(engine_grads, grads, strict=True)):
        scale = max(np.abs(t).max() for t in theirs)  # b before BN: 0 in exact arithmetic, rounding in float32
        for name, a, b in zip(("W", "b", "γ", "β"), mine, theirs, strict=False):
            assert_close(a, b, what=f"gradient of {name} in layer {layer + 1}", scale=scale)

    updated = ref.updated_running(running, fwd) if net.bn else []
    for (mean, var), norm in zip(updated, model.norms(), strict=True):
        assert_close(norm.running_mean, mean, what="running mean")
        assert_close(norm.running_var, var, what="running var")
        assert norm.num_batches_tracked.item() == 1

    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    assert_close(eval_logits, ref.forward(params, x.double().numpy(), net, running=updated if net.bn else None).logits)


def test_the_eps_regime_is_one_where_eps_matters(mnist):
    """At init std 1e-4 BN's input variance is of the order of ε: the reference's BN output variance
    σ²/(σ² + ε) is far from 1, and changing ε by 10× changes it by more than 10%."""
    config = CASES["relu-before-eps-regime"]
    params, net = ref.parameters(build_model(config)), ref.Net.of(config)
    x, _ = ref.numpy_batch(mnist, "train", torch.arange(32))
    variances = [ref.forward(params, x, net, eps=eps).layers[0].act_in.var(0).mean() for eps in (1e-5, 1e-4)]
    assert 0.05 < variances[0] < 0.9 and variances[1] < 0.9 * variances[0]


# ---- every recorded statistic, step by step ----------------------------------------------------------


def distribution(values: np.ndarray, unit: int) -> dict[str, float]:
    """Per-unit batch mean and biased variance, averaged and spread across units; tracked unit's percentiles."""
    means, variances = values.mean(0), values.var(0)
    return {
        "mean": means.mean(),
        "var": variances.mean(),
        "mean_spread": means.std(),
        "var_spread": variances.std(),
        **{f"p{q}": np.percentile(values[:, unit], q) for q in (15, 50, 85)},
    }


def expected_layer(step: ref.Step, layer: int, unit: int) -> dict[str, float]:
    """What the layers table should hold for one hidden layer at one recorded step."""
    values = step.fwd.layers[layer]
    out = distribution(values.act_in, unit)
    if values.bn_in is not None:
        out |= {f"bn_in_{k}": v for k, v in distribution(values.bn_in, unit).items()}
        running_mean, running_var = step.running[layer]  # after this step's update
        out |= {
            "running_mean": running_mean.mean(),
            "running_var": running_var.mean(),
            "running_mean_gap": np.abs(running_mean - values.bn_in.mean(0)).mean(),
            "running_var_gap": np.abs(running_var - values.bn_in.var(0, ddof=1)).mean(),
        }
    return out


def expected_evals(config: TrainConfig, data: MNIST, steps: list[ref.Step], final) -> list[tuple]:
    """(step, mode, loss, accuracy) of every evaluation: every eval_every steps before that step's update,
    and after the last; eval mode on running statistics, and for BN nets train mode on whole batches."""
    x, y = ref.numpy_batch(data, "test", data.eval_indices(config.eval_size))
    net, out = ref.Net.of(config), []
    initial = ref.running_stats(build_model(config))
    for s in [*range(0, config.steps, config.effective_eval_every), config.steps]:
        params, running = final if s == config.steps else (steps[s].params, steps[s - 1].running if s else initial)
        logits = ref.forward(params, x, net, running=running if net.bn else None).logits
        out.append((s, "eval", ref.cross_entropy(logits, y)[0], (logits.argmax(1) == y).mean()))
        if net.bn:
            b = config.batch_size
            chunks = [ref.forward(params, x[i : i + b], net).logits for i in range(0, len(y) // b * b, b)]
            logits, labels = np.concatenate(chunks), y[: len(chunks) * b]
            losses = [ref.cross_entropy(c, labels[i * b : (i + 1) * b])[0] for i, c in enumerate(chunks)]
            out.append((s, "train", np.mean(losses), (logits.argmax(1) == labels).mean()))
    return out


@pytest.mark.parametrize("case", CASES)
def test_every_recorded_statistic_matches_the_reference_step_by_step(mnist, case):
    config = CASES[case]
    run = PairedTraining({case: config}, mnist).run()[case]
    steps, final_params, final_running = ref.train_run(config, mnist)
    assert run.steps == len(steps) == config.steps

    history = run.history
    assert list(history.step) == list(range(config.steps))
    assert_close(history.train_loss, [s.loss for s in steps], what="training loss")
    accuracy = [(s.fwd.logits.argmax(1) == s.y).mean() for s in steps]
    np.testing.assert_array_equal(history.train_accuracy, accuracy)

    layers = run.layers.set_index(["layer", "quantity", "step"])["value"].sort_index()
    for layer in range(len(config.hidden)):
        expected = [expected_layer(s, layer, config.tracked_unit) for s in steps]
        assert set(layers.loc[layer + 1].index.get_level_values(0)) == set(expected[0])
        for quantity in expected[0]:
            want = [e[quantity] for e in expected]
            assert_close(layers.loc[(layer + 1, quantity)], want, what=f"layer {layer + 1} {quantity}")

    params = run.tables["params"].set_index(["layer", "quantity", "step"])["value"].sort_index()
    for layer in range(len(config.hidden) + 1):
        grad_norms = np.array([np.linalg.norm(s.grads[layer][0]) for s in steps])
        weight_norms = np.array([np.linalg.norm(s.params[layer][0]) for s in steps])
        assert_close(params.loc[(layer + 1, "grad_norm")], grad_norms, what=f"grad norm {layer + 1}")
        assert_close(params.loc[(layer + 1, "update_ratio")], config.lr * grad_norms / weight_norms)

    units = run.tables["units"]
    for layer in range(len(config.hidden)):
        mine = units[units.layer == layer + 1].sort_values(["step", "unit"])
        act_in = [s.fwd.layers[layer].act_in for s in steps]
        assert_close(mine["mean"], np.concatenate([a.mean(0) for a in act_in]), what="per-unit means")
        assert_close(mine["var"], np.concatenate([a.var(0) for a in act_in]), what="per-unit variances")

    evals = run.tables["evals"]
    want = expected_evals(config, mnist, steps, (final_params, final_running))
    assert list(zip(evals["step"], evals["mode"], strict=True)) == [w[:2] for w in want]
    assert_close(evals["loss"], [w[2] for w in want], what="held-out losses")
    np.testing.assert_array_equal(evals["accuracy"], [w[3] for w in want])


def test_paired_training_feeds_every_net_the_same_minibatches(mnist):
    """Each net of a paired run matches the reference trained on the minibatches of the seed: a net
    fed any other batch (or its batches in another order) fails here."""
    configs = {name: CASES[name].with_(steps=8) for name in ("tanh-before", "relu-plain", "sigmoid-after")}
    runs = PairedTraining(configs, mnist).run()
    for name, config in configs.items():
        steps, _, _ = ref.train_run(config, mnist)
        assert_close(runs[name].history.train_loss, [s.loss for s in steps], what=name)


# ---- the ICS probe on BN nets -------------------------------------------------------------------------


@pytest.mark.parametrize("case", BN_CASES)
def test_ics_probe_on_a_bn_net_matches_the_reference(mnist, case):
    """Layer k's weight gradient before and after every earlier layer (its W, b, γ and β) took its SGD step."""
    config = CASES[case]
    model = build_model(config)
    x, y = mnist.batch("train", torch.arange(32))
    lr = 0.5
    table = measure_ics(model, x, y, lr)
    params, net = ref.parameters(model), ref.Net.of(config)
    xn, yn = x.double().numpy(), y.numpy()
    _, grads = ref.loss_and_grads(params, xn, yn, net)
    for k in range(len(params)):
        _, shifted = ref.loss_and_grads(ref.sgd_step(params, grads, lr, range(k)), xn, yn, net)
        g, g2 = grads[k][0].ravel(), shifted[k][0].ravel()
        row = table.iloc[k]
        assert row["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=RTOL)
        assert row["l2"] == pytest.approx(np.linalg.norm(g - g2), rel=1e-3, abs=RTOL * np.linalg.norm(g))
        assert row["cosine"] == pytest.approx(g @ g2 / (np.linalg.norm(g) * np.linalg.norm(g2)), abs=RTOL)
    assert (table["l2"].iloc[1:] > 1e-3 * table["grad_norm"].iloc[1:]).all()  # later layers did shift
