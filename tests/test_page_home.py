"""The home page: the formula, the note's code, a chart of the stored comparison at once, links to the lessons
that exist, and no torch import (so its first paint is fast)."""

import json
import subprocess
import sys

import numpy as np
from streamlit.testing.v1 import AppTest

from bn_demo.results import load_runs
from lab_ui.examples import STORED_DEFAULT
from tests.test_page_train import ROOT, arr, trace


def test_home_explains_bn_and_draws_the_stored_comparison():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    formulas = [latex.value for latex in at.latex]
    assert any(r"\mu_B" in f and r"\sum" in f for f in formulas)
    assert any(r"\sqrt{\sigma_B^2 + \epsilon}" in f for f in formulas)
    assert any(r"\gamma" in f and r"\beta" in f for f in formulas)
    code = at.code[0].value
    for line in (
        "self.bn1 = nn.BatchNorm1d(256)",
        "x = torch.relu(x)",
        "self.fc2 = nn.Linear(256, 10)",
        "model = Net()",
    ):
        assert line in code
    stored = load_runs(STORED_DEFAULT)
    (chart,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        np.testing.assert_allclose(
            arr(trace(chart, f"{lab} · training batch")["y"]), stored[name].history["train_loss"]
        )
        assert f"{stored[name].test_accuracy:.1%} test accuracy" in " ".join(m.value for m in at.markdown)
    links = [link.proto.page for link in at.main.get("page_link")]
    expected = sorted(p.stem.split("_", 1)[1] for p in (ROOT / "pages").glob("[1-7]_*.py"))  # URL: no number
    assert sorted(link.rsplit("/", 1)[-1] for link in links) == expected
    menu = [link.proto.label for link in at.sidebar.get("page_link")]  # "Home", not the file name "app"
    assert menu[0] == "Home" and len(menu) == 1 + len(expected) and menu[1].startswith("1 · ")
    assert len(at.get("download_button")) == 1


def test_home_page_does_not_import_torch():
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        "at = AppTest.from_file('app.py', default_timeout=60).run(); "
        "assert not at.exception, at.exception; sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
