"""The command line end to end, as a teacher would call it, on a small step budget."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bn_demo", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_compare_prints_one_json_line_and_writes_tables(tmp_path):
    done = cli("compare", "--steps", "20", "--batch-size", "64", "--eval-size", "200", "--json", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    runs = json.loads(lines[0])["runs"]
    assert set(runs) == {"bn", "plain"}
    for name, run in runs.items():
        assert set(run) >= {"train_loss", "test_loss", "test_accuracy", "steps", "diverged", "diverged_at", "seconds"}
        assert run["steps"] == 20 and run["diverged"] is False and run["diverged_at"] is None
        assert 0.1 < run["test_accuracy"] <= 1 and run["seconds"] > 0
        history = pd.read_csv(tmp_path / name / "history.csv")
        assert history.step.tolist() == list(range(20))
        assert run["train_loss"] == pytest.approx(history.train_loss.tail(20).mean(), rel=1e-5)


def test_a_diverging_run_is_reported_not_crashed():
    done = cli("compare", "--steps", "30", "--lr", "10", "--eval-size", "100", "--json")
    assert done.returncode == 0, done.stderr
    plain = json.loads(done.stdout)["runs"]["plain"]
    assert plain["diverged"] is True and isinstance(plain["diverged_at"], int)
    assert plain["test_accuracy"] is None


def test_ioffe2015_reports_percentiles_of_the_tracked_unit(tmp_path):
    done = cli("ioffe2015", "--steps", "20", "--eval-size", "100", "--json", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)["runs"]
    layers = pd.read_csv(tmp_path / "plain" / "layers.csv")
    last_layer = layers[(layers.layer == 3) & (layers.step == 19)].set_index("quantity")["value"]
    for run in runs.values():
        first, last = run["percentiles"]["first"], run["percentiles"]["last"]
        assert first["step"] == 0 and last["step"] == 19
        assert first["p15"] <= first["p50"] <= first["p85"]
    assert runs["plain"]["percentiles"]["last"]["p50"] == pytest.approx(last_layer["p50"])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["compare", "--lr", "-1"], "lr"),
        (["compare", "--steps", "0"], "steps"),
        (["compare", "--init", "zeros"], "--init"),
        (["train", "--batch-size", "1"], "batch_size"),
        (["compare", "--hidden", "a,b"], "--hidden"),
        (["compare", "--epochs", "-2"], "epochs"),
    ],
)
def test_a_bad_option_exits_non_zero_with_one_line_naming_it(args, named):
    done = cli(*args)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]
