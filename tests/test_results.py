import json
import math

import pandas as pd
import pytest

from bn_demo.core.config import TrainConfig
from bn_demo.core.results import TABLES, RunResult, load_runs, save_runs
from bn_demo.core.train import compare


def test_results_round_trip_through_disk(mnist, tiny, tmp_path):
    runs = compare(tiny.with_(hidden=(32, 16)), data=mnist)
    save_runs(runs, tmp_path)
    (tmp_path / "notes").mkdir()  # a folder without summary.json is not a run
    loaded = load_runs(tmp_path)
    assert set(loaded) == {"bn", "plain"}
    for name, run in runs.items():
        back: RunResult = loaded[name]
        assert back.config == run.config and back.summary() == run.summary()
        assert back.seconds == run.seconds and back.test_accuracy == run.test_accuracy
        assert set(back.tables) == set(TABLES) == set(run.tables)
        for table in TABLES:
            pd.testing.assert_frame_equal(back.tables[table], run.tables[table], check_dtype=False)


def test_a_diverged_run_round_trips_with_nan_as_json_null(tmp_path):
    config = TrainConfig(norm="plain", steps=50, lr=5.0)
    history = pd.DataFrame({"step": [0, 1], "train_loss": [2.3, 40.0], "train_accuracy": [0.1, 0.1]})
    run = RunResult("plain", config, steps=2, seconds=0.5, diverged=True, diverged_at=2, tables={"history": history})
    summary = json.loads((run.save(tmp_path / "plain") / "summary.json").read_text())
    assert summary["diverged"] is True and summary["diverged_at"] == 2
    assert summary["test_accuracy"] is None and summary["test_loss"] is None
    back = RunResult.load(tmp_path / "plain")
    assert back.diverged and back.diverged_at == 2 and math.isnan(back.test_accuracy)
    assert back.config == config and set(back.tables) == {"history"}
    pd.testing.assert_frame_equal(back.history, history)


def test_summary_is_what_the_cli_prints():
    run = RunResult("bn", TrainConfig(), steps=10, seconds=1.23456, test_accuracy=0.9, test_loss=0.3, train_loss=0.4)
    assert run.summary() == {
        "train_loss": 0.4,
        "test_loss": 0.3,
        "test_accuracy": 0.9,
        "steps": 10,
        "diverged": False,
        "diverged_at": None,
        "stopped": False,
        "seconds": 1.2346,
    }
    assert run.seconds_per_step == pytest.approx(0.123456)
