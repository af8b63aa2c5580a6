import threading

import numpy as np
import pandas as pd
import pytest
import torch

from bn_demo.core import train as train_module
from bn_demo.core.config import ConfigError, TrainConfig
from bn_demo.core.models import build_model
from bn_demo.core.train import PairedTraining, Trainer, compare, compare_configs, estimate, preserved_state, train


def test_same_seed_gives_identical_histories(mnist, tiny):
    a, b = compare(tiny, data=mnist), compare(tiny, data=mnist)
    for name in ("bn", "plain"):
        for table in ("history", "layers", "params", "evals"):
            pd.testing.assert_frame_equal(a[name].tables[table], b[name].tables[table])
        assert a[name].test_accuracy == b[name].test_accuracy
    c = compare(tiny.with_(seed=1), data=mnist)
    assert not np.allclose(a["bn"].history.train_loss, c["bn"].history.train_loss)


def test_paired_runs_start_from_identical_weights_and_see_the_same_batches(mnist, tiny, monkeypatch):
    seen: dict[str, list] = {"bn": [], "plain": []}
    original = Trainer.step

    def spy(self, x, y, step):
        if step == 0:
            seen[self.name].append([w.detach().clone() for w in self.weights])
        seen[self.name].append(y.clone())
        original(self, x, y, step)

    monkeypatch.setattr(Trainer, "step", spy)
    compare(tiny, data=mnist)
    first_bn, first_plain = seen["bn"][0], seen["plain"][0]
    assert all(torch.equal(a, b) for a, b in zip(first_bn, first_plain, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(seen["bn"][1:], seen["plain"][1:], strict=True))
    assert len(seen["bn"]) == tiny.steps + 1


def test_a_blown_up_run_is_marked_diverged_and_its_pair_goes_on(mnist):
    config = TrainConfig(lr=5.0, steps=60, batch_size=128, eval_size=200, eval_every=10)
    runs = compare(config, data=mnist)
    plain, bn = runs["plain"], runs["bn"]
    assert plain.diverged and plain.diverged_at is not None and plain.steps == plain.diverged_at
    assert not bn.diverged and bn.steps == 60
    assert plain.history.step.max() < plain.diverged_at  # what came before is kept
    assert np.isfinite(plain.history.train_loss).all()
    assert plain.summary()["test_accuracy"] is None


def test_diverged_at_is_the_first_step_whose_loss_is_not_finite(mnist, monkeypatch):
    config = TrainConfig(norm="plain", steps=20, batch_size=32, eval_size=100)
    original = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def poisoned(logits, y):
        loss = original(logits, y)
        if logits.requires_grad:
            calls["n"] += 1
            if calls["n"] == 8:  # the 8th training step is step 7
                return loss * float("nan")
        return loss

    monkeypatch.setattr(train_module.F, "cross_entropy", poisoned)
    run = PairedTraining({"plain": config}, mnist).run()["plain"]
    assert run.diverged and run.diverged_at == 7 and run.steps == 7


def test_stop_event_ends_every_run_and_keeps_what_was_recorded(mnist):
    stop = threading.Event()
    config = TrainConfig(steps=400, batch_size=32, eval_size=100, record_every=1)

    def progress(done, total):
        if done == 25:
            stop.set()

    runs = PairedTraining({"bn": config, "plain": config.with_(norm="plain")}, mnist).run(progress, stop)
    for run in runs.values():
        assert run.stopped and run.steps == 25 and len(run.history) == 25
        assert 0 <= run.test_accuracy <= 1


def test_paired_runs_must_share_batches(mnist):
    with pytest.raises(ConfigError, match="batch_size"):
        PairedTraining({"a": TrainConfig(batch_size=32), "b": TrainConfig(batch_size=64)}, mnist)


def test_evaluation_leaves_the_model_unchanged_and_shows_the_train_eval_gap(mnist, tiny):
    eval_x, eval_y = mnist.batch("test", torch.arange(300))
    trainer = Trainer("bn", tiny.with_(batch_size=16), eval_x, eval_y)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.evaluate(step=0)
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    evals = trainer.recorder.frames()["evals"]
    assert set(evals["mode"]) == {"eval", "train"}
    # eval mode of an untrained net, computed independently with the same weights
    model = build_model(tiny.with_(batch_size=16))
    model.eval()
    with torch.no_grad():
        accuracy = (model(eval_x).argmax(1) == eval_y).float().mean().item()
    assert evals.set_index("mode").loc["eval", "accuracy"] == pytest.approx(accuracy)


def test_final_test_accuracy_is_the_full_test_set_in_eval_mode(mnist, tiny):
    training = PairedTraining({"bn": tiny}, mnist)
    run = training.run()["bn"]
    model = training.trainers["bn"].model
    model.eval()
    x = (mnist.x_test.double().numpy() / 255 - 0.1307) / 0.3081
    with torch.no_grad():
        predictions = model(torch.tensor(x, dtype=torch.float32)).argmax(1).numpy()
    assert run.test_accuracy == pytest.approx((predictions == mnist.y_test.numpy()).mean(), abs=1e-4)
    assert run.test_accuracy > 0.5  # 30 steps of SGD on MNIST: far above chance


def test_preserved_state_restores_parameters_buffers_and_mode():
    model = build_model(TrainConfig(norm="noisy_bn"))
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    noise_state = model.blocks[0].norm.noise_generator.get_state()
    with preserved_state(model):
        model.train()
        model(torch.randn(8, 784))
        with torch.no_grad():
            model.head.weight.add_(1.0)
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(model.blocks[0].norm.noise_generator.get_state(), noise_state)


def test_plain_net_trains_with_batch_size_one(mnist):
    run = train(TrainConfig(norm="plain", batch_size=1, steps=5, eval_size=10, hidden=(16,)), data=mnist)
    assert run.steps == 5 and not run.diverged and len(run.history) == 5
    layers = run.layers[run.layers.layer == 1].pivot(index="step", columns="quantity", values="value")
    assert (layers["p15"] == layers["p85"]).all() and (layers["var"] == 0).all()  # one example per batch


def test_estimate_times_a_short_trial_and_scales_it_to_the_configured_run(mnist):
    config = TrainConfig(steps=200_000, batch_size=32, eval_size=100, eval_every=1000)
    timing = estimate(compare_configs(config), trial_steps=5, data=mnist)  # 200,000 steps would not return
    assert timing.step_seconds > 0 and timing.eval_seconds > 0 and timing.evaluations == 200 + 2
    assert timing.total_seconds == pytest.approx(200_000 * timing.step_seconds + 202 * timing.eval_seconds)
