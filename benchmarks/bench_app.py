"""How fast the app feels, measured in a real Chromium against `streamlit run`:

- first paint of the home page (first markdown or chart visible), against a one-line Streamlit page served
  the same way in the same run (the baseline: what any Streamlit page costs on this machine);
- on Train & compare with the default settings: time from clicking ▶ Train to the first chart drawn, and
  to the comparison finished (`.st-key-run-finished` visible);
- whether the home page's script imports torch (it should not: torch alone takes seconds to import).

Each repeat uses a fresh browser session; Train repeats vary only the seed (a repeated request would join the
finished job instead of training). Train is opened after the home page, as a student would (Plotly's script is
then in the browser's cache), and once more in a fresh browser for comparison.
Targets: first chart < 1 s, default comparison < 10 s.

    python benchmarks/bench_app.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import browser_support as web

FIRST_PAINT = f"[data-testid='stMarkdown'], {web.CHART}"
TRIVIAL_PAGE = 'import streamlit as st\n\nst.markdown("Hello")\n'
TRAIN_PAGE = "1_Train_and_compare"
TARGETS = {"first chart after ▶ Train": 1.0, "default comparison finished": 10.0}


def first_paint(browser, url: str) -> float:
    """Seconds from navigation to the first markdown or chart on screen, in a fresh session."""
    context = browser.new_context(viewport=web.VIEWPORT)
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.locator(FIRST_PAINT).first.wait_for(state="visible", timeout=60_000)
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def train_timings(browser, url: str, home: str | None) -> tuple[float, float, float, str]:
    """Seconds from the click on ▶ Train to the progress bar, to the first chart drawn and to the run
    finished; the page's own "Finished in …" line (the server's training time). With `home`, the student's
    path: the home page was open first, so the browser has Plotly's script cached; without it, the first
    chart also waits for Plotly's script to be fetched and parsed."""
    context = browser.new_context(viewport=web.VIEWPORT)
    page = context.new_page()
    if home is not None:
        web.open_app(page, home)
        page.locator(f"{web.CHART} .main-svg").first.wait_for(state="visible", timeout=60_000)
    web.open_app(page, url)
    assert page.locator(web.CHART).count() == 0, "a chart was already on the page: this request was trained before"
    start = time.perf_counter()
    page.locator(web.RUN_BUTTON).click()
    page.locator(web.PROGRESS).first.wait_for(state="visible", timeout=120_000)
    progress = time.perf_counter() - start
    page.locator(f"{web.CHART} .main-svg").first.wait_for(state="visible", timeout=120_000)
    chart = time.perf_counter() - start
    page.locator(web.FINISHED).wait_for(state="visible", timeout=300_000)
    finished = time.perf_counter() - start
    own = page.locator(web.FINISHED).inner_text().strip()
    context.close()
    return progress, chart, finished, own


def home_imports_torch() -> bool:
    """Run the home page's script under AppTest in a fresh interpreter and look for torch in sys.modules."""
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        "at = AppTest.from_file('app.py', default_timeout=60).run(); "
        "assert not at.exception, at.exception; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=web.ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1] == "True"


def median(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if (reason := web.missing()) is not None:
        sys.exit(f"Cannot run: {reason}")

    with tempfile.TemporaryDirectory() as tmp:
        trivial = Path(tmp) / "trivial.py"
        trivial.write_text(TRIVIAL_PAGE)
        servers = web.streamlit_server(trivial, cwd=Path(tmp)), web.streamlit_server(web.ROOT / "app.py")
        with servers[0] as base, servers[1] as app, web.chromium() as b:
            home_cold = first_paint(b, app + "/")  # the server's first session: imports the app's modules
            trivial_cold = first_paint(b, base + "/")
            home, baseline = [], []
            for _ in range(args.repeats):  # interleaved, so that load from other processes hits both alike
                home.append(first_paint(b, app + "/"))
                baseline.append(first_paint(b, base + "/"))
            train_url = app + web.page_paths()[TRAIN_PAGE]
            runs = [train_timings(b, f"{train_url}?seed={seed}", app + "/") for seed in range(args.repeats)]
            cold = [train_timings(b, f"{train_url}?seed={100 + seed}", None)[1] for seed in range(args.repeats)]
    torch_imported = home_imports_torch()

    progress, chart, finished = ([r[i] for r in runs] for i in range(3))
    ratio = statistics.median(home) / statistics.median(baseline)
    print(f"Chromium, fresh session per measurement; median of {args.repeats}; Train: seeds 0..{args.repeats - 1}\n")
    print(f"{'measurement':<38} {'time':<34} {'target':>8} {'met':>4}")
    rows = [
        ("trivial page first paint (baseline)", median(baseline), None),
        ("home first paint", median(home), None),
        ("home first paint, first session", f"{home_cold:6.2f} s (trivial: {trivial_cold:.2f} s)", None),
        ("progress bar after ▶ Train", median(progress), None),
        ("first chart after ▶ Train", median(chart), "first chart after ▶ Train"),
        ("  same, Plotly not in browser cache", median(cold), None),
        ("default comparison finished", median(finished), "default comparison finished"),
    ]
    for name, text, target in rows:
        goal, met = "", ""
        if target is not None:
            values = chart if target.startswith("first") else finished
            goal, met = f"< {TARGETS[target]:.0f} s", "yes" if statistics.median(values) < TARGETS[target] else "NO"
        print(f"{name:<38} {text:<34} {goal:>8} {met:>4}")
    print(f"\nhome / trivial page first paint: {ratio:.2f}x")
    print(f"first chart / trivial first paint: {statistics.median(chart) / statistics.median(baseline):.2f}x")
    print(f"comparison / trivial first paint: {statistics.median(finished) / statistics.median(baseline):.1f}x")
    print("page's own timer: " + "; ".join(r[3] for r in runs))
    print(f"home page imports torch: {'YES (slow first paint)' if torch_imported else 'no'}")


if __name__ == "__main__":
    main()
