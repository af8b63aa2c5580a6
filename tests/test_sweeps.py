"""Sweeps: values as claimed, one paired comparison per value, divergence, progress, stop, budget; over seeds,
each seed's sweep equal to training it alone, and the job key holding the seeds."""

import threading

import numpy as np
import pytest

from bn_demo.core import seeds
from bn_demo.core.config import ConfigError
from bn_demo.core.train import compare
from bn_demo.experiments import sweeps
from bn_demo.serving.jobs import JobRegistry, check_budget, request_cost


def test_log_values_are_round_numbers_near_an_even_log_spacing():
    values = sweeps.log_values("lr", 0.01, 30, 5)
    assert values == (0.01, 0.1, 0.5, 5.0, 30.0)  # geometric: 0.01, 0.0740, 0.548, 4.05, 30
    for low, high, count in ((0.001, 30, 7), (1e-4, 10, 4), (0.3, 0.9, 3)):
        values = sweeps.log_values("lr", low, high, count)
        geometric = np.geomspace(low, high, count)
        assert values[0] == low and values[-1] == high and np.all(np.diff(values) > 0)
        assert np.all(np.abs(np.log(np.array(values) / geometric)) <= np.log(2) / 2 + 1e-9)  # nearest of 5, 10
        mantissas = np.array(values[1:-1]) / 10.0 ** np.floor(np.log10(values[1:-1]))
        np.testing.assert_allclose(mantissas, np.round(mantissas))  # 1, 2, 3 or 5 x 10^k
    crowded = sweeps.log_values("lr", 0.01, 1, 12)  # more points than round numbers in between
    assert len(set(crowded)) == 12 and np.all(np.diff(crowded) > 0)
    assert all(float(f"{v:.2g}") == v for v in crowded)
    for count, low, high in ((1, 0.01, 1), (5, 1, 0.1), (5, 0, 1), (sweeps.MAX_POINTS + 1, 0.01, 1)):
        with pytest.raises(ConfigError, match="lr"):
            sweeps.log_values("lr", low, high, count)


def test_geometric_ints():
    assert sweeps.geometric_ints("b", 4, 256, 4) == (4, 16, 64, 256)
    assert sweeps.geometric_ints("b", 3, 100, 2) == (3, 6, 12, 24, 48, 96)
    with pytest.raises(ConfigError, match="b"):
        sweeps.geometric_ints("b", 64, 4, 2)


def test_vary_changes_only_the_setting(tiny):
    sweep = sweeps.vary(tiny, "lr", (0.1, 1.0))
    for point, lr in zip(sweep.points, (0.1, 1.0), strict=True):
        assert point.config == tiny.with_(lr=lr) and point.value == lr and point.setting == "lr"
    with pytest.raises(ConfigError, match="lr"):
        sweeps.vary(tiny, "lr", (1000.0,))


def test_fixed_examples_sets_steps_per_batch_size(tiny):
    sweep = sweeps.batch_size_sweep(tiny, (8, 32, 100), examples=1600)
    assert [p.config.steps for p in sweep.points] == [200, 50, 16]
    assert sweep.total_steps == 200 + 50 + 16
    fixed = sweeps.batch_size_sweep(tiny, (8, 32))
    assert [p.config.steps for p in fixed.points] == [tiny.steps] * 2


def test_each_value_is_a_paired_comparison_equal_to_training_it_alone(mnist, tiny):
    sweep = sweeps.vary(tiny, "lr", (0.05, 0.5))
    result = sweeps.SweepRunner(sweep, mnist).run()
    points = result.points()
    assert result.complete and len(points) == 4
    assert list(points["run"]) == ["bn", "plain", "bn", "plain"]
    for lr in (0.05, 0.5):
        alone = compare(tiny.with_(lr=lr), data=mnist)
        for run in ("bn", "plain"):
            row = points[(points["value"] == lr) & (points["run"] == run)].iloc[0]
            assert row["test_accuracy"] == alone[run].test_accuracy
            assert row["train_loss"] == alone[run].train_loss
    curves = result.curves()
    first = curves[(curves["value"] == 0.05) & (curves["run"] == "bn")]
    np.testing.assert_array_equal(first["train_loss"], result.runs[0]["bn"].history["train_loss"])


def test_huge_learning_rate_is_flagged_diverged(mnist, tiny):
    result = sweeps.SweepRunner(sweeps.vary(tiny, "lr", (100.0,)), mnist).run()
    points = result.points()
    plain = points[points["run"] == "plain"].iloc[0]
    run = result.runs[0]["plain"]
    assert plain["diverged"] and run.diverged and plain["diverged_at"] == run.diverged_at < tiny.steps
    assert np.isnan(plain["test_accuracy"])
    assert plain["finished"] and plain["first_loss"] == run.history["train_loss"].iloc[0]


def test_progress_counts_steps_across_the_sweep_and_partial_results_follow(mnist, tiny):
    sweep = sweeps.vary(tiny, "lr", (0.05, 0.1))
    runner = sweeps.SweepRunner(sweep, mnist)
    seen = []

    def progress(done, total):
        partial = runner.partial()
        seen.append((done, total, len(partial.runs), partial.runs[-1]["bn"].steps if partial.runs else 0))

    runner.run(progress=progress)
    dones = [s[0] for s in seen]
    assert dones == sorted(dones) and dones[-1] == sweep.total_steps == 2 * tiny.steps
    assert all(total == sweep.total_steps for _, total, _, _ in seen)
    mid = [s for s in seen if s[0] == tiny.steps + 5][0]  # 5 steps into the second point
    assert mid[2] == 2 and mid[3] == 5


def test_stop_keeps_finished_points_and_the_interrupted_one(mnist, tiny):
    sweep = sweeps.vary(tiny, "lr", (0.05, 0.1, 0.2))
    stop = threading.Event()

    def progress(done, total):
        if done == tiny.steps + 7:
            stop.set()

    result = sweeps.SweepRunner(sweep, mnist).run(progress=progress, stop=stop)
    assert result.stopped and not result.complete
    assert len(result.runs) == 2
    assert result.runs[0]["bn"].steps == tiny.steps and not result.runs[0]["bn"].stopped
    assert result.runs[1]["bn"].steps == 7 and result.runs[1]["bn"].stopped
    assert list(result.points()["value"]) == [0.05, 0.05, 0.1, 0.1]


def test_seeded_sweep_job_trains_each_seed_as_its_own_sweep(mnist, tiny):
    seeded = sweeps.SeededSweep(sweeps.vary(tiny.with_(seed=3), "lr", (0.1, 0.5)), (3, 4))
    assert seeded.total_steps == 2 * 2 * tiny.steps and seeded.n_runs == 8 == len(seeded.trained)
    job = JobRegistry().submit(("page", seeded), seeded.work(mnist), seeded.total_steps)
    status = job.wait(300)
    assert status.state == "done" and status.done == status.total == seeded.total_steps
    results = job.peek()
    assert sweeps.seeded_complete(results) and results.seeds == (3, 4)
    points = sweeps.seeded_points(results)
    assert list(points["seed"]) == [3] * 4 + [4] * 4
    alone = sweeps.SweepRunner(sweeps.vary(tiny.with_(seed=4), "lr", (0.1, 0.5)), mnist).run().points()
    again = points[points["seed"] == 4].reset_index(drop=True)
    for column in ("test_accuracy", "test_loss", "train_loss", "value", "run"):
        assert list(again[column]) == list(alone[column])
    curves = sweeps.seeded_curves(results)
    assert set(curves["seed"]) == {3, 4} and len(curves) == 8 * tiny.steps


def test_seeded_sweep_changes_only_the_seed_and_keys_on_it(tiny):
    sweep = sweeps.vary(tiny, "lr", (0.1, 0.5))
    three, two = sweeps.SeededSweep(sweep, (0, 1, 2)), sweeps.SeededSweep(sweep, (0, 1))
    for point, moved in zip(sweep.points, three.at(7).points, strict=True):
        assert moved.config == point.config.with_(seed=7) and moved.value == point.value
    assert hash(three) != hash(two) and three != two
    assert three == sweeps.SeededSweep(sweeps.vary(tiny, "lr", (0.1, 0.5)), (0, 1, 2))


def test_partial_seeded_results_are_not_complete_and_cannot_be_quoted(mnist, tiny):
    seeded = sweeps.SeededSweep(sweeps.vary(tiny, "lr", (0.1,)), (0, 1))
    stop = threading.Event()
    seen = []

    def progress(done, total):
        if done == tiny.steps + 5:
            seen.append(sweeps.seeded_points(runner.partial()))
            stop.set()

    runner = seeds.SeededRun(lambda seed: sweeps.SweepRunner(seeded.at(seed), mnist), seeded.seeds)
    results = runner.run(progress=progress, stop=stop)
    assert not sweeps.seeded_complete(results)
    live = seen[0]
    assert list(live["finished"]) == [True, True, False, False]  # seed 1 was 5 steps in
    assert set(sweeps.decided(live)["seed"]) == {0}


def test_budget_refuses_a_sweep_past_the_limit(tiny):
    sweep = sweeps.vary(tiny.with_(steps=20_000), "lr", sweeps.log_values("lr", 0.01, 1, 12))
    assert sweep.total_steps * len(sweep.norms) == 20_000 * 24
    with pytest.raises(ConfigError, match="budget"):
        check_budget(request_cost(p.config.with_(norm=n) for p in sweep.points for n in sweep.norms))


def test_live_partial_history_equals_the_recorded_history(mnist, tiny):
    runner = sweeps.SweepRunner(sweeps.vary(tiny, "lr", (0.1,)), mnist)
    seen = {}

    def progress(done, total):
        if done == 12:
            seen["live"] = runner.partial().runs[0]["bn"]
            seen["full"] = runner.training.partial()["bn"]

    runner.run(progress=progress)
    live, full = seen["live"], seen["full"]
    assert live.steps == full.steps == 12
    np.testing.assert_array_equal(live.history["train_loss"], full.history["train_loss"])
    np.testing.assert_array_equal(live.history["step"], full.history["step"])
    np.testing.assert_array_equal(live.history["train_accuracy"], full.history["train_accuracy"])
    assert live.history["train_accuracy"].between(0, 1).all()  # a fraction of the batch, not a count


def test_a_finished_sweep_keeps_only_the_tables_its_pages_draw(mnist):
    """Per-unit tables of every run of every value would fill a small server's memory and the store."""
    sweep = sweeps.vary(sweeps.base_config(hidden=(16,), steps=12, batch_size=32, eval_size=100), "lr", (0.1,))
    result = sweeps.SweepRunner(sweep, mnist).run()
    assert all(set(run.tables) == set(sweeps.KEPT_TABLES) for runs in result.runs for run in runs.values())
    assert len(result.curves()) == 2 * 12  # both nets' every step still drawn
