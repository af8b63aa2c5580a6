"""End to end in a real Chromium: the app served by `streamlit run`, every page opened, its experiment run
from the ▶ button, and the result checked as a student sees it: no exception or error box, Plotly charts
drawn. The screenshots are written to docs/screenshots/ (the README shows them).

Lessons are opened with fewer training steps than their default (`?steps=…`, the URL-backed settings) so
that the whole module stays within a few minutes on two cores. Run with `pytest -m browser`.
"""

from __future__ import annotations

import re

import pytest

from tests.browser_support import (
    CHART,
    FINISHED,
    PROGRESS,
    ROOT,
    RUN_BUTTON,
    VIEWPORT,
    chromium,
    error_texts,
    full_screenshot,
    missing,
    open_app,
    page_paths,
    streamlit_server,
)

if (reason := missing()) is not None:
    pytest.skip(reason, allow_module_level=True)

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"
STEPS = 150  # per run, instead of each lesson's default
RUN_TIMEOUT = 90


@pytest.fixture(scope="module")
def server():
    with streamlit_server(ROOT / "app.py") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    yield page
    context.close()


def wait_for_charts(page) -> None:
    """Plotly has drawn its SVG (not just the placeholder div), then a moment for every chart to settle."""
    page.wait_for_selector(f"{CHART} .main-svg", timeout=30_000)
    page.wait_for_timeout(1000)


def assert_clean(page) -> None:
    assert error_texts(page) == []
    assert page.locator(CHART).count() >= 1


def test_home_page_draws_the_stored_comparison(server, page):
    open_app(page, server + "/")
    wait_for_charts(page)
    assert_clean(page)
    assert page.locator(RUN_BUTTON).count() == 0
    full_screenshot(page, SCREENSHOTS / "home.png")


@pytest.mark.parametrize("stem", list(page_paths()))
def test_lesson_runs_its_experiment(server, page, stem):
    open_app(page, f"{server}{page_paths()[stem]}?steps={STEPS}")
    assert error_texts(page) == [], "error before the run"
    page.locator(RUN_BUTTON).click()
    page.wait_for_selector(FINISHED, state="visible", timeout=RUN_TIMEOUT * 1000)
    wait_for_charts(page)
    assert_clean(page)
    full_screenshot(page, SCREENSHOTS / f"{stem}.png")


def steps_done(page) -> int:
    """Steps trained so far, read from the progress bar's text ("Running: 1,234 / 4,000 steps …")."""
    text = page.locator(PROGRESS).inner_text()
    return int(re.search(r"([\d,]+) /", text).group(1).replace(",", ""))


def test_changing_widgets_during_training_keeps_it_running(server, page):
    """A widget click reruns the script; the training thread must go on, and no error may appear."""
    path = page_paths()["1_Train_and_compare"]
    open_app(page, f"{server}{path}?steps=3000&seed=7")  # long enough to still be training after the clicks
    page.locator(RUN_BUTTON).click()
    page.wait_for_selector(PROGRESS, timeout=30_000)
    page.wait_for_function(
        "() => /[1-9][\\d,]* \\//.test(document.querySelector(\"[data-testid='stProgress']\")?.innerText || '')",
        timeout=30_000,
    )
    before = steps_done(page)

    slider = page.locator("[data-testid='stSidebar'] [data-testid='stSlider']").first
    value = slider.locator("[data-testid='stSliderThumbValue']")
    old = value.inner_text()
    slider.locator("input[type='range']").focus()
    page.keyboard.press("ArrowRight")  # the first slider (the learning rate), one notch up
    page.wait_for_function("([e, old]) => e.innerText !== old", arg=[value.element_handle(), old])
    page.locator("[data-testid='stSidebar'] [data-testid='stNumberInputStepUp']").last.click()  # the seed

    page.wait_for_timeout(2000)
    assert error_texts(page) == []
    assert page.locator(PROGRESS).is_visible(), "the run's progress disappeared after a widget change"
    assert steps_done(page) > before, "training did not go on after the widget changes"

    page.get_by_role("button", name="■ Stop training").click()
    page.wait_for_selector(FINISHED, state="visible", timeout=30_000)
    assert error_texts(page) == []
    assert page.locator(CHART).count() >= 1
