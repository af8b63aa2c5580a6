"""memo.shared: one value per result object and per distinct other arguments; entries go with their result."""

import gc

import pandas as pd

from bn_demo.memo import SharedDict, shareable, shared


def counting():
    calls = []

    @shared
    def figure(runs, layer: int, title: str = "t"):
        calls.append((layer, title))
        return {"layer": layer, "n": len(runs)}

    return figure, calls


def test_one_value_per_result_object_and_arguments():
    figure, calls = counting()
    runs = shareable({"bn": 1, "plain": 2})
    first = figure(runs, 1)
    assert figure(runs, 1) is first and len(calls) == 1
    figure(runs, 2)
    figure(runs, 1, title="other")
    assert len(calls) == 3
    equal_but_other = shareable({"bn": 1, "plain": 2})
    figure(equal_but_other, 1)  # a different result: its own value, even if equal
    assert len(calls) == 4


def test_an_entry_goes_with_its_result_and_does_not_keep_it_alive():
    figure, calls = counting()
    frame = pd.DataFrame({"x": [1, 2]})
    figure(frame, 1)
    assert len(figure.cache) == 1
    del frame
    gc.collect()
    assert len(figure.cache) == 0


def test_plain_dicts_are_not_memoised_but_shareable_ones_are():
    figure, calls = counting()
    plain = {"bn": 1}
    figure(plain, 1)
    figure(plain, 1)
    assert len(calls) == 2
    assert isinstance(shareable(plain), SharedDict) and shareable(plain) == plain
    kept = pd.DataFrame()
    assert shareable(kept) is kept
