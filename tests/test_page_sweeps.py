"""The sweep pages under AppTest: tiny settings over two seeds from the URL, Run, wait for the job, and the
charts, table and sentences hold the engine's numbers; bad settings end in a message; each page's experiment
can be built without the page."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bn_demo.core.seeds import seed_list
from bn_demo.experiments import sweeps
from lab_ui.sweep_view import BATCH_LESSON, INIT_LESSON, LESSONS, LR_LESSON

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


def mean_line(chart: dict, run: str) -> dict:
    """The last trace of a run's group: its mean over seeds (the band's edges come first)."""
    return [t for t in chart["data"] if t.get("legendgroup") == run][-1]


def text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def assert_accuracy_chart_matches(chart: dict, points) -> None:
    """The accuracy chart's mean lines are the engine's accuracies averaged over the seeds."""
    for run in ("bn", "plain"):
        ok = points[(points["run"] == run) & ~points["diverged"]]
        if len(ok):
            mean = ok.groupby("value", sort=False)["test_accuracy"].mean()
            np.testing.assert_allclose(arr(mean_line(chart, run)["y"]), mean.to_numpy() * 100)


def run_page(name: str, lesson, **query):
    """Open a sweep page with `query` (two seeds) in its link, run the sweep, and check that the first chart
    holds the engine's mean accuracies over seeds for the first swept setting, and the table one row per value."""
    at = open_page(name, seeds=2, **query)
    results = run_sweep(at, lesson.page)
    points = sweeps.seeded_points(results)
    assert sorted(set(points["seed"])) == [0, 1]
    shown = charts(at)
    first = points[points["setting"] == points["setting"].iloc[0]]
    assert_accuracy_chart_matches(shown[0], first)
    table = at.dataframe[0].value
    assert len(table) == first["value"].nunique() and list(table.columns[1:3]) == ["BN", "no BN"]
    labels = [b.label for b in at.get("download_button")]
    assert "⬇ Per value, over seeds (CSV)" in labels and "⬇ Every run (CSV)" in labels
    return at, results, points, shown


def test_learning_rate_page_charts_the_mean_over_seeds_and_says_the_usable_range():
    at, _, points, shown = run_page(LR, LR_LESSON, steps=20, count=2, lr_low=0.1, lr_high=30)
    assert list(points["value"].unique()) == [0.1, 30.0]
    assert len(shown) == 2 + 2  # accuracy, loss, one training-loss panel per value
    assert [c["layout"]["title"]["text"] for c in shown[2:]] == ["learning rate = 0.1", "learning rate = 30"]
    written = text(at)
    assert "Usable learning rates" in written or "Neither BN nor no BN was usable" in written
    assert "in both seeds" in written and "**Try next:**" in written
    assert any("min–max over seeds" in c.value for c in at.caption)


def test_initialization_page_names_its_net_and_says_what_the_run_measured():
    at, _, points, shown = run_page(INIT, INIT_LESSON, steps=20, count=2, layers=1)
    assert list(points["setting"].unique()) == ["init_std", "init"]
    assert len(shown) == (2 + 2) + (2 + 4)
    schemes = shown[4]
    assert list(arr(mean_line(schemes, "bn")["x"])) == ["default", "xavier", "kaiming", "gaussian"]
    assert_accuracy_chart_matches(schemes, points[points["setting"] == "init"])
    written = text(at)
    assert "1 hidden layer of 100 sigmoid units (the note's has one hidden layer of 256 relu units)" in written
    assert "same network" not in written and "stays flat" not in written
    assert "Initial stds a net trained from" in written or "Neither BN nor no BN reached" in written


def test_batch_page_shows_the_formulas_the_factor_and_advice_that_fits():
    at, results, _, shown = run_page(BATCH, BATCH_LESSON, steps=20, b_low=2, b_high=64, ratio=4)
    analysis = sweeps.seeded_analysis(results)
    assert sorted(analysis["value"].unique()) == [2, 8, 32]
    calibration = shown[-1]
    running = analysis[analysis["method"] == "running"].groupby("value")["test_accuracy"].mean()
    np.testing.assert_allclose(arr(calibration["data"][0]["y"]), running.to_numpy() * 100)
    assert any(r"\tfrac{m}{m-1}" in latex.value for latex in at.get("latex"))
    written = text(at)
    assert "At batch size 2 the running variance averages 2/1 = 2 × σ²_B" in written
    assert "**Try next:**" in written and "smallest batch of" not in written  # it is already 2
    assert "lagging" not in written and "82% still 0 / 1" in written


@pytest.mark.parametrize(
    ("page", "query", "words"),
    [
        (LR, {"lr_low": 30, "lr_high": 0.01}, "learning rate"),
        (INIT, {"std_low": 10, "std_high": 0.0001}, "std"),
        (BATCH, {"b_low": 32, "b_high": 64, "ratio": 2, "lr": 30, "steps": 10, "seeds": 1}, None),
    ],
)
def test_extreme_settings_end_in_a_message(page, query, words):
    at = open_page(page, **query)
    assert not at.exception
    if words:
        assert any(words in e.value for e in at.error)
    else:  # trains; a diverging lr is reported, not raised
        run_sweep(at, "batch_sweep")
        assert "diverged" in text(at)


def test_over_budget_request_is_refused_with_the_limit():
    at = open_page(LR, steps=20000, count=12, seeds=1)
    at.button(key="run").click().run()
    assert not at.exception
    assert any("budget of 5,000 billion multiply-adds" in e.value for e in at.error)
    assert "lr_sweep:job" not in at.session_state


def test_seeds_multiply_the_budget():
    at = open_page(LR, steps=2000, count=6, seeds=3)  # within the budget for one seed (0.39 of it), not for 3
    at.button(key="run").click().run()
    assert any("budget of 5,000 billion multiply-adds" in e.value for e in at.error)
    assert any("36 runs (6 values × BN and no BN × 3 seeds)" in c.value for c in at.caption)


def test_bad_link_value_shows_a_warning():
    at = open_page(LR, steps="abc", count=99, seeds=9)
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert all(any(f"{bad}" in w for w in warnings) for bad in ("steps=abc", "count=99", "seeds=9"))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.page)
def test_each_lessons_default_experiment_is_built_without_its_page(lesson):
    """What the command regenerating the stored lessons calls: defaults in, (key, work, total) out."""
    settings = lesson.defaults()
    request = lesson.request(settings)
    key, work, total = request.key, request.work, request.total
    assert callable(work) and hash(key) == hash(lesson.request(settings).key)
    page, seeded = key
    assert page == lesson.page and seeded.seeds == seed_list(settings["seed"], 3) == (0, 1, 2)
    assert total == seeded.total_steps == seeded.sweep.total_steps * 3
    assert lesson.request({**settings, "seeds": 2}).key != key  # the seeds are part of the key
