"""The command line end to end, as a teacher would call it, on a small step budget."""

import dataclasses
import json
import subprocess
import sys

import pandas as pd
import pytest

from bn_demo.cli import build_parser, config_from_args
from bn_demo.cli import run as run_in_process
from bn_demo.config import TrainConfig
from bn_demo.train import compare
from tests.conftest import ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bn_demo", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_compare_prints_one_json_line_and_writes_tables(tmp_path, mnist):
    args = ("--steps", "20", "--batch-size", "64", "--eval-size", "200", "--seed", "3", "--hidden", "64,32")
    done = cli("compare", *args, "--json", "--out", str(tmp_path))
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
    # the same settings trained in this process: the options reached the engine unchanged
    config = TrainConfig(steps=20, batch_size=64, eval_size=200, seed=3, hidden=(64, 32))
    assert json.loads(lines[0])["config"] == config.to_dict()
    here = compare(config, data=mnist)
    for name, run in runs.items():
        assert run["test_accuracy"] == pytest.approx(here[name].test_accuracy, abs=1e-3)


def test_without_json_a_readable_table_is_printed():
    done = cli("train", "--norm", "plain", "--steps", "5", "--eval-size", "100")
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.strip().splitlines()
    assert header.split()[:3] == ["run", "steps", "train"] and row.split()[:2] == ["plain", "5"]
    assert row.split()[-1] == "ok"


def test_every_setting_has_an_option_and_epochs_become_steps():
    parser = build_parser()
    for command in ("train", "compare", "ioffe2015"):
        args = parser.parse_args([command])
        settings = set(vars(args)) | ({"norm"} if command != "train" else set())
        assert {f.name for f in dataclasses.fields(TrainConfig)} <= settings
    args = parser.parse_args(["compare", "--epochs", "2", "--batch-size", "600", "--hidden", "100,50"])
    config = config_from_args(args, TrainConfig())
    assert config.steps == 2 * (60000 // 600) and config.hidden == (100, 50)
    with pytest.raises(SystemExit):
        parser.parse_args(["compare", "--epochs", "1", "--steps", "5"])  # give one or the other


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
        (["compare", "--tracked-unit", "300"], "tracked_unit"),
        (["compare", "--bogus"], "--bogus"),
    ],
)
def test_a_bad_option_exits_non_zero_with_one_line_naming_it(args, named, capsys):
    try:
        code = run_in_process(args)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]


def test_bad_options_end_the_real_command_with_one_line_and_no_traceback(tmp_path):
    done = cli("compare", "--lr", "-1")
    assert (
        done.returncode == 2 and done.stderr.strip() == "error: lr: -1.0 is out of range; valid range is 1e-06 to 100.0"
    )
    corrupt = tmp_path / "mnist.npz"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    done = cli("compare", "--steps", "5", "--data", str(corrupt))
    assert done.returncode != 0 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert "unreadable or incomplete" in line and "git checkout -- data/mnist.npz" in line


def test_an_unwritable_output_folder_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run_in_process(["compare", "--steps", "5", "--out", str(blocker / "runs")]) != 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: --out: cannot create the folder")
