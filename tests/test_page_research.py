"""The two paper lessons under AppTest: each trains its experiment over seeds (paired within a seed), draws the
mean over seeds, writes the sentences research_text builds from the job's own result, and shows a result
already on the server (including one whose run diverged at step 0) without retraining."""

import numpy as np
import pytest

from bn_demo.core.seeds import SeedResults
from bn_demo.experiments import research
from bn_demo.serving.jobs import Job
from bn_demo.views import research_text
from bn_demo.views.research_figures import ICS_LABELS
from bn_demo.views.style import label
from lab_ui import live, papers
from lab_ui.params import defaults
from tests import fake_runs as f
from tests.test_page_train import ROOT, arr, charts, open_page, trace, train

IOFFE_FILE = ROOT / "pages" / "6_Ioffe_and_Szegedy_2015.py"
LATER_FILE = ROOT / "pages" / "7_What_later_research_found.py"


def text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def finished(at) -> bool:
    return any(c.value.startswith("Finished in") for c in at.caption)


def mean_line(fig: dict, group: str, axis: str = "x2") -> dict:
    """style.seed_band's mean line of a net (the last trace of its group) in one panel."""
    return [t for t in fig["data"] if t.get("legendgroup") == group and t.get("xaxis", "x") == axis][-1]


def test_ioffe_page_trains_the_papers_net_over_seeds_and_quotes_the_engines_verdicts():
    at = open_page(IOFFE_FILE, steps=40, unit=7, seeds=2, seed=5)
    result = train(at, papers.IOFFE_PAGE).result
    assert result.seeds == (5, 6) and len(result.per_seed) == 2
    for seed, runs in zip(result.seeds, result.per_seed, strict=True):
        assert set(runs) == {"bn", "plain"} and {r.config.seed for r in runs.values()} == {seed}
        assert runs["bn"].config.hidden == (100, 100, 100) and runs["plain"].config.tracked_unit == 7
    curves, bands = charts(at)[:2]
    for name in ("bn", "plain"):  # accuracy: the mean over seeds of each evaluation
        evals = [r[name].evals.query("mode == 'eval'").set_index("step")["accuracy"] for r in result.per_seed]
        np.testing.assert_allclose(arr(mean_line(curves, name)["y"]), (evals[0] + evals[1]) / 2)
    assert "seed 5" in bands["layout"]["title"]["text"]  # the percentiles of the first seed
    assert research_text.ioffe_findings(result.per_seed).text in text(at)
    assert research_text.drift_text(result.per_seed, 3).text in text(at)
    assert "mean ± sd over 2 seeds" in text(at)
    assert any("× 2 seeds" in c.value for c in at.caption) and finished(at)
    assert len(at.get("download_button")) == 2


def test_research_page_shows_the_noise_control_only_for_the_noise_experiment():
    at = open_page(LATER_FILE, experiment="noise", noise_scale=0.5)
    assert at.segmented_control(key="research:noise_scale").value == 0.5
    at.selectbox(key="research:experiment").set_value("ics").run()
    assert not [w for w in at.get("segmented_control") if w.key == "research:noise_scale"]
    assert at.query_params["noise_scale"] == "0.5"  # hidden, the setting keeps its value (and the link)
    at.selectbox(key="research:experiment").set_value("noise").run()
    assert at.segmented_control(key="research:noise_scale").value == 0.5 and not at.exception


def test_noisy_bn_experiment_compares_three_nets_over_seeds():
    at = open_page(LATER_FILE, experiment="noise", steps=40, noise_scale=0.5, seeds=2)
    assert at.selectbox(key="research:experiment").options == list(research_text.EXPERIMENT_TITLES.values())
    result = train(at, "research:noise").result
    runs = result.per_seed[0]
    assert set(runs) == set(research.NOISE_NORMS) and runs["noisy_bn"].config.noise_scale == 0.5
    assert "Evaluation** applies the noise's expectation" in text(at) and "1.25·BN(x)" in text(at)
    bars = charts(at)[2]
    tables = [research.stability(r, 3) for r in result.per_seed]
    for name in research.NOISE_NORMS:
        mine = [t[t.run == name]["jitter"].to_numpy() for t in tables]
        np.testing.assert_allclose(arr(trace(bars, label(name))["y"]), (mine[0] + mine[1]) / 2)
    assert research_text.noise_text(result.per_seed, 3).text in text(at) and finished(at)


@pytest.mark.parametrize("experiment", ["ics", "landscape"])
def test_probe_experiments_draw_their_probes_and_verdicts(experiment):
    at = open_page(LATER_FILE, experiment=experiment, steps=20, seeds=1)
    result = train(at, f"research:{experiment}").result
    probed = result.per_seed[0]
    assert set(probed.runs) == {"bn", "plain"} and len(probed.probes)
    figs = charts(at)
    if experiment == "ics":
        titles = [fig["layout"]["yaxis"]["title"]["text"] for fig in figs[:3]]
        assert titles == [ICS_LABELS[m] for m in ("relative", "cosine", "l2")]  # the scale-free measures first
        relative = probed.probes.query("run == 'bn' and layer == 2")["relative"]
        np.testing.assert_allclose(arr(mean_line(figs[0], "bn", "x")["y"]), relative)
        assert research_text.ics_text(result.per_seed).text in text(at)
        assert "“Surprisingly, we observe that networks with BatchNorm often exhibit an increase in ICS”" in text(at)
    else:
        assert "L (smoothness)" in text(at) and "β-smoothness" in text(at)
        assert research_text.landscape_text(result.per_seed).text in text(at)
    assert finished(at)


def test_a_result_already_on_the_server_is_shown_and_a_run_diverged_at_step_0_does_not_blank_the_page():
    settings = {**defaults(papers.IOFFE_PARAMS), "steps": 50, "seeds": 2, "seed": 11}
    request = papers.ioffe_job(settings)
    per_seed = [
        {
            "bn": f.run("bn", seed=11, steps=50, evals=[(0, 0.1), (25, 0.8)]),
            "plain": f.run("plain", seed=11, steps=50, diverged_at=0, records=0, evals=[(0, 0.1)]),
        },
        {
            "bn": f.run("bn", seed=12, steps=50, evals=[(0, 0.1), (25, 0.85)]),
            "plain": f.run("plain", seed=12, steps=50, evals=[(0, 0.1), (25, 0.5)]),
        },
    ]
    job = live.registry().submit(request.key, lambda job: SeedResults((11, 12), per_seed), request.total)
    assert isinstance(job, Job) and job.wait(10).state == "done"
    at = open_page(IOFFE_FILE, steps=50, seeds=2, seed=11)
    assert not at.exception and at.session_state[f"{papers.IOFFE_PAGE}:job"][1] is job  # joined, not retrained
    assert "no BN diverged at step 0** (seed 11)" in " ".join(w.value for w in at.warning)
    assert len(at.get("plotly_chart")) == 2  # accuracy, and the first seed's percentiles of BN alone
    assert "no BN recorded no step" in " ".join(c.value for c in at.caption)
    assert "Diverged, and left out of every number: no BN in 1 of 2 seeds." in text(at)
