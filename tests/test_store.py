"""The result store: exact round trips (checked by a walker of our own, not by the store's), keys by full
settings, the bound on disk by last access, restarts, read-only lessons, and entries it must not trust."""

import dataclasses
import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from bn_demo.core.config import TrainConfig
from bn_demo.core.train import compare
from bn_demo.experiments import research, sweeps
from bn_demo.serving.store import MANIFEST, ResultStore, StoreError, encode, key_digest, result_bytes


def assert_same(a, b, where="result"):
    """Equal in value and in type, all the way down: DataFrames exactly (dtypes, index), NaN equal to NaN."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} became {type(b).__name__}"
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or a == b, f"{where}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: length"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def awkward_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "step": np.arange(4, dtype=np.int64),
            "value": [0.1, float("nan"), float("inf"), -2.5],
            "name": ["a", None, "c", "d"],
            "diverged_at": pd.array([None, 3, None, 7], dtype="Int64"),
            "flag": [True, False, True, True],
            "kind": pd.Categorical(["x", "y", "x", "y"]),
        }
    )
    return frame.iloc[[3, 1, 0]]  # a non-default index


def test_nested_values_round_trip_with_their_types(tmp_path):
    value = {
        "numbers": (1, 2.5, float("nan"), float("-inf"), np.float64(0.1), np.int64(7), np.bool_(True)),
        3: [None, True, "x", [1, [2.0]]],
        ("tuple", 1): awkward_frame(),
        "empty": pd.DataFrame(),
        "config": TrainConfig(hidden=(100, 50), lr=0.3),
    }
    store = ResultStore(tmp_path)
    assert store.put("k", value, seconds=1.5)
    back = store.get("k")
    assert back.seconds == 1.5
    assert_same(value, back.result)


@pytest.fixture(scope="module")
def trained(mnist):
    """A paired comparison, a sweep and a probed run, each a few steps long."""
    config = TrainConfig(steps=12, batch_size=32, eval_size=200, eval_every=4)
    sweep = sweeps.vary(config, "lr", (0.1, 1.0))
    return {
        "runs": compare(config, data=mnist),
        "sweep": sweeps.SweepRunner(sweep, mnist).run(),
        "probed": research.track(config.with_(hidden=(20, 20)), "ics", every=4, data=mnist),
    }


@pytest.mark.parametrize("kind", ["runs", "sweep", "probed"])
def test_engine_results_round_trip_exactly(tmp_path, trained, kind):
    result = trained[kind]
    store = ResultStore(tmp_path)
    assert store.put(kind, result, seconds=2.0)
    assert_same(result, store.get(kind).result)


def test_a_new_store_over_the_same_folder_finds_the_result(tmp_path, trained):
    key = tuple(r.config for r in trained["runs"].values())
    ResultStore(tmp_path).put(key, trained["runs"], seconds=3.0)
    restarted = ResultStore(tmp_path)
    equal_key = tuple(TrainConfig.from_dict(c.to_dict()) for c in key)  # equal settings, other objects
    assert equal_key in restarted
    assert_same(trained["runs"], restarted.get(equal_key).result)


def test_keys_are_their_full_settings():
    a = (TrainConfig(seed=0), TrainConfig(seed=0, norm="plain"))
    assert key_digest(a) == key_digest((TrainConfig(seed=0), TrainConfig(seed=0, norm="plain")))
    assert key_digest(a) != key_digest((TrainConfig(seed=1), TrainConfig(seed=1, norm="plain")))
    assert key_digest(("noise", 1)) != key_digest(["noise", 1])
    assert key_digest(("x", 1)) != key_digest(("x", 1.0))


def put_at(store: ResultStore, key: str, when: float) -> None:
    assert store.put(key, pd.DataFrame({"v": np.random.default_rng(len(key)).random(2000)}), seconds=0)
    os.utime(store.path(key) / MANIFEST, (when, when))


def test_the_bound_on_disk_drops_the_least_recently_read(tmp_path):
    probe = ResultStore(tmp_path / "probe")
    put_at(probe, "probe", 0)
    entry = probe.size()
    store = ResultStore(tmp_path / "s", max_bytes=int(2.5 * entry))
    put_at(store, "a", 1000)
    put_at(store, "b", 2000)
    store.get("a")  # read now: "b" is now the least recently read
    put_at(store, "c", 3000)
    assert "a" in store and "c" in store and "b" not in store
    assert store.size() <= store.max_bytes


def test_a_result_alone_over_the_bound_is_not_stored(tmp_path):
    store = ResultStore(tmp_path, max_bytes=100)
    assert not store.put("big", pd.DataFrame({"v": np.arange(10_000)}), seconds=0)
    assert "big" not in store and not list(tmp_path.iterdir())


def test_a_read_only_store_serves_but_never_writes(tmp_path):
    ResultStore(tmp_path).put("lesson", [1, 2], seconds=0)
    lessons = ResultStore(tmp_path, read_only=True)
    assert lessons.get("lesson").result == [1, 2]
    assert not lessons.put("new", [3], seconds=0) and "new" not in lessons


def test_unreadable_or_untrusted_entries_are_misses(tmp_path):
    store = ResultStore(tmp_path)
    store.put("k", {"x": 1}, seconds=0)
    manifest = store.path("k") / MANIFEST
    meta = json.loads(manifest.read_text())
    meta["result"] = {"$dataclass": "subprocess:Popen", "fields": {"args": "true"}}
    manifest.write_text(json.dumps(meta))
    assert ResultStore(tmp_path, read_only=True).get("k") is None and "k" in store  # read-only: left alone
    assert store.get("k") is None and "k" not in store  # writable: removed, the next job replaces it
    store.put("j", {"x": 1}, seconds=0)
    (store.path("j") / MANIFEST).write_text("{not json")
    assert store.get("j") is None


def test_only_engine_dataclasses_are_written(tmp_path):
    @dataclasses.dataclass
    class Foreign:
        x: int = 1

    with pytest.raises(StoreError, match="only bn_demo"):
        encode(Foreign(), [])
    store = ResultStore(tmp_path)
    assert not store.put("k", {"run": Foreign()}, seconds=0) and "k" not in store


def test_result_bytes_counts_every_frame_deeply():
    frame = awkward_frame()
    nested = {"a": [frame, (frame.copy(),)], "b": TrainConfig()}
    assert result_bytes(nested) == 2 * frame.memory_usage(deep=True).sum()
    assert result_bytes({"a": frame, "again": frame}) == frame.memory_usage(deep=True).sum()
