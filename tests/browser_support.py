"""Driving the app in a real Chromium: a `streamlit run` server on a free port, the system browser launched
through Playwright (never a downloaded one), and the waits every page needs. Shared by the browser test and
the app benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-14's CSS pixels
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
CHART = ".js-plotly-plot"
FINISHED = ".st-key-run-finished"
RUN_BUTTON = ".st-key-run button"
PROGRESS = "[data-testid='stProgress']"
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"


def missing() -> str | None:
    """Why a browser run is impossible here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (install Debian's chromium; never `playwright install`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install playwright)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_paths(root: Path = ROOT) -> dict[str, str]:
    """Stem -> URL path of every page in pages/, in menu order (the number prefix is not part of the URL)."""
    files = sorted((root / "pages").glob("*.py"), key=lambda p: (int(p.stem.split("_", 1)[0]), p.stem))
    return {p.stem: "/" + p.stem.split("_", 1)[1] for p in files}


@contextmanager
def streamlit_server(
    script: Path, cwd: Path = ROOT, timeout: float = 60, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`streamlit run script` headless on a free port, with `env` added to this process's environment;
    yields its base URL once /_stcore/health says ok."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true"]
    command += ["--server.port", str(port), "--browser.gatherUsageStats", "false"]
    command += ["--server.fileWatcherType", "none"]
    log = tempfile.TemporaryFile(mode="w+")  # the server's output, shown if it fails to start
    server = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"streamlit exited with code {server.returncode}:\n{log.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout} s")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@contextmanager
def chromium() -> Iterator:
    """The system Chromium, headless, through Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_idle(page, timeout: float = 60) -> None:
    """The app is connected and its script has finished running."""
    page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=timeout * 1000)
    page.wait_for_selector(IDLE, timeout=timeout * 1000)


def error_texts(page) -> list[str]:
    """Text of every exception or st.error on the page (empty when there is none)."""
    return [e.inner_text() for e in page.locator(ERRORS).all()]


def main_text(page) -> str:
    """Everything the page writes in its main area, as a student reads it."""
    return page.locator("[data-testid='stMain']").inner_text()


def overflow_width(page) -> int:
    """How many CSS pixels the main area is wider than the window (0 when nothing sticks out sideways)."""
    return page.evaluate(
        "() => Math.max(0, (document.querySelector(\"[data-testid='stMain']\")?.scrollWidth || 0) - window.innerWidth)"
    )


def open_app(page, url: str, timeout: float = 60) -> None:
    """Load `url` and wait until the page's script has drawn its title and stopped running."""
    page.goto(url)
    page.wait_for_selector("h1", timeout=timeout * 1000)  # every page has a title: the script has started
    wait_idle(page, timeout)


def full_screenshot(page, path: Path) -> None:
    """Streamlit scrolls inside <main>, so a "full page" screenshot would stop at the viewport: grow the
    viewport to the content's height for the shot, then restore it."""
    height = page.evaluate(
        "() => Math.max(...['stMain', 'stSidebarContent'].map("
        "id => document.querySelector(`[data-testid='${id}']`)?.scrollHeight || 0))"
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    page.wait_for_timeout(500)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
