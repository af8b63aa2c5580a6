"""The home page: the formulas (with the unbiased running variance), the note's code, which lessons train
which network, a chart of the stored comparison at once, links to every lesson, no torch import (so its
first paint is fast), and one clear line instead of a traceback for a corrupt stored result."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bn_demo.core.results import load_runs
from bn_demo.views.style import SMOOTHING, ema
from lab_ui import examples
from lab_ui.nav import LESSONS
from tests.test_page_train import ROOT, arr, trace


def open_home() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


def test_home_explains_bn_and_draws_the_stored_comparison():
    at = open_home()
    assert not at.exception
    formulas = [latex.value for latex in at.latex]
    assert any(r"\mu_B" in f and r"\sum" in f for f in formulas)
    assert any(r"\sqrt{\sigma_B^2 + \epsilon}" in f for f in formulas)
    assert any(r"\gamma" in f and r"\beta" in f for f in formulas)
    assert any(r"\frac{m}{m-1}\,\sigma_B^2" in f and "0.9" in f for f in formulas)  # PyTorch's running variance
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "unbiased" in text and "1.333 at m = 4" in text and "Algorithm 2" in text
    code = at.code[0].value
    for line in ("self.bn1 = nn.BatchNorm1d(256)", "x = torch.relu(x)", "self.fc2 = nn.Linear(256, 10)"):
        assert line in code
    assert "Every lesson trains this network" not in text
    assert "Pages 1, 2, 3, 5 and 8 train the note's network" in text and "pages 4, 6 and 7 train a 784-100" in text
    stored = load_runs(examples.STORED_DEFAULT)
    loss = next(json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        history = stored[name].history["train_loss"]
        np.testing.assert_allclose(arr(trace(loss, f"{lab} · training batch (raw)")["y"]), history)
        np.testing.assert_allclose(arr(trace(loss, f"{lab} · training batch")["y"]), ema(history, SMOOTHING), rtol=1e-6)
        assert f"{stored[name].test_accuracy:.1%} test accuracy" in text
    assert len(at.get("plotly_chart")) == 2  # loss and accuracy, side by side (stacked on a phone)
    links = [link.proto.page for link in at.main.get("page_link")]
    expected = sorted(p.stem.split("_", 1)[1] for p in (ROOT / "pages").glob("*.py"))  # URL: no number
    assert sorted(link.rsplit("/", 1)[-1] for link in links) == expected
    menu = [link.proto.label for link in at.sidebar.get("page_link")]  # "Home", not the file name "app"
    assert menu[0] == "Home" and len(menu) == 1 + len(expected) and menu[1].startswith("1 · ")
    assert len(at.get("download_button")) == 1


def test_pages_folder_and_navigation_list_the_same_lessons_in_order():
    files = sorted((ROOT / "pages").glob("*.py"), key=lambda p: int(p.stem.split("_", 1)[0]))
    assert [lesson.path for lesson in LESSONS] == [f"pages/{p.name}" for p in files]
    assert all(lesson.network in ("note", "ioffe") for lesson in LESSONS)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda d: (d / "bn" / "summary.json").write_text("{not json"), "unreadable (JSONDecodeError"),
        (lambda d: (d / "plain" / "history.csv").write_text("step,loss\n0,1\n"), "lacks history columns"),
        (lambda d: (d / "bn" / "evals.csv").unlink(), "lacks evals columns"),
    ],
)
def test_a_corrupt_stored_result_is_one_clear_line(tmp_path, monkeypatch, damage, words):
    folder = tmp_path / "stored"
    shutil.copytree(examples.STORED_DEFAULT, folder)
    damage(folder)
    with pytest.raises(examples.StoredResultError, match=re.escape(words)):
        examples.load_stored(folder)
    monkeypatch.setattr(examples, "STORED_DEFAULT", folder)
    at = open_home()
    assert not at.exception
    (warning,) = at.warning
    assert warning.value.startswith("The stored comparison could not be read") and words in warning.value
    assert "\n" not in warning.value and "Traceback" not in warning.value
    assert not at.get("plotly_chart")


def test_home_page_does_not_import_torch():
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        "at = AppTest.from_file('app.py', default_timeout=60).run(); "
        "assert not at.exception, at.exception; sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
