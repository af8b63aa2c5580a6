"""Precompute every lesson's default experiment into data/lessons/, the read-only result store shipped with
the app, so that a lesson opened on a slow server shows its default result at once:

    python -m lab_ui.lessons

Each page is opened as a student opens it (under AppTest, with no settings in the link), its ▶ button is
pressed, and the finished result is stored under the key the page itself asked for. Rerun it after a change
to a page's defaults or to what the engine records (and raise store.FORMAT if results changed shape).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bn_demo.store import LESSONS, ResultStore

PAGES = Path(__file__).resolve().parent.parent / "pages"
LINKS = {"7_What_later_research_found.py": ({}, {"experiment": "ics"}, {"experiment": "landscape"})}
TIMEOUT = 3600


def precompute(page: Path, link: dict[str, str], store: ResultStore) -> str:
    """Run `page`'s default experiment (with `link`'s settings) and store it; a line saying what was stored."""
    at = AppTest.from_file(str(page), default_timeout=TIMEOUT)
    for name, value in link.items():
        at.query_params[name] = value
    at.run()
    at.button(key="run").click().run()
    jobs = [name for name in at.session_state.filtered_state if str(name).endswith(":job")]
    key, job = at.session_state[jobs[0]]
    status = job.wait(TIMEOUT)
    if status.state != "done":
        raise RuntimeError(f"{page.name} {link}: the experiment ended {status.state} ({status.error})")
    store.put(key, job.peek(), seconds=status.elapsed)
    return f"{page.name} {link or ''}: stored, trained in {status.elapsed:.0f} s"


def main() -> None:
    """Build the lessons in a new folder and swap it in at the end: no stale entries, and a failed run
    leaves the shipped lessons as they were."""
    fresh = LESSONS.with_name(LESSONS.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    store = ResultStore(fresh, max_bytes=2**30)
    for page in sorted(PAGES.glob("*.py")):
        for link in LINKS.get(page.name, ({},)):
            print(precompute(page, link, store), file=sys.stderr)
    summary = f"{len(store.entries())} lessons, {store.size() / 2**20:.1f} MB in {LESSONS}"
    shutil.rmtree(LESSONS, ignore_errors=True)
    fresh.rename(LESSONS)
    print(summary, file=sys.stderr)


if __name__ == "__main__":
    main()
