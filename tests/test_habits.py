"""Habits that keep the code easy to change: the engine never imports Streamlit or the UI helpers (so it
runs in a notebook, the CLI and background threads alike), and the navigation lists exactly the pages
that exist (a page added to pages/ but not to lab_ui.nav.LESSONS would be unreachable from the menu)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import bn_demo
from lab_ui.nav import LESSONS

ROOT = Path(__file__).resolve().parent.parent
UI_PACKAGES = {"streamlit", "lab_ui"}


def engine_modules() -> list[str]:
    """bn_demo and all its submodules, except __main__ (importing it runs the CLI)."""
    found = pkgutil.walk_packages(bn_demo.__path__, prefix="bn_demo.")
    return ["bn_demo", *sorted(m.name for m in found if m.name != "bn_demo.__main__")]


def packages_loaded_by(modules: list[str]) -> set[str]:
    """Top-level packages in sys.modules after importing `modules` in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code, *modules], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_importing_the_whole_engine_loads_neither_streamlit_nor_the_ui_helpers():
    modules = engine_modules()
    assert {"bn_demo.core.train", "bn_demo.core.recorder", "bn_demo.views.figures", "bn_demo.cli"} <= set(modules)
    loaded = packages_loaded_by(modules)
    assert {"bn_demo", "torch", "plotly"} <= loaded  # the imports did happen
    assert not loaded & UI_PACKAGES


def test_the_import_check_sees_a_module_that_loads_streamlit():
    assert UI_PACKAGES <= packages_loaded_by(["lab_ui.nav"])


def page_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / "pages").glob("*.py")}


def test_the_navigation_lists_exactly_the_pages():
    assert page_files(ROOT) == {lesson.path for lesson in LESSONS}


def test_a_page_missing_from_the_navigation_is_seen(tmp_path):
    (tmp_path / "pages").mkdir()
    for path in [lesson.path for lesson in LESSONS] + ["pages/8_New_lesson.py"]:
        (tmp_path / path).write_text("")
    assert page_files(tmp_path) - {lesson.path for lesson in LESSONS} == {"pages/8_New_lesson.py"}
