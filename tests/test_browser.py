"""End to end in a real Chromium: the app served by `streamlit run`, every page opened, its experiment run
from the ▶ button, and the result checked as a student sees it: no exception or error box, Plotly charts
drawn, no share outside −100…100 %, a "Finished in" no longer than the run itself took; then every page again
at a phone's width (390 px), where nothing may stick out sideways.

Lessons are opened with fewer training steps than their default (`?steps=…`, the URL-backed settings) so
that the whole module stays within a few minutes on two cores. The server gets an empty result store, so
every run trains. Screenshots go to build/screenshots/ (or $BN_SCREENSHOTS); `python -m tests.gallery`
refreshes the README's gallery in docs/screenshots/. Run with `pytest -m browser`.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.browser_support import (
    CHART,
    FINISHED,
    PHONE,
    PROGRESS,
    ROOT,
    RUN_BUTTON,
    VIEWPORT,
    chromium,
    error_texts,
    full_screenshot,
    main_text,
    missing,
    open_app,
    overflow_width,
    page_paths,
    streamlit_server,
)

if (reason := missing()) is not None:
    pytest.skip(reason, allow_module_level=True)

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / os.environ.get("BN_SCREENSHOTS", "build/screenshots")
STEPS = 150  # per run, instead of each lesson's default
SEEDS = 2  # two seeds: the seed bands are drawn, and a run stays short
RUN_TIMEOUT = 180
PERCENT = re.compile(r"(?<![\w.])([−-]?\d[\d,]*(?:\.\d+)?)\s?%")
FINISHED_IN = re.compile(r"Finished in ([\d,.]+) s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    with streamlit_server(ROOT / "app.py", env={"BN_DEMO_STORE": str(store)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def new_page(browser, viewport):
    context = browser.new_context(viewport=viewport)
    return context, context.new_page()


@pytest.fixture
def page(browser):
    context, page = new_page(browser, VIEWPORT)
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    context, page = new_page(browser, PHONE)
    yield page
    context.close()


def wait_for_charts(page) -> None:
    """Plotly has drawn its SVG (not just the placeholder div), then a moment for every chart to settle."""
    page.wait_for_selector(f"{CHART} .main-svg", timeout=30_000)
    page.wait_for_timeout(1000)


def percentages(text: str) -> list[float]:
    return [float(m.replace(",", "").replace("−", "-")) for m in PERCENT.findall(text)]


def test_percentages_are_read_as_a_student_reads_them():
    assert percentages("BN 96.5% vs −3 % and 1,234.5%; v2%") == [96.5, -3.0, 1234.5]


def assert_clean(page) -> None:
    assert error_texts(page) == []
    assert page.locator(CHART).count() >= 1
    shares = percentages(main_text(page))
    assert all(-100 <= p <= 100 for p in shares), f"a share outside −100…100 %: {shares}"


def test_home_page_draws_the_stored_comparison(server, page):
    open_app(page, server + "/")
    wait_for_charts(page)
    assert_clean(page)
    assert page.locator(RUN_BUTTON).count() == 0
    full_screenshot(page, SCREENSHOTS / "home.png")


@pytest.mark.parametrize("stem", list(page_paths()))
def test_lesson_runs_its_experiment(server, page, stem):
    open_app(page, f"{server}{page_paths()[stem]}?steps={STEPS}&seeds={SEEDS}")
    assert error_texts(page) == [], "error before the run"
    started = time.monotonic()
    page.locator(RUN_BUTTON).click()
    page.wait_for_selector(FINISHED, state="visible", timeout=RUN_TIMEOUT * 1000)
    took = time.monotonic() - started
    wait_for_charts(page)
    assert_clean(page)
    finished = FINISHED_IN.search(page.locator(FINISHED).inner_text())
    assert finished is not None and float(finished.group(1).replace(",", "")) <= took + 1.0
    full_screenshot(page, SCREENSHOTS / f"{stem}.png")


@pytest.mark.parametrize("stem", ["home", *page_paths()])
def test_every_page_reads_at_phone_width(server, phone, stem):
    """At 390 px the panels stack: nothing sticks out sideways, and the page still has no error."""
    path = "/" if stem == "home" else page_paths()[stem]
    open_app(phone, f"{server}{path}")
    if phone.locator(CHART).count():
        wait_for_charts(phone)
    assert error_texts(phone) == []
    assert overflow_width(phone) <= 1
    full_screenshot(phone, SCREENSHOTS / "phone" / f"{stem}.png")


def steps_done(page) -> int:
    """Steps trained so far, read from the progress bar's text ("Running: 1,234 / 4,000 steps …")."""
    text = page.locator(PROGRESS).inner_text()
    return int(re.search(r"([\d,]+) /", text).group(1).replace(",", ""))


def test_changing_widgets_during_training_keeps_it_running(server, page):
    """A widget click reruns the script; the training thread must go on, and no error may appear."""
    path = page_paths()["1_Train_and_compare"]
    open_app(page, f"{server}{path}?steps=3000&seed=7&seeds=1")  # long enough to still be training after the clicks
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

    page.get_by_role("button", name="■ Stop").click()
    page.wait_for_selector(FINISHED, state="visible", timeout=30_000)
    assert error_texts(page) == []
    assert page.locator(CHART).count() >= 1
