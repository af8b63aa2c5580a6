"""The sweep pages under AppTest: tiny settings from the URL, Run, wait for the job, and the charts hold
the engine's numbers; bad settings end in a message."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parent.parent / "pages"
LR, INIT, BATCH = "3_Learning_rate_sensitivity.py", "4_Initialization_sensitivity.py", "5_Batch_size_and_inference.py"


def arr(v) -> np.ndarray:
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def open_page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = str(value)
    return at.run()


def run_sweep(at: AppTest, page: str):
    at.button(key="run").click().run()
    assert not at.exception
    _, job = at.session_state[f"{page}:job"]  # (key, job), as lab_ui.live.start stores it
    assert job.wait(600).state == "done"
    at.run()
    assert not at.exception
    assert any("Finished in" in c.value for c in at.caption)
    return job.result


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def trace(chart: dict, name: str) -> dict:
    return next(t for t in chart["data"] if t["name"] == name)


def assert_sensitivity_chart_matches(chart: dict, points) -> None:
    for run, name in (("bn", "BN"), ("plain", "no BN")):
        ok = points[(points["run"] == run) & ~points["diverged"] & points["test_accuracy"].notna()]
        if len(ok):
            np.testing.assert_allclose(arr(trace(chart, name)["y"]), ok["test_accuracy"] * 100)


def run_page(name: str, page: str, n_charts: int, **query):
    """Open a sweep page with `query` in its link, run the sweep, and check that the page drew `n_charts`,
    the first holding the engine's final accuracies for the first swept setting."""
    at = open_page(name, **query)
    result = run_sweep(at, page)
    points = result.points()
    shown = charts(at)
    assert len(shown) == n_charts
    assert_sensitivity_chart_matches(shown[0], points[points["setting"] == points["setting"].iloc[0]])
    return at, result, points, shown


def test_learning_rate_page_runs_and_charts_the_engine_result():
    at, _, points, shown = run_page(LR, "lr_sweep", 2, steps=20, count=2, lr_low=0.1, lr_high=30)
    assert list(points["value"].unique()) == [0.1, 30.0]
    assert [a["text"] for a in shown[1]["layout"]["annotations"]] == ["learning rate = 0.1", "learning rate = 30"]
    diverged = points[points["diverged"] & (points["run"] == "plain")]
    assert trace(shown[0], "no BN diverged")["text"] == [f"diverged at step {s}" for s in diverged["diverged_at"]]
    best = points[points["run"] == "bn"]["test_accuracy"].max()
    assert any(f"best {best:.1%}" in m.value for m in at.markdown)
    assert len(at.get("download_button")) == 1


def test_initialization_page_sweeps_stds_and_schemes():
    _, _, points, shown = run_page(INIT, "init_sweep", 4, steps=20, count=2, layers=1)
    assert list(points["setting"].unique()) == ["init_std", "init"]
    assert_sensitivity_chart_matches(shown[2], points[points["setting"] == "init"])
    assert list(arr(trace(shown[2], "BN")["x"])) == ["default", "xavier", "kaiming", "gaussian"]
    assert [a["text"] for a in shown[3]["layout"]["annotations"]][:4] == ["default", "xavier", "kaiming", "gaussian"]


def test_batch_page_charts_accuracy_and_calibration():
    at, result, _, shown = run_page(BATCH, "batch_sweep", 3, steps=20, b_low=32, b_high=64, ratio=2)
    analysis = result.analysis()
    assert sorted(analysis["value"].unique()) == [32, 64]
    for method, label in (("running", "running averages (eval mode)"), ("batch", "batch statistics (train mode)")):
        rows = analysis[analysis["method"] == method]
        np.testing.assert_allclose(arr(trace(shown[2], label)["y"]), rows["test_accuracy"] * 100)
    running = analysis[(analysis["method"] == "running") & (analysis["value"] == 32)]["test_accuracy"].iloc[0]
    bn32 = result.points().query("run == 'bn' and value == 32")["test_accuracy"].iloc[0]
    assert running == pytest.approx(bn32, abs=1e-6)  # eval mode on the test set, as the engine measured it
    assert any("What a student should conclude" in m.value and f"{running:.1%}" in m.value for m in at.markdown)


@pytest.mark.parametrize(
    ("page", "query", "words"),
    [
        (LR, {"lr_low": 30, "lr_high": 0.01}, "learning rate"),
        (INIT, {"std_low": 10, "std_high": 0.0001}, "std"),
        (BATCH, {"b_low": 32, "b_high": 64, "ratio": 2, "lr": 30, "steps": 10}, None),
    ],
)
def test_extreme_settings_end_in_a_message(page, query, words):
    at = open_page(page, **query)
    assert not at.exception
    if words:
        assert any(words in e.value for e in at.error)
    else:  # trains; a diverging lr is reported, not raised
        run_sweep(at, "batch_sweep")
        assert any("diverged" in m.value for m in at.markdown)


def test_over_budget_request_is_refused_with_the_limit():
    at = open_page(LR, steps=20000, count=12)
    at.button(key="run").click().run()
    assert not at.exception
    assert any("budget of 5,000 billion multiply-adds" in e.value for e in at.error)
    assert "lr_sweep:job" not in at.session_state


def test_bad_link_value_shows_a_warning():
    at = open_page(LR, steps="abc", count=99)
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("steps=abc" in w for w in warnings) and any("count=99" in w for w in warnings)
