"""The live view under AppTest, with two sessions where it matters: a stored result shown without training
(also after a restart), Stop that detaches only the session pressing it, a reload after a slider moved,
and the texts of the queue, of a stop and of a finished run."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bn_demo.serving.jobs import JobStatus
from lab_ui import live

PAGES = Path(__file__).resolve().parent.parent / "pages"
TRAIN, LR_SWEEP = PAGES / "1_Train_and_compare.py", PAGES / "3_Learning_rate_sensitivity.py"
LONG = {"steps": 20_000, "batch_size": 16}  # trains long enough to be watched, stopped and rejoined
TIMEOUT = 120


@pytest.fixture
def fresh_server(tmp_path, monkeypatch):
    """A new registry over an empty store; `restart()` makes another over the same folder."""
    monkeypatch.setenv("BN_DEMO_STORE", str(tmp_path))
    live.registry.clear()
    yield live.registry.clear
    for job in list(live.registry().active.values()):
        job.stop()
    live.registry.clear()


def open_page(path: Path, **query) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = str(value)
    at.run()
    assert not at.exception
    return at


def job_of(at: AppTest, page: str):
    return at.session_state[f"{page}:job"][1]


def texts(at: AppTest) -> str:
    return " ".join(e.value for kind in ("info", "caption", "markdown") for e in at.get(kind))


def test_a_page_shows_a_result_the_server_has_without_training_also_after_a_restart(fresh_server):
    query = {"count": 2, "steps": 10}
    at = open_page(LR_SWEEP, **query)
    assert not at.get("plotly_chart")
    at.button(key="run").click().run()
    assert job_of(at, "lr_sweep").wait(TIMEOUT).state == "done"
    fresh_server()  # a restart: a new registry, the same store folder
    other = open_page(LR_SWEEP, **query)  # a new session that presses nothing
    assert other.get("plotly_chart") and "trained earlier on this server" in texts(other)
    assert not live.registry().active  # nothing trains
    other.button(key="run").click().run()  # ▶ Run on stored settings: the stored result, at once
    assert job_of(other, "lr_sweep").status().stored and not live.registry().active


def test_stop_detaches_only_the_session_that_pressed_it(fresh_server):
    starter, friend = open_page(TRAIN, **LONG), open_page(TRAIN, **LONG)
    starter.button(key="run").click().run()
    friend.run()  # the same settings: the friend watches the starter's run
    job = job_of(starter, "train")
    assert job_of(friend, "train") is job and job.status().watchers == 2
    starter.button(key="train:stop").click().run()
    assert "You stopped watching" in texts(starter) and job.status().state == "running"
    friend.run()
    assert friend.get("progress") and not job.stop_event.is_set()  # still training for the friend
    starter.button(key="run").click().run()  # Train again: back to watching the same run
    assert job_of(starter, "train") is job and "You stopped watching" not in texts(starter)
    starter.button(key="train:stop").click().run()
    friend.button(key="train:stop").click().run()  # the last watcher leaves: it stops, keeping its records
    status = job.wait(TIMEOUT)
    assert status.state == "stopped"
    starter.run()
    assert "Stopped after" in texts(starter) and starter.get("plotly_chart")
    starter.button(key="run").click().run()  # a stopped run is not joined: Train starts a new one
    assert job_of(starter, "train") is not job


def test_a_reload_after_a_slider_moved_still_shows_the_running_job(fresh_server):
    at = open_page(TRAIN, **LONG)
    at.button(key="run").click().run()
    job = job_of(at, "train")
    link = dict(at.query_params)
    assert link["run"] and link["steps"] == str(LONG["steps"])
    reloaded = open_page(TRAIN, **{**link, "lr": "0.3"})  # the slider moved, then the tab was reloaded
    assert job_of(reloaded, "train") is job and reloaded.get("progress")
    assert "settings have changed since" in texts(reloaded)
    assert reloaded.query_params["run"] == link["run"]


def status(state: str, **kw) -> JobStatus:
    return JobStatus(state, kw.pop("done", 0), kw.pop("total", 500), kw.pop("elapsed", 0.0), **kw)


def test_the_queue_says_where_a_job_stands_and_how_long_it_waits():
    assert live.progress_text(status("queued", position=1, wait=42.0), "steps") == (
        "Queued, next in line for a free core: starts in about 42 s, measured from the runs ahead."
    )
    assert live.progress_text(status("queued", position=3, wait=None), "steps") == (
        "Queued, 3rd in line for a free core: its wait is not measured yet."
    )
    assert live.ordinal(11) == "11th" and live.ordinal(22) == "22nd" and live.ordinal(103) == "103rd"


def test_a_stop_says_what_happened_before_and_after_the_start():
    assert live.stopped_text(status("stopped"), "steps").startswith("Stopped before it started")
    text = live.stopped_text(status("stopped", done=377, total=3000, elapsed=4.0), "steps")
    assert text.startswith("Stopped after 377 of 3,000 steps")


def test_finished_in_says_whether_the_run_trained_now_or_earlier():
    assert live.finished_text(status("done", elapsed=45.7)) == "Finished in 45.7 s."
    assert "trained earlier" in live.finished_text(status("done", elapsed=45.7, stored=True))


def test_the_progress_bar_says_how_often_it_is_redrawn_once_that_is_not_every_second():
    running = status("running", done=10, elapsed=2.0, watchers=30)
    assert "redrawn" not in live.progress_text(running, "steps")
    assert live.progress_text(running, "steps", every=4.2).endswith("· 30 watching · redrawn every 4 s")
