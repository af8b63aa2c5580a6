"""The lessons' default experiments ship with the repository: each page's request at its default settings
is in data/lessons/, and a page opened on its defaults draws that result at once, training nothing."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bn_demo.core.seeds import SeedResults
from bn_demo.serving.store import ResultStore
from lab_ui import lessons, live

ROOT = Path(__file__).resolve().parent.parent


def test_every_lesson_default_is_stored_under_the_key_its_page_asks_for():
    assert lessons.missing() == []  # a changed default or engine: run `python -m lab_ui.lessons`


def test_a_stored_default_reads_back_as_the_page_draws_it():
    request = lessons.default_requests()["train"]
    stored = ResultStore.lessons().get(request.key)
    assert isinstance(stored.result, SeedResults) and stored.result.complete
    assert list(stored.result.seeds) == list(request.seeds) and len(request.seeds) == 3
    for seed, runs in zip(request.seeds, stored.result.per_seed, strict=True):
        assert set(runs) == {"bn", "plain"} and all(run.config.seed == seed for run in runs.values())
        assert all(run.steps == run.config.steps and 0.9 < run.test_accuracy < 1 for run in runs.values())


@pytest.mark.parametrize(
    ("file", "page"), [("1_Train_and_compare.py", "train"), ("3_Learning_rate_sensitivity.py", "lr_sweep")]
)
def test_a_page_opens_with_its_stored_default_and_trains_nothing(file, page):
    live.registry.clear()
    at = AppTest.from_file(str(ROOT / "pages" / file), default_timeout=120).run()
    assert not at.exception and not at.error
    key, job = at.session_state[f"{page}:job"]
    assert key == lessons.default_requests()[page].key
    assert live.registry().status(job).stored and not live.registry().active
    assert at.get("plotly_chart"), "the stored default is drawn at once"
    assert any("trained earlier" in c.value for c in at.caption)
