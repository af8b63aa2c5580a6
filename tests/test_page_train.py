"""Train & compare under AppTest: settings from the URL and widgets, Train, the job's result on the charts
and in the table (checked against an independent engine run), and every bad setting ending in a message."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bn_demo.train import PairedTraining, compare_configs

ROOT = Path(__file__).resolve().parent.parent
PAGE_FILE = ROOT / "pages" / "1_Train_and_compare.py"
TINY = {"steps": 30}


def arr(v) -> np.ndarray:
    """A Plotly spec's array: plain list, or plotly 7's base64 typed array."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def trace(fig: dict, name: str) -> dict:
    return next(t for t in fig["data"] if t.get("name") == name)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def open_page(path: Path, **query) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = str(value)
    return at.run()


def job_of(at: AppTest, page: str):
    return at.session_state[f"{page}:job"][1]  # (key, job), as lab_ui.live stores it


def train(at: AppTest, page: str):
    """Press Train, wait for the background job, rerun so the finished view is drawn."""
    at.button(key="run").click().run()
    assert not at.exception
    job = job_of(at, page)
    assert job.wait(300).state in ("done", "stopped")
    at.run()
    assert not at.exception
    assert at.get("plotly_chart"), "the finished view draws charts"
    return job


def test_train_draws_the_engine_result_and_agrees_with_an_independent_run():
    at = open_page(PAGE_FILE, **TINY, lr=0.3, batch_size=64)
    assert at.select_slider(key="train:lr").value == 0.3
    job = train(at, "train")
    runs = job.result
    assert set(runs) == {"bn", "plain"} and runs["bn"].config.lr == 0.3 and runs["bn"].config.steps == 30
    curves, layers = charts(at)
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        np.testing.assert_allclose(arr(trace(curves, f"{lab} · training batch")["y"]), runs[name].history["train_loss"])
        np.testing.assert_allclose(arr(trace(layers, lab)["y"]), runs[name].layers.query("quantity == 'mean'")["value"])
    independent = PairedTraining(compare_configs(runs["bn"].config)).run()
    table = at.dataframe[0].value.set_index("run")
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        np.testing.assert_allclose(table.loc[lab, "test accuracy"], independent[name].test_accuracy, atol=2e-3)
        np.testing.assert_allclose(
            arr(trace(curves, f"{lab} · training batch")["y"]), independent[name].history["train_loss"], rtol=1e-3
        )
        assert f"{independent[name].test_accuracy:.1%}" in at.markdown[-2].value + at.markdown[-3].value
        gap = runs[name].test_loss - runs[name].history["train_loss"].tail(20).mean()  # 20 records: the final loss
        assert (
            f"gap (test loss minus the final training loss) {gap:+.3f}" in at.markdown[-2].value + at.markdown[-3].value
        )
    assert any("Cost of BN" in m.value for m in at.markdown)
    assert len(at.get("download_button")) == 3
    assert any("budget per request is 5,000 billion" in c.value for c in at.caption)  # next to the button

    at.button(key="run").click().run()  # same settings again: the finished job is shown, not retrained
    assert job_of(at, "train") is job
    assert len(at.get("plotly_chart")) == 2 and not at.exception


def test_only_bn_trains_one_run():
    at = open_page(PAGE_FILE, **TINY, bn="on", layers=2)
    runs = train(at, "train").result
    assert list(runs) == ["bn"] and runs["bn"].config.hidden == (256, 256)
    assert "BN · layer 2" in [t["name"] for t in charts(at)[1]["data"]]


@pytest.mark.parametrize(("lr", "batch_size"), [(30.0, 128), (30.0, 2)])
def test_extreme_settings_end_in_a_diverged_message(lr, batch_size):
    at = open_page(PAGE_FILE, **TINY, lr=lr, batch_size=batch_size)
    runs = train(at, "train").result
    diverged = [name for name, run in runs.items() if run.diverged]
    assert diverged
    text = " ".join(w.value for w in at.warning)
    for name in diverged:
        assert f"diverged at step {runs[name].diverged_at}" in text
    assert any(t["name"].endswith("diverged") for t in charts(at)[0]["data"])


def test_over_budget_and_bad_links_end_in_messages():
    at = open_page(PAGE_FILE, steps=40_000, lr="banana", seed=-3)
    warnings = " ".join(w.value for w in at.warning)
    assert "lr=banana" in warnings and "seed=-3" in warnings
    assert at.select_slider(key="train:lr").value == 0.1
    at.button(key="run").click().run()
    assert not at.exception
    assert "budget" in " ".join(e.value for e in at.error)
    assert not at.get("plotly_chart")


def test_stopping_keeps_what_was_recorded():
    at = open_page(PAGE_FILE, steps=5000)
    at.button(key="run").click().run()
    job = job_of(at, "train")
    while job.status().done < 20 and not job.finished:
        job.wait(0.05)
    job.stop()
    assert job.wait(300).state == "stopped"
    at.run()
    assert not at.exception
    assert any("Stopped" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 2
    assert len(at.get("download_button")) == 3
    trained = job.result["bn"].steps
    assert 20 <= trained < 5000
    drawn = arr(trace(charts(at)[0], "BN · training batch")["x"])
    np.testing.assert_array_equal(drawn, job.result["bn"].history["step"])
