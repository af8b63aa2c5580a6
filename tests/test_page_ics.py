"""Internal covariate shift under AppTest: percentile bands, heatmaps, unit drift and BN's input vs output
hold one seed's numbers; the text quotes all seeds' numbers (comparison_text); the layer and seed selectors
switch; a run trained on Train & compare with the same settings is shown without retraining; a net that
diverges at step 0 does not blank the page."""

import numpy as np

from bn_demo.views import comparison_text, distribution_figures
from tests.test_page_train import PAGE_FILE, ROOT, arr, charts, job_of, open_page, text_of, trace, train

ICS_FILE = ROOT / "pages" / "2_Internal_covariate_shift.py"


def quantity(run, layer: int, name: str):
    rows = run.layers[(run.layers["layer"] == layer) & (run.layers["quantity"] == name)]
    return rows["value"].to_numpy()


def titled(at, start: str) -> list[dict]:
    return [c for c in charts(at) if c["layout"]["title"]["text"].startswith(start)]


def test_ics_page_draws_one_seed_and_quotes_every_seed():
    at = open_page(ICS_FILE, steps=60, layers=2, unit=5, batch_size=64, seeds=2)
    results = train(at, "ics").result
    per_seed = results.per_seed
    runs = per_seed[0]
    assert runs["bn"].config.tracked_unit == 5 and runs["plain"].config.hidden == (256, 256)
    bn_band, plain_band = titled(at, "BN: layer 2"), titled(at, "no BN: layer 2")
    for fig, name, lab in ((bn_band[0], "bn", "BN"), (plain_band[0], "plain", "no BN")):
        np.testing.assert_allclose(arr(trace(fig, f"{lab}: median")["y"]), quantity(runs[name], 2, "p50"))
        np.testing.assert_allclose(arr(trace(fig, f"{lab}: 85th percentile")["y"]), quantity(runs[name], 2, "p85"))
    text = text_of(at)
    for name in ("bn", "plain"):
        assert comparison_text.ics_net_finding(per_seed, name, 2).text in text
    assert comparison_text.ics_verdict(per_seed, 2).text in text
    assert comparison_text.bn_before_after(per_seed, 2).text in text
    assert "widened" not in text or "narrowed" not in text  # one word per band, from its sign
    heat = [c for c in charts(at) if c["data"] and c["data"][0]["type"] == "heatmap"]
    assert len(heat) == 2 and all(c["data"][0]["zmax"] == 1 for c in heat)
    before = titled(at, "Before BN (Linear output)")[0]
    np.testing.assert_allclose(arr(trace(before, "BN's input: median")["y"]), quantity(runs["bn"], 2, "bn_in_p50"))
    assert len(at.get("download_button")) == 3

    at.button_group(key="ics:layer").set_value(1).run()
    assert not at.exception
    np.testing.assert_allclose(
        arr(trace(titled(at, "no BN: layer 1")[0], "no BN: median")["y"]), quantity(runs["plain"], 1, "p50")
    )
    at.button_group(key="ics:shown_seed").set_value(1).run()  # the second seed's distributions
    assert not at.exception
    np.testing.assert_allclose(
        arr(trace(titled(at, "no BN: layer 1")[0], "no BN: median")["y"]), quantity(per_seed[1]["plain"], 1, "p50")
    )
    assert comparison_text.ics_verdict(per_seed, 1).text in text_of(at)  # the numbers stay over all seeds


def test_a_run_from_train_and_compare_is_reused_with_identical_settings():
    settings = {"steps": 30, "layers": 3, "lr": 0.03, "seeds": 1}
    first = open_page(PAGE_FILE, **settings)
    job = train(first, "train")
    at = open_page(ICS_FILE, **settings)  # no Train press: the server already has this pair
    assert job_of(at, "ics") is job
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 8


def test_a_net_diverging_at_step_0_leaves_the_other_drawn():
    at = open_page(ICS_FILE, steps=30, lr=30, init="gaussian", init_std=3.0, layers=1, seeds=1)
    runs = train(at, "ics").result.per_seed[0]
    assert runs["plain"].diverged_at == 0 and runs["plain"].layers.empty
    assert any("no BN diverged at step 0" in w.value for w in at.warning)
    assert titled(at, "BN: layer 1, unit 0") and not titled(at, "no BN: layer 1, unit 0")
    assert not at.exception


def test_bad_links_warn_and_extreme_settings_do_not_crash():
    at = open_page(ICS_FILE, steps=30, unit=999, lr=30, seeds=1)
    assert any("unit=999" in w.value for w in at.warning)
    runs = train(at, "ics").result.per_seed[0]
    assert runs["plain"].config.tracked_unit == 0
    assert any("diverged at step" in w.value for w in at.warning)
    assert not at.exception


def test_heatmap_edges_are_each_runs_own():
    at = open_page(ICS_FILE, steps=30, layers=1, seeds=1)
    runs = train(at, "ics").result.per_seed[0]
    for fig, name in zip([c for c in charts(at) if c["data"][0]["type"] == "heatmap"], ("bn", "plain"), strict=True):
        edges = distribution_figures.snapshot_edges({name: runs[name]}, 1)
        np.testing.assert_allclose(arr(fig["data"][0]["y"]), (edges[:-1] + edges[1:]) / 2)
