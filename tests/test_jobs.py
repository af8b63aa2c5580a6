import threading

import pytest

from bn_demo.config import ConfigError, TrainConfig
from bn_demo.jobs import JobRegistry, check_budget, training_work
from bn_demo.train import compare_configs


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


def test_a_stopped_job_keeps_its_records_and_is_not_reused(mnist):
    registry = JobRegistry()
    started = threading.Event()
    config = TrainConfig(steps=5000, batch_size=32, eval_size=100)
    work = training_work(compare_configs(config), mnist)

    def slow_start(job):
        started.set()
        return work(job)

    job = registry.submit("k", slow_start, total=5000)
    started.wait(30)
    while job.status().done < 10:
        job.wait(0.05)
    job.stop()
    status = job.wait(120)
    assert status.state == "stopped"
    runs = job.peek()
    assert all(r.stopped and 10 <= r.steps < 5000 for r in runs.values())
    assert registry.get("k") is None  # pressing Train again retrains


def test_a_failing_job_reports_its_error_as_a_message():
    def broken(job):
        raise ValueError("no such layer")

    job = JobRegistry().submit("bad", broken, total=1)
    status = job.wait(10)
    assert status.state == "failed" and status.error == "ValueError: no such layer"


def test_jobs_queue_behind_the_concurrency_limit():
    registry = JobRegistry(max_concurrent=1)
    release = threading.Event()
    first = registry.submit("a", lambda job: release.wait(10), total=1)
    second = registry.submit("b", lambda job: "done", total=1)
    while first.status().state == "queued":
        first.wait(0.01)
    assert second.status().state == "queued"
    release.set()
    assert second.wait(10).state == "done" and second.peek() == "done"


def test_budget_refuses_a_request_past_the_limit_and_names_it():
    check_budget(1000, 2, limit=2000)
    with pytest.raises(ConfigError, match="budget of 2,000"):
        check_budget(1001, 2, limit=2000)


def test_waiting_for_progress_returns_at_the_first_report_or_the_end():
    reported, release = threading.Event(), threading.Event()

    def work(job):
        release.wait(10)
        job.report(1, 2)
        reported.set()
        release.wait(10)

    job = JobRegistry().submit("w", work, total=2)
    assert not job.wait_for_progress(0.05)  # nothing reported yet: waits out its timeout
    release.set()
    assert job.wait_for_progress(10) and reported.is_set() and job.status().done >= 1
    failed = JobRegistry().submit("f", lambda job: 1 / 0, total=1)
    assert failed.wait_for_progress(10)  # a job that ends without reporting also wakes the waiter
