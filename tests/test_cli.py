"""The command line end to end, as a teacher would call it, on a small step budget; and a fuzz of every option
where the only outcomes allowed are a result or exit status 2 with one line."""

import contextlib
import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bn_demo.cli
import bn_demo.core.data
from bn_demo.cli import build_parser, config_from_args, mean_entry
from bn_demo.cli import run as run_in_process
from bn_demo.core.config import TrainConfig
from bn_demo.core.results import RunResult
from bn_demo.core.train import compare
from tests.conftest import ROOT

TINY = ("--steps", "10", "--eval-size", "100", "--batch-size", "32")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bn_demo", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def in_process(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the command run in this process (argparse's exits included)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run_in_process(list(args))
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


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
        history = pd.read_csv(tmp_path / "seed-3" / name / "history.csv")
        assert history.step.tolist() == list(range(20))
        assert run["train_loss"] == pytest.approx(history.train_loss.tail(20).mean(), rel=1e-5)
    # the same settings trained in this process: the options reached the engine unchanged
    config = TrainConfig(steps=20, batch_size=64, eval_size=200, seed=3, hidden=(64, 32))
    assert json.loads(lines[0])["config"] == config.to_dict()
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(lines[0])
    here = compare(config, data=mnist)
    for name, run in runs.items():
        assert run["test_accuracy"] == pytest.approx(here[name].test_accuracy, abs=1e-3)


def test_without_json_a_readable_table_is_printed():
    done = cli("train", "--norm", "plain", "--steps", "5", "--eval-size", "100")
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.strip().splitlines()
    assert header.split()[:4] == ["run", "seed", "steps", "train"] and row.split()[:3] == ["plain", "0", "5"]
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
    layers = pd.read_csv(tmp_path / "seed-0" / "plain" / "layers.csv")
    last_layer = layers[(layers.layer == 3) & (layers.step == 19)].set_index("quantity")["value"]
    for run in runs.values():
        first, last = run["percentiles"]["first"], run["percentiles"]["last"]
        assert first["step"] == 0 and last["step"] == 19
        assert first["p15"] <= first["p50"] <= first["p85"]
    assert runs["plain"]["percentiles"]["last"]["p50"] == pytest.approx(last_layer["p50"])


# --- several seeds, several norms --------------------------------------------------------------------------


def test_compare_over_seeds_and_norms_gives_means_sd_and_each_seeds_paired_runs(tmp_path, mnist):
    code, out, err = in_process("compare", *TINY, "--seed", "5", "--seeds", "3", "--norms", "noisy_bn,plain", "--json",
                                "--out", str(tmp_path))  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["seeds"] == [5, 6, 7] and list(report["runs"]) == ["noisy_bn", "plain"]
    config = TrainConfig(steps=10, eval_size=100, batch_size=32, seed=5)
    for name, entry in report["runs"].items():
        per_seed = entry["per_seed"]
        assert [e["seed"] for e in per_seed] == [5, 6, 7]
        accuracies = [e["test_accuracy"] for e in per_seed]
        assert entry["test_accuracy"] == pytest.approx(np.mean(accuracies))
        assert entry["test_accuracy_sd"] == pytest.approx(np.std(accuracies, ddof=1))
        assert entry["test_loss"] == pytest.approx(np.mean([e["test_loss"] for e in per_seed]))
        assert entry["steps"] == 10 and entry["diverged"] is False
        assert set(per_seed[0]) == {"seed", *RunResult(name, config, 0, 0.0).summary()}
        for seed in (5, 6, 7):
            saved = RunResult.load(tmp_path / f"seed-{seed}" / name)
            assert saved.config.seed == seed
            assert saved.test_accuracy == pytest.approx(per_seed[seed - 5]["test_accuracy"])
    # seed 6 trained on its own, paired: the same numbers as the CLI's second seed
    here = compare(config.with_(seed=6), norms=("noisy_bn", "plain"), data=mnist)
    for name in here:
        assert report["runs"][name]["per_seed"][1]["test_accuracy"] == pytest.approx(here[name].test_accuracy, abs=1e-6)
    assert report["runs"]["noisy_bn"]["per_seed"][0] != report["runs"]["noisy_bn"]["per_seed"][1]


def test_train_and_ioffe2015_take_seeds_and_one_seed_has_no_sd(tmp_path):
    code, out, err = in_process("train", *TINY, "--norm", "plain", "--seeds", "2", "--json")
    assert code == 0, err
    plain = json.loads(out)["runs"]["plain"]
    assert [e["seed"] for e in plain["per_seed"]] == [0, 1] and plain["test_accuracy_sd"] > 0
    code, out, err = in_process("ioffe2015", *TINY, "--norms", "bn", "--json")
    assert code == 0, err
    bn = json.loads(out)["runs"]["bn"]
    assert bn["test_accuracy_sd"] is None and len(bn["per_seed"]) == 1
    assert {k: v for k, v in bn["per_seed"][0].items() if k != "seed"} == {
        k: v for k, v in bn.items() if k not in ("test_accuracy_sd", "per_seed")
    }  # the mean of one seed is that seed
    code, out, err = in_process("compare", *TINY, "--seeds", "2")
    assert code == 0, err
    table = out.strip().splitlines()
    assert [r.split()[:2] for r in table[1:5]] == [["bn", "0"], ["plain", "0"], ["bn", "1"], ["plain", "1"]]
    assert table[5].startswith("bn: test accuracy 0.") and "±" in table[5] and "over 2 seeds" in table[5]


def test_mean_entry_averages_what_exists_and_flags_any_divergence():
    seeds = [
        {"seed": 0, "test_accuracy": 0.9, "steps": 10, "diverged": False, "diverged_at": None, "p": {"step": 0}},
        {"seed": 1, "test_accuracy": None, "steps": 4, "diverged": True, "diverged_at": 4, "p": None},
        {"seed": 2, "test_accuracy": 0.8, "steps": 10, "diverged": True, "diverged_at": 7, "p": {"step": 1}},
    ]
    merged = mean_entry(seeds)
    assert merged["test_accuracy"] == pytest.approx(0.85)  # over the two seeds that have one
    assert merged["steps"] == pytest.approx(8.0) and isinstance(merged["steps"], float)
    assert merged["diverged"] is True and merged["diverged_at"] == 4
    assert merged["p"] == {"step": 0.5}
    same = mean_entry([{"steps": 10, "diverged": False, "x": None}] * 2)
    assert same == {"steps": 10, "diverged": False, "x": None} and type(same["steps"]) is int


# --- bad input: one line, exit 2, never a traceback, never a lost run ----------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["compare", "--lr", "-1"], "lr"),
        (["compare", "--lr", "nan"], "lr"),
        (["compare", "--steps", "0"], "steps"),
        (["compare", "--init", "zeros"], "--init"),
        (["train", "--batch-size", "1"], "batch_size"),
        (["compare", "--hidden", "a,b"], "--hidden"),
        (["compare", "--epochs", "-2"], "epochs"),
        (["compare", "--epochs", "nan"], "epochs"),
        (["compare", "--epochs", "inf"], "epochs"),
        (["compare", "--epochs", "1e999"], "epochs"),
        (["compare", "--epochs", "1e308"], "epochs"),
        (["compare", "--tracked-unit", "300"], "tracked_unit"),
        (["compare", "--seeds", "6"], "seeds"),
        (["train", "--seeds", "0"], "seeds"),
        (["compare", "--seed", str(2**31 - 1), "--seeds", "2"], "seed"),
        (["compare", "--norms", "bn,bn"], "--norms"),
        (["compare", "--norms", "bn,layer"], "--norms"),
        (["train", "--norms", "bn"], "--norms"),
        (["compare", "--out", ""], "--out"),
        (["compare", "--out", "  "], "--out"),
        (["compare", "--data", ""], "--data"),
        (["compare", "--bogus"], "--bogus"),
    ],
)
def test_a_bad_option_exits_2_with_one_line_naming_it(args, named):
    code, out, err = in_process(*args)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert named in line


def test_bad_options_end_the_real_command_with_one_line_and_no_traceback(tmp_path):
    done = cli("compare", "--lr", "-1")
    assert (
        done.returncode == 2 and done.stderr.strip() == "error: lr: -1.0 is out of range; valid range is 1e-06 to 100.0"
    )
    corrupt = tmp_path / "mnist.npz"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    done = cli("compare", "--steps", "5", "--data", str(corrupt))
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: The MNIST file {corrupt} is unreadable or incomplete")
    assert "Give the path of a complete MNIST .npz" in line


def _npz(path: Path, n: int) -> Path:
    images, labels = np.zeros((n, 28, 28), np.uint8), np.arange(n, dtype=np.uint8) % 10
    np.savez(path, x_train=images, y_train=labels, x_test=images, y_test=labels)
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda d: _npz(d / "three.npz", 3), "three.npz holds 3 training images, fewer than one batch of 128"),
        (lambda d: _npz(d / "empty.npz", 0), "MNIST has no train images ("),
        (lambda d: d / "notes.txt", "notes.txt is unreadable or incomplete (not an .npz zip archive)"),
        (lambda d: d / "typo.npz", "typo.npz does not exist"),
        (lambda d: d, "is a folder, not an .npz file"),
    ],
)
def test_a_bad_data_file_is_one_line_naming_it(tmp_path, monkeypatch, make, says):
    (tmp_path / "notes.txt").write_text("not\nan npz\n")
    monkeypatch.setattr(bn_demo.core.data, "_read_torchvision", _no_download)
    path = make(tmp_path)
    code, out, err = in_process("compare", "--steps", "5", "--data", str(path))
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and says in line and str(path) in line
    assert "pickle" not in line and "data/mnist.npz" not in line


def test_three_images_are_too_few_to_hold_out_even_with_a_tiny_batch(tmp_path):
    tiny = str(_npz(tmp_path / "t.npz", 3))
    code, _, err = in_process("train", "--batch-size", "2", "--eval-size", "10", "--data", tiny)
    assert code == 2 and err.strip().endswith("t.npz holds 3 test images; 10 cannot be held out")


def _no_download(*args, **kwargs):
    raise AssertionError("a given --data path must never fall back to a download")


def _refuse_training(*args, **kwargs):
    raise AssertionError("training started before --out was checked")


@pytest.mark.parametrize(
    "block", ["seed-0", "seed-0/plain", "seed-0/bn/history.csv/", "summary.json/"], ids=lambda b: b.strip("/")
)
def test_an_unwritable_output_folder_is_refused_before_training(tmp_path, monkeypatch, block):
    out = tmp_path / "out"
    target = out / block.strip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if block.endswith("/"):  # a folder where a result file goes
        target.mkdir()
    else:  # a file where a folder goes
        target.write_text("")
    monkeypatch.setattr(bn_demo.cli, "train_seeds", _refuse_training)
    code, out_text, err = in_process("compare", "--steps", "5", "--out", str(out))
    assert code == 2 and out_text == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("error: --out: ") and str(target) in line


def test_an_output_folder_holding_a_file_named_bn_no_longer_loses_the_run(tiny_runs, tmp_path):
    (tmp_path / "bn").write_text("someone's notes")
    with stubbed(tiny_runs):
        code, out, err = in_process("compare", *TINY, "--json", "--out", str(tmp_path))
    assert code == 0, err
    assert RunResult.load(tmp_path / "seed-0" / "bn").test_accuracy == json.loads(out)["runs"]["bn"]["test_accuracy"]
    assert (tmp_path / "bn").read_text() == "someone's notes"


def test_a_save_that_fails_after_training_still_prints_the_results(tiny_runs, tmp_path, monkeypatch):
    def disk_full(self, folder):
        raise OSError(28, "No space left on device", str(Path(folder) / "history.csv"))

    monkeypatch.setattr(RunResult, "save", disk_full)
    with stubbed(tiny_runs):
        code, out, err = in_process("compare", *TINY, "--json", "--out", str(tmp_path))
    assert code == 2
    assert 0 < json.loads(out)["runs"]["bn"]["test_accuracy"] <= 1  # the finished run is on stdout
    (line,) = err.strip().splitlines()
    assert line == (
        f"error: --out: could not write {tmp_path / 'seed-0' / 'bn' / 'history.csv'} "
        "(No space left on device); the results are printed above"
    )


# --- fuzz -------------------------------------------------------------------------------------------------------

VALUE_OPTIONS = (
    *("--lr", "--batch-size", "--steps", "--epochs", "--hidden", "--activation", "--bn-placement", "--init"),
    *("--init-std", "--seed", "--seeds", "--eval-every", "--eval-size", "--record-every", "--max-records"),
    *("--tracked-unit", "--noise-scale", "--norms", "--norm", "--data"),
)
SPECIAL = (
    *("nan", "inf", "-inf", "1e999", "-1", "0", "1", "2", "5", "7.5", "", " ", "1e308", "9" * 30, "9" * 5000),
    *("bn", "plain", "noisy_bn", "bn,plain", "bn,,plain", ",", "100,100", "0,5", "-h", "--json", "\x00", "a\nb"),
    *("data/mnist.npz", "README.md", ".", "/", "\udcff"),
)
PLAUSIBLE = {  # values that are accepted, so that the fuzz reaches the reporting and saving code too
    **{"--lr": ("0.1", "1e-3"), "--batch-size": ("16", "64"), "--steps": ("3",), "--epochs": ("0.001",)},
    **{"--hidden": ("8", "16,8"), "--activation": ("sigmoid",), "--bn-placement": ("after",), "--init": ("xavier",)},
    **{"--init-std": ("0.1",), "--seed": ("3",), "--seeds": ("2",), "--eval-every": ("2",), "--eval-size": ("20",)},
    **{"--record-every": ("1",), "--max-records": ("10",), "--tracked-unit": ("3",), "--noise-scale": ("0.5",)},
    **{"--norms": ("bn", "plain,noisy_bn"), "--norm": ("noisy_bn",), "--data": (str(ROOT / "data" / "mnist.npz"),)},
}
anything = st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL), st.integers().map(str), st.floats().map(str))
option = st.sampled_from(VALUE_OPTIONS).flatmap(
    lambda o: st.tuples(st.just(o), st.one_of(anything, st.sampled_from(PLAUSIBLE[o])), st.booleans())
)


@pytest.fixture(scope="module")
def tiny_runs(mnist) -> dict[str, RunResult]:
    return compare(TrainConfig(steps=3, batch_size=16, eval_size=20), norms=("bn", "plain"), data=mnist)


def stubbed(made: dict[str, RunResult]):
    """Training replaced by copies of one tiny real run per norm, so that the fuzz reaches the reporting and saving
    code for every accepted combination without training each one."""

    def train_seeds(configs, data):
        return [
            {
                name: dataclasses.replace(made["plain" if c.norm == "plain" else "bn"], name=name, config=c)
                for name, c in runs.items()
            }  # fmt: skip
            for runs in configs.values()
        ]

    return mock.patch.object(bn_demo.cli, "train_seeds", train_seeds)


def check_outcome(args: list[str]) -> int:
    code, out, err = in_process(*args)
    assert "Traceback" not in err
    if code == 0:
        assert out.strip() and err == "", (args, err)
        if "--json" in args:
            json.loads(out)
    else:
        assert code == 2 and out == "", (args, code)
        (line,) = err.strip("\n").split("\n")
        assert "error:" in line, (args, err)
    return code


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    command=st.sampled_from(["train", "compare", "ioffe2015"]),
    options=st.lists(option, max_size=3),
    json_flag=st.booleans(),
)
def test_fuzz_every_option_gives_a_result_or_exit_2_with_one_line(tiny_runs, command, options, json_flag):
    args = [command, "--steps", "3", "--eval-size", "20"]  # later options win: the fuzzed ones can undo these
    for option, value, joined in options:
        args += [f"{option}={value}"] if joined else [option, value]
    with stubbed(tiny_runs):
        code = check_outcome(args + (["--json"] if json_flag else []))
    event(f"exit {code}")  # --hypothesis-show-statistics: both outcomes are reached


@pytest.mark.parametrize(
    "out",
    ["", " ", "\x00", "a\x00b", "{tmp}/file", "{tmp}/file/sub", "{tmp}/dir", "{tmp}/new/deep", "/proc/x", "{tmp}/\n"],
)
def test_fuzz_table_of_output_folders(tiny_runs, tmp_path, out):
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    with stubbed(tiny_runs):
        check_outcome(["compare", "--steps", "3", "--eval-size", "20", "--json", "--out", out.format(tmp=tmp_path)])
