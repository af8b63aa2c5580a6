"""bn_demo.serving.shared: a figure or table of one result is built once for every session drawing it, and never
keeps the result alive."""

import gc
import threading
from dataclasses import dataclass

import pandas as pd
import pytest

from bn_demo.core.config import TrainConfig
from bn_demo.core.results import RunResult
from bn_demo.serving import shared
from bn_demo.views import figures


@dataclass
class Result:  # a result as pages hold one: unhashable, counted by identity
    values: list


def counting():
    calls = []

    @shared.shared
    def build(per_seed, *, scale: float = 1.0):
        calls.append(1)
        return [sum(r.values) * scale for runs in per_seed for r in runs.values()]

    return build, calls


def test_fresh_lists_of_the_same_results_build_once_and_other_arguments_build_again():
    build, calls = counting()
    a, b = Result([1, 2]), Result([3])
    first = build([{"bn": a, "plain": b}], scale=2.0)
    assert build([{"bn": a, "plain": b}], scale=2.0) is first  # a page's fresh list of the same runs
    assert len(calls) == 1
    build([{"bn": a, "plain": b}], scale=3.0)  # another value
    build([{"bn": Result([1, 2]), "plain": b}], scale=2.0)  # an equal but other result
    build([{"plain": b, "bn": a}], scale=2.0)  # another order of nets
    assert len(calls) == 4


def test_an_entry_goes_with_its_result():
    build, _ = counting()
    result = Result([1])
    build([{"bn": result}])
    assert len(build.cache) == 1
    del result
    gc.collect()
    assert len(build.cache) == 0


def test_sessions_asking_at_once_wait_for_one_build():
    started, release = threading.Event(), threading.Event()
    calls = []

    @shared.shared
    def slow(result):
        calls.append(1)
        started.set()
        release.wait(5)
        return object()

    result = Result([1])
    values = []
    threads = [threading.Thread(target=lambda: values.append(slow(result))) for _ in range(8)]
    for t in threads:
        t.start()
    assert started.wait(5)
    release.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len(values) == 8 and all(v is values[0] for v in values)


def test_a_failed_build_is_not_kept_and_its_waiters_get_the_error():
    attempts = []

    @shared.shared
    def failing(result):
        attempts.append(1)
        raise ValueError("no")

    result = Result([1])
    for _ in range(2):
        with pytest.raises(ValueError):
            failing(result)
    assert len(attempts) == 2 and not failing.cache


def test_arguments_that_can_be_neither_compared_nor_watched_are_not_memoised():
    build_calls = []

    @shared.shared
    def build(thing):
        build_calls.append(1)
        return 1

    thing = object()  # no weak reference can point at it
    build(thing)
    build(thing)
    assert len(build_calls) == 2


@dataclass(frozen=True)
class Frozen:  # hashable by its fields, but a DataFrame cannot be hashed
    table: pd.DataFrame


def test_a_hashable_looking_argument_that_cannot_be_hashed_counts_by_identity():
    build_calls = []

    @shared.shared
    def build(frozen):
        build_calls.append(1)
        return len(frozen.table)

    frozen = Frozen(pd.DataFrame({"a": [1, 2]}))
    assert build(frozen) == build(frozen) == 2 and len(build_calls) == 1


def test_a_page_figure_is_shared_between_sessions(mnist):
    from bn_demo.core.train import compare

    runs = compare(TrainConfig(steps=5, eval_size=100, batch_size=16), data=mnist)
    assert all(isinstance(r, RunResult) for r in runs.values())
    one = figures.loss_panel(figures.seed_runs(runs), smoothing=0.5)
    other = figures.loss_panel(figures.seed_runs(dict(runs)), smoothing=0.5)  # another session's copy
    assert one is other
    assert figures.loss_panel(figures.seed_runs(runs), smoothing=0.0) is not one
