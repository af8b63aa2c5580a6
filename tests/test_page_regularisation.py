"""Regularisation under AppTest: three nets on a small fixed subset, paired within each seed; the curves
hold the train-subset and test evaluations; the verdicts are comparison_text's on these results."""

import numpy as np

from bn_demo.views import comparison_text, fit_figures
from lab_ui import experiments
from tests.test_page_train import ROOT, arr, chart, open_page, text_of, trace, train

PAGE_FILE = ROOT / "pages" / "8_Regularisation.py"


def test_regularisation_trains_bn_no_bn_and_dropout_on_the_subset_and_writes_the_verdicts():
    at = open_page(PAGE_FILE, train_size=500, steps=60, batch_size=32, seeds=2, dropout=0.3)
    results = train(at, "regularisation").result
    per_seed = results.per_seed
    assert [list(runs) for runs in per_seed] == [["bn", "plain", "dropout"]] * 2
    for runs in per_seed:
        assert {r.config.train_size for r in runs.values()} == {500}
        assert runs["dropout"].config.dropout == 0.3 and runs["dropout"].config.norm == "plain"
        assert runs["bn"].config.dropout == 0.0
    gap = chart(at, "Train − test accuracy")
    tables = [fit_figures.fit_table(runs["dropout"]) for runs in per_seed]
    expected = np.mean([t["accuracy_gap"].to_numpy() for t in tables], axis=0)
    np.testing.assert_allclose(arr(trace(gap, "no BN + dropout")["y"]), expected, rtol=1e-6)
    assert "min–max over seeds" in gap["layout"]["title"]["text"]
    text = text_of(at)
    for finding in (
        comparison_text.gap_verdict(per_seed, "bn", "accuracy_gap"),
        comparison_text.gap_verdict(per_seed, "bn", "loss_gap"),
        comparison_text.gap_verdict(per_seed, "dropout", "accuracy_gap"),
        comparison_text.fit_finding(per_seed, "bn"),
    ):
        assert finding and finding.text in text
    assert "on its 500 training images" in text and "What was measured" in text
    assert len(at.get("plotly_chart")) == 4 and len(at.get("download_button")) == 2


def test_the_default_regularisation_job_is_importable_and_fast_to_describe():
    spec = experiments.default_job("regularisation")
    configs = spec.configs
    assert list(configs) == ["bn", "plain", "dropout"] and spec.seeds == (0, 1, 2)
    assert configs["bn"].train_size == 1000 and configs["dropout"].dropout == 0.5
    assert spec.steps * spec.runs == 1000 * 9
