"""Internal covariate shift under AppTest: percentile bands, heatmap, unit drift and BN's input vs output hold
the run's numbers; the text quotes them; the layer selector switches layer; a run trained on Train & compare
with the same settings is shown without retraining."""

import numpy as np

from bn_demo import figures
from tests.test_page_train import PAGE_FILE, ROOT, arr, charts, job_of, open_page, trace, train

ICS_FILE = ROOT / "pages" / "2_Internal_covariate_shift.py"


def quantity(run, layer: int, name: str):
    rows = run.layers[(run.layers["layer"] == layer) & (run.layers["quantity"] == name)]
    return rows["value"].to_numpy()


def test_ics_page_draws_the_tracked_unit_and_quotes_its_movement():
    at = open_page(ICS_FILE, steps=30, layers=2, unit=5, batch_size=64)
    runs = train(at, "ics").result
    assert runs["bn"].config.tracked_unit == 5 and runs["plain"].config.hidden == (256, 256)
    bands, heatmap, drift, bn_io = charts(at)
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        np.testing.assert_allclose(arr(trace(bands, f"{lab}: median")["y"]), quantity(runs[name], 2, "p50"))
        np.testing.assert_allclose(arr(trace(bands, f"{lab}: 85th percentile")["y"]), quantity(runs[name], 2, "p85"))
        p50 = quantity(runs[name], 2, "p50")
        text = " ".join(m.value for m in at.markdown)
        assert f"went from {p50[0]:.3f} to {p50[-1]:.3f}" in text
        units = runs[name].tables["units"].query("layer == 2")
        first, last = units[units["step"] == units["step"].min()], units[units["step"] == units["step"].max()]
        moved = np.abs(last["mean"].to_numpy() - first["mean"].to_numpy()).mean()
        assert f"moved by {moved:.3f} on average" in text
    assert [t["name"] for t in heatmap["data"]] == ["BN", "no BN"]
    np.testing.assert_allclose(
        arr(trace(bn_io, "BN's input (Linear output): median")["y"]), quantity(runs["bn"], 2, "bn_in_p50")
    )
    np.testing.assert_allclose(
        arr(trace(bn_io, "BN's output (input of the nonlinearity): median")["y"]), quantity(runs["bn"], 2, "p50")
    )
    bn_in_var = quantity(runs["bn"], 2, "bn_in_var")
    assert f"its batch variance went from {bn_in_var[0]:.3g} to {bn_in_var[-1]:.3g}" in " ".join(
        m.value for m in at.markdown
    )
    assert len(at.get("download_button")) == 3

    at.button_group(key="ics:layer").set_value(1).run()
    assert not at.exception
    bands = charts(at)[0]
    np.testing.assert_allclose(arr(trace(bands, "no BN: median")["y"]), quantity(runs["plain"], 1, "p50"))
    assert "Layer 1" in bands["layout"]["title"]["text"]
    edges = figures.snapshot_edges(runs, 1)
    assert len(arr(charts(at)[1]["data"][0]["y"])) == len(edges) - 1


def test_a_run_from_train_and_compare_is_reused_with_identical_settings():
    settings = {"steps": 30, "layers": 3, "lr": 0.03}
    first = open_page(PAGE_FILE, **settings)
    job = train(first, "train")
    at = open_page(ICS_FILE, **settings)  # no Train press: the server already has this pair
    assert job_of(at, "ics") is job
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 4


def test_bad_links_warn_and_extreme_settings_do_not_crash():
    at = open_page(ICS_FILE, steps=30, unit=999, lr=30)
    assert any("unit=999" in w.value for w in at.warning)
    runs = train(at, "ics").result
    assert runs["plain"].config.tracked_unit == 0
    assert any("diverged at step" in w.value for w in at.warning)
    assert not at.exception
