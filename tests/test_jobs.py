"""The job registry: shared jobs, the queue and its bound, Stop that detaches one session, abandoned jobs,
results kept in memory within a byte bound and on disk across a restart, and the budget in cost. Most
tests use fake work (a loop that reports steps until told to stop), so they take milliseconds."""

import gc
import threading
import time
import weakref

import numpy as np
import pandas as pd
import pytest

from bn_demo.core.config import ConfigError, TrainConfig
from bn_demo.core.train import compare_configs
from bn_demo.serving import jobs
from bn_demo.serving.jobs import (
    Job,
    JobRegistry,
    JobStatus,
    ServerBusy,
    check_budget,
    request_cost,
    start_wait,
    training_cost,
    training_work,
)
from bn_demo.serving.store import ResultStore, key_digest


def stepping(steps: int = 10_000, pause: float = 0.002, result=None):
    """Fake work: report a step every `pause` s until `steps` or a stop; return `result` or the steps done."""

    def work(job: Job):
        done = 0
        while done < steps and not job.stop_event.is_set():
            time.sleep(pause)
            done += 1
            job.report(done, steps)
        return done if result is None else result

    return work


def until(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def test_identical_requests_share_one_job_and_get_the_engines_result(mnist):
    registry = JobRegistry()
    config = TrainConfig(steps=20, batch_size=64, eval_size=100)
    key = tuple(compare_configs(config).values())
    first = registry.submit(key, training_work(compare_configs(config), mnist), total=20)
    second = registry.submit(key, training_work(compare_configs(config), mnist), total=20)
    assert first is second
    status = first.wait(timeout=120)
    assert status.state == "done" and status.done == 20 and status.fraction == 1
    runs = first.peek()
    assert set(runs) == {"bn", "plain"} and runs["bn"].steps == 20


def test_a_stopped_training_keeps_its_records_and_a_new_request_retrains_at_once(mnist):
    registry = JobRegistry()
    config = TrainConfig(steps=5000, batch_size=32, eval_size=100)
    job = registry.submit("k", training_work(compare_configs(config), mnist), total=5000, session="me")
    until(lambda: job.status().done >= 10, 60)
    assert registry.leave(job, "me")  # alone: leaving stops it
    again = registry.submit("k", stepping(1), total=1)  # before the old thread has ended: not joined
    assert again is not job and registry.find("k") is again
    assert job.wait(120).state == "stopped"
    runs = job.peek()
    assert all(r.stopped and 10 <= r.steps < 5000 for r in runs.values())
    assert again.wait(10).state == "done"


def test_a_failing_job_reports_its_error_as_a_message():
    def broken(job):
        raise ValueError("no such layer")

    registry = JobRegistry()
    job = registry.submit("bad", broken, total=1)
    status = job.wait(10)
    assert status.state == "failed" and status.error == "ValueError: no such layer"
    assert registry.find("bad") is None  # a failure is not a result to share


def test_jobs_queue_behind_the_concurrency_limit_and_say_where_they_stand():
    registry = JobRegistry(max_concurrent=1)
    release = threading.Event()
    first = registry.submit("a", lambda job: release.wait(10), total=1)
    until(lambda: first.status().state == "running")
    second = registry.submit("b", lambda job: "second", total=1)
    third = registry.submit("c", lambda job: "third", total=1)
    assert (registry.status(second).position, registry.status(third).position) == (1, 2)
    assert registry.status(third).wait is None  # the server has not measured anything yet
    release.set()
    assert second.wait(10).state == "done" and second.peek() == "second"
    assert third.wait(10).state == "done" and registry.status(third).position is None


def test_the_wait_in_the_queue_comes_from_the_jobs_ahead():
    registry = JobRegistry(max_concurrent=1)
    registry.seconds_per_cost = 1.0  # as if measured: one second per unit of cost
    release = threading.Event()
    first = registry.submit("a", lambda job: release.wait(10), total=1, cost=5)
    until(lambda: first.status().state == "running")
    second = registry.submit("b", stepping(1), total=1, cost=3)
    third = registry.submit("c", stepping(1), total=1, cost=1)
    assert registry.status(second).wait == pytest.approx(5 - first.status().elapsed, abs=0.2)
    assert registry.status(third).wait == pytest.approx(8 - first.status().elapsed, abs=0.2)
    release.set()


def test_start_wait_fills_the_first_free_worker():
    assert start_wait([], [], workers=2) == 0
    assert start_wait([4.0], [], workers=2) == 0  # a worker is free
    assert start_wait([4.0, 6.0], [], workers=2) == 4
    assert start_wait([4.0, 6.0], [3.0], workers=2) == 6  # the one ahead takes the worker free at 4, until 7
    assert start_wait([4.0, 6.0], [3.0, 1.0], workers=2) == 7


def test_past_the_queue_bound_a_request_is_told_the_server_is_busy_and_the_wait():
    registry = JobRegistry(max_concurrent=1, max_queued=1)
    registry.seconds_per_cost = 1.0
    release = threading.Event()
    first = registry.submit("a", lambda job: release.wait(10), total=1, cost=30)
    until(lambda: first.status().state == "running")
    registry.submit("b", stepping(1), total=1, cost=60)
    with pytest.raises(ServerBusy, match=r"queue is full \(1 experiment waiting for 1 core\); .*about 90 s"):
        registry.submit("c", stepping(1), total=1)
    assert registry.submit("a", stepping(1), total=1) is first  # joining needs no place in the queue
    release.set()


def test_a_queued_job_that_is_stopped_says_so_and_never_runs():
    registry = JobRegistry(max_concurrent=1)
    release, ran = threading.Event(), threading.Event()
    first = registry.submit("a", lambda job: release.wait(10), total=1)
    until(lambda: first.status().state == "running")
    queued = registry.submit("b", lambda job: ran.set(), total=1, session="me")
    assert registry.leave(queued, "me")
    assert queued.status().state == "stopped" and queued.finished and registry.find("b") is None
    release.set()
    first.wait(10)
    time.sleep(0.05)
    assert not ran.is_set()


def test_stop_detaches_only_the_session_that_pressed_it():
    registry = JobRegistry()
    job = registry.submit("k", stepping(), total=10_000, session="starter")
    registry.watch(job, "other")
    assert not registry.leave(job, "starter")  # someone else watches: it goes on
    until(lambda: job.status().done > 5)
    assert job.status().state == "running" and registry.find("k") is job  # the starter can rejoin
    assert registry.leave(job, "other")  # the last one leaves: it stops, keeping what it recorded
    status = job.wait(10)
    assert status.state == "stopped" and job.peek() == status.done > 5


def test_a_new_train_replaces_the_sessions_own_earlier_job_on_that_page():
    registry = JobRegistry()
    mine = registry.submit("old", stepping(), total=10_000, session="me", page="train")
    shared = registry.submit("shared", stepping(), total=10_000, session="me", page="ics")
    registry.watch(shared, "friend")
    registry.submit("new", stepping(), total=10_000, session="me", page="train")
    assert mine.wait(10).state == "stopped"  # nobody else watched it
    registry.submit("newer", stepping(), total=10_000, session="me", page="ics")
    time.sleep(0.05)
    assert shared.status().state == "running"  # a friend still watches it
    for job in list(registry.active.values()):
        job.stop()


def test_an_abandoned_job_is_stopped_after_the_grace_period_and_keeps_its_partial_result():
    registry = JobRegistry(grace_seconds=0.3)
    job = registry.submit("k", stepping(), total=10_000, session="gone")
    status = job.wait(10)
    assert status.state == "stopped" and 0.3 <= status.elapsed < 3
    assert job.peek() == status.done > 0
    assert registry.find("k") is None


def test_a_watched_or_connected_job_is_not_abandoned():
    connected = {"tab"}
    registry = JobRegistry(grace_seconds=0.2, session_alive=lambda s: s in connected)
    beating = registry.submit("hb", stepping(), total=10_000, session="watcher")
    quiet = registry.submit("conn", stepping(), total=10_000, session="tab")
    end = time.monotonic() + 0.8
    while time.monotonic() < end:
        registry.watch(beating, "watcher")
        time.sleep(0.05)
    assert beating.status().state == quiet.status().state == "running"
    connected.clear()  # the tab closed: nobody watches "conn" any more
    assert quiet.wait(10).state == "stopped"
    beating.stop()


def test_jobs_without_a_session_are_never_abandoned():
    registry = JobRegistry(grace_seconds=0.05)
    job = registry.submit("cli", stepping(60, 0.005), total=60)
    assert job.wait(10).state == "done"


def test_finished_in_is_the_jobs_own_duration():
    job = JobRegistry().submit("k", lambda job: time.sleep(0.2), total=1)
    first = job.wait(10).elapsed
    time.sleep(0.3)
    assert 0.2 <= first < 0.3 and job.status().elapsed == first


def test_a_finished_job_holds_its_result_and_not_its_trainer():
    class Runner:
        def partial(self):
            return "partial"

    def work(job):
        runner = Runner()
        job.peek_fn = runner.partial
        runners.append(weakref.ref(runner))
        return pd.DataFrame({"x": [1]})

    runners = []
    job = JobRegistry().submit("k", work, total=1)
    job.wait(10)
    gc.collect()
    assert runners[0]() is None and job.work is None and job.peek_fn is None
    assert job.peek().equals(pd.DataFrame({"x": [1]}))


def test_watchers_share_one_partial_result_per_refresh(monkeypatch):
    calls = []

    def work(job):
        job.peek_fn = lambda: calls.append(1) or {"at": len(calls)}
        job.stop_event.wait(10)

    job = JobRegistry().submit("k", work, total=1)
    until(lambda: job.peek_fn is not None)
    views = [job.peek() for _ in range(30)]
    assert len(calls) == 1 and all(v is views[0] for v in views)
    monkeypatch.setattr(jobs, "PEEK_SECONDS", 0.0)
    assert job.peek() is not views[0] and len(calls) == 2
    job.stop()


def frame_of(n: int) -> pd.DataFrame:
    return pd.DataFrame({"v": np.arange(n, dtype=np.float64)})


def test_finished_results_in_memory_stay_within_their_byte_bound(tmp_path):
    size = frame_of(10_000).memory_usage(deep=True).sum()
    registry = JobRegistry(memory_bytes=int(2.5 * size), stores=[ResultStore(tmp_path)])
    done = []
    for k in "abc":  # one after another: two workers could finish them out of order
        done.append(registry.submit(k, lambda job: frame_of(10_000), total=1))
        done[-1].wait(10)
    assert list(registry.kept) == ["b", "c"] and sum(s for _, s in registry.kept.values()) <= registry.memory_bytes
    assert done[0].result is None  # released: on disk, not in memory
    pd.testing.assert_frame_equal(done[0].peek(), frame_of(10_000))  # read back when asked
    unstored = JobRegistry(memory_bytes=int(1.5 * size))
    first = unstored.submit("a", lambda job: frame_of(10_000), total=1)
    first.wait(10)
    unstored.submit("b", lambda job: frame_of(10_000), total=1).wait(10)
    assert unstored.find("a") is None and first.result is not None  # dropped by the server, not by its viewers


def test_a_result_survives_a_restart_and_is_shown_without_training(tmp_path, mnist):
    config = TrainConfig(steps=10, batch_size=32, eval_size=100)
    key = tuple(compare_configs(config).values())
    trained = JobRegistry(stores=[ResultStore(tmp_path)]).submit(key, training_work(compare_configs(config), mnist), 10)
    seconds = trained.wait(60).elapsed

    def must_not_train(job):
        raise AssertionError("trained again")

    restarted = JobRegistry(stores=[ResultStore(tmp_path)])
    job = restarted.submit(key, must_not_train, total=10)
    status = restarted.status(job)
    assert status.state == "done" and status.stored and status.elapsed == pytest.approx(seconds)
    assert job.peek()["bn"].history.equals(trained.peek()["bn"].history)
    assert restarted.find_digest(key_digest(key)) is job


def test_the_seconds_left_are_quoted_only_from_a_measured_rate():
    assert JobStatus("running", 4, 1000, 0.2).seconds_left is None  # 4 steps in 0.2 s: no rate yet
    assert JobStatus("running", 100, 1000, 1.0).seconds_left is None  # not long enough
    assert JobStatus("running", 100, 1000, 2.0).seconds_left == pytest.approx(18.0)
    assert JobStatus("queued", 100, 1000, 2.0).seconds_left is None


def test_training_cost_counts_every_multiply_add():
    c = TrainConfig(hidden=(100, 50), steps=10, batch_size=8, eval_size=20, eval_every=5, norm="plain")
    per_example = 784 * 100 + 100 * 50 + 50 * 10
    evaluations = 10 // 5 + 2  # every 5 steps, after the last step, and the final test
    expected = per_example * (3 * 10 * 8 + evaluations * 20 + 10_000)
    assert training_cost(c) == expected
    assert training_cost(c.with_(norm="bn")) == expected + per_example * evaluations * 20  # train-mode evals
    assert request_cost([c, c.with_(norm="bn")]) == training_cost(c) + training_cost(c.with_(norm="bn"))


def test_the_budget_refuses_the_costly_request_and_accepts_the_lessons():
    huge = TrainConfig(hidden=(256,) * 4, steps=60_000, batch_size=1024, norm="bn")
    with pytest.raises(ConfigError, match=r"budget of 5,000 billion multiply-adds \(about 83 min here\)"):
        check_budget(request_cost([huge]), seconds_per_cost=1e-9)
    from bn_demo.core.config import IOFFE_2015

    for runs in (compare_configs(TrainConfig()).values(), compare_configs(IOFFE_2015).values()):
        check_budget(request_cost(runs))
    check_budget(100.0, limit=100.0)
    with pytest.raises(ConfigError, match="budget"):
        check_budget(100.5, limit=100.0)


def test_shutdown_stops_running_and_queued_jobs_and_waits_for_them():
    registry = JobRegistry(max_concurrent=1)
    running = registry.submit("a", stepping(), total=10_000)
    queued = registry.submit("b", stepping(), total=10_000)
    until(lambda: running.status().done > 0)
    registry.shutdown(timeout=5.0)
    assert running.finished and running.status().state == "stopped" and 0 < running.peek() < 10_000
    assert queued.status().state == "stopped" and queued.status().done == 0


def test_the_workers_cpu_time_counts_the_training_and_nothing_else():
    registry = JobRegistry(max_concurrent=1)
    before = registry.workers_cpu()

    def spin(job: Job) -> None:
        start = time.thread_time()
        while time.thread_time() - start < 0.2:
            pass

    registry.submit("spin", spin, total=1).wait(10)
    trained = registry.workers_cpu() - before
    assert trained >= 0.19
    start = time.thread_time()
    while time.thread_time() - start < 0.2:  # this thread's CPU is not a worker's
        pass
    assert registry.workers_cpu() - before == pytest.approx(trained, abs=0.02)
