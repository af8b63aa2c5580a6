"""The two research pages under AppTest: Ioffe & Szegedy's Figure 1 and Santurkar et al.'s three tests draw
the job's numbers, and the text quotes them."""

import numpy as np

from bn_demo import figures, research
from tests.test_page_train import ROOT, arr, charts, open_page, trace, train

IOFFE_FILE = ROOT / "pages" / "6_Ioffe_and_Szegedy_2015.py"
LATER_FILE = ROOT / "pages" / "7_What_later_research_found.py"


def text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def finished(at) -> bool:
    return any(c.value.startswith("Finished in") for c in at.caption)


def test_ioffe_page_trains_the_papers_net_and_quotes_accuracy_and_drift():
    at = open_page(IOFFE_FILE, steps=40, unit=7)
    runs = train(at, "ioffe").result
    assert runs["bn"].config.hidden == (100, 100, 100) and runs["bn"].config.activation == "sigmoid"
    assert runs["plain"].config.tracked_unit == 7 and runs["plain"].config.steps == 40
    curves, bands = charts(at)
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        evals = figures.test_evals(runs[name])
        accuracy = [t for t in curves["data"] if t["name"] == f"{lab} · test"][-1]  # the right-hand subplot
        np.testing.assert_allclose(arr(accuracy["y"]), evals["accuracy"])
        p50 = figures.layer_table(runs[name], 3)["p50"].to_numpy()
        np.testing.assert_allclose(arr(trace(bands, f"{lab}: median")["y"]), p50)
        assert f"final test accuracy {runs[name].test_accuracy:.2%}" in text(at)
        assert f"the median went from {p50[0]:.2f} to {p50[-1]:.2f}" in text(at)
    drift = research.stability(runs, 3, ("p15", "p50", "p85")).groupby("run")["drift"].sum()
    assert f"drift was {drift['bn']:.2f} with BN and {drift['plain']:.2f}" in text(at)
    reached = {n: {t: research.first_step_reaching(runs[n], t) for t in (0.90, 0.95, 0.97)} for n in runs}
    assert research.race_text(reached["bn"], reached["plain"], 40) in text(at)
    early = research.early_share(runs["plain"], 3)
    assert f"had happened by step {early.step:,}" in text(at) or "no net change" in text(at)
    assert any("ms per paired step" in c.value for c in at.caption)  # the estimate is measured, not written
    assert finished(at)


def test_noisy_bn_experiment_compares_three_runs():
    at = open_page(LATER_FILE, experiment="noise", steps=40, noise_scale=0.5)
    assert at.selectbox(key="research:experiment").options == ["Noisy BN", "ICS as gradient change", "Loss landscape"]
    runs = train(at, "research:noise").result
    assert set(runs) == {"plain", "bn", "noisy_bn"} and runs["noisy_bn"].config.noise_scale == 0.5
    bars = charts(at)[2]
    table = research.stability(runs, 3)
    for name, lab in (("plain", "no BN"), ("bn", "BN"), ("noisy_bn", "noisy BN")):
        np.testing.assert_allclose(arr(trace(bars, lab)["y"]), table[table.run == name]["jitter"])
        reached = research.first_step_reaching(runs[name], 0.8)
        when = "never" if reached is None else f"at step {reached:,}"
        assert f"test accuracy {runs[name].test_accuracy:.2%}, first reached 80% {when}" in text(at)
    acc = {name: run.test_accuracy for name, run in runs.items()}
    near = "BN" if abs(acc["noisy_bn"] - acc["bn"]) < abs(acc["noisy_bn"] - acc["plain"]) else "no BN"
    assert f"is closer to {near}'s" in text(at)
    jitter = table[table.quantity.isin(["p15", "p50", "p85"])].groupby("run")["jitter"].sum()
    assert f"moved {jitter['noisy_bn'] / jitter['plain']:.1f}× as much per step" in text(at)
    assert finished(at)


def test_ics_and_landscape_experiments_draw_their_probes():
    at = open_page(LATER_FILE, experiment="ics", steps=20)
    probed = train(at, "research:ics").result
    l2 = charts(at)[0]
    assert len(l2["data"]) == 2 * 3  # runs x layers 2, 3 and the output layer
    rows = probed.probes.query("run == 'bn' and layer == 4")
    np.testing.assert_allclose(arr(trace(l2, "BN")["y"]), probed.probes.query("run == 'bn' and layer == 2")["l2"])
    assert f"({rows['l2'].median():.4f} vs" in text(at)
    assert f"(cosine {rows['cosine'].median():.3f} vs" in text(at)

    at.selectbox(key="research:experiment").set_value("landscape").run()
    probed = train(at, "research:landscape").result
    bands = research.landscape_bands(probed.probes)
    fig = charts(at)[0]
    loss_max = bands.query("run == 'plain' and quantity == 'loss'")["max"]
    np.testing.assert_allclose(arr(fig["data"][2]["y"]), loss_max)  # plain's upper edge, after BN's two traces
    assert "the loss was" in text(at) and finished(at)
