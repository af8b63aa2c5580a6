"""Recorded statistics against a manual numpy recomputation for a given batch."""

import numpy as np
import pandas as pd
import pytest
import torch

from bn_demo.core.config import TrainConfig
from bn_demo.core.data import batch_indices
from bn_demo.core.recorder import LAYER_FIELDS, Field, Recorder, layer_fields
from bn_demo.core.train import Trainer


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


def test_a_quantity_added_to_the_declaration_is_recorded_and_read_back_by_name(mnist):
    """One more Field in the layout and one more entry where it is measured: no offsets to touch, and
    every other table is exactly what the standard layout gives."""
    config = TrainConfig(hidden=(16, 8), steps=3, batch_size=20, eval_size=100, tracked_unit=2)
    extra = Field("act_absmax", "unit")

    class Measuring(Trainer):
        def _layer_parts(self, block):
            return super()._layer_parts(block) | {"act_absmax": block.activation_input.abs().amax(0)}

    eval_x, eval_y = mnist.batch("test", torch.arange(100))
    standard, measuring = Trainer("bn", config, eval_x, eval_y), Measuring("bn", config, eval_x, eval_y)
    measuring.recorder = Recorder(
        config.hidden,
        fields=(*layer_fields(True), extra),
        capacity=len(standard.recorder.rows),
        batch_size=config.batch_size,
        lr=config.lr,
        bn_eps=standard.recorder.bn_eps,
    )
    by_hand = [[] for _ in config.hidden]
    for step, index in enumerate(batch_indices(60000, config.batch_size, config.steps, config.seed)):
        x, y = mnist.batch("train", index)
        standard.step(x, y, step)
        measuring.step(x, y, step)
        for values, block in zip(by_hand, measuring.model.blocks, strict=True):
            values.append(np.abs(block.activation_input.numpy()).max(axis=0))
    recorded = measuring.recorder.field("act_absmax")
    assert [r.shape for r in recorded] == [(3, 16), (3, 8)]
    for got, want in zip(recorded, by_hand, strict=True):
        np.testing.assert_array_equal(got, np.stack(want))
    mine, theirs = measuring.recorder.frames(), standard.recorder.frames()
    for table in ("history", "layers", "params", "units"):
        pd.testing.assert_frame_equal(mine[table], theirs[table])


def test_every_field_is_read_back_from_its_own_columns():
    """Distinct values in every field of a one-layer row (and the scalars), read back into the tables."""
    recorder = Recorder((3,), fields=LAYER_FIELDS, capacity=2, batch_size=4, lr=0.1)
    t = torch.tensor
    scalars = {"loss": [t(2.5)], "correct": [t(3.0)], "grad_sq": [t(9.0), t(16.0)], "weight_sq": [t(4.0), t(64.0)]}
    layer = {"act_mean": t([1.0, 2.0, 3.0]), "act_var": t([4.0, 5.0, 9.0]), "act_tracked": t([10.0, 11, 12, 13])}
    recorder.record_step(7, scalars, [layer])
    tables = recorder.frames()
    assert tables["history"].to_dict("records") == [{"step": 7, "train_loss": 2.5, "train_accuracy": 0.75}]
    got = tables["layers"].set_index("quantity")["value"]
    assert (got["mean"], got["var"], got["p50"]) == (2.0, 6.0, 11.5)
    assert got["mean_spread"] == pytest.approx(np.std([1, 2, 3]))
    assert got["var_spread"] == pytest.approx(np.std([4, 5, 9]))
    params = tables["params"].set_index(["layer", "quantity"])["value"]
    assert params[(1, "grad_norm")] == 3 and params[(2, "grad_norm")] == 4
    assert params[(1, "update_ratio")] == pytest.approx(0.1 * 3 / 2)  # lr · |grad| / |weight|
    assert params[(2, "update_ratio")] == pytest.approx(0.1 * 4 / 8)
    np.testing.assert_array_equal(recorder.field("act_tracked")[0], [[10, 11, 12, 13]])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"act_var": torch.ones(4)}, r"'act_var' has shape \(4,\), declared \(3,\)"),
        ({"act_var": None}, "differ from the layout"),  # missing
        ({"act_max": torch.ones(3)}, "differ from the layout"),  # not declared
    ],
)
def test_parts_that_differ_from_the_declaration_fail_at_the_first_record(change, message):
    recorder = Recorder((3,), fields=LAYER_FIELDS, capacity=2, batch_size=4, lr=0.1)
    scalars = {"loss": [torch.tensor(1.0)], "correct": [torch.tensor(1.0)]}
    scalars |= {"grad_sq": [torch.tensor(1.0)] * 2, "weight_sq": [torch.tensor(1.0)] * 2}
    layer = {"act_mean": torch.zeros(3), "act_var": torch.ones(3), "act_tracked": torch.zeros(4)}
    bad = {k: v for k, v in (layer | change).items() if v is not None}
    with pytest.raises(ValueError, match=message):
        recorder.record_step(0, scalars, [bad])
    assert recorder.count == 0
    recorder.record_step(0, scalars, [layer])  # the declared parts are accepted
    assert recorder.count == 1


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())
