"""Train & compare under AppTest: settings from the URL and widgets, Train over seeds, the job's result on
the charts (mean over seeds) and in the table, pairing checked against a hand-written SGD loop, and every
bad setting ending in a message."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from bn_demo.core.data import load_mnist
from bn_demo.core.models import build_model
from bn_demo.core.seeds import SeedResults
from bn_demo.views import comparison_text, figures
from lab_ui import experiments
from lab_ui.params import defaults

ROOT = Path(__file__).resolve().parent.parent
PAGE_FILE = ROOT / "pages" / "1_Train_and_compare.py"
TINY = {"steps": 60}  # just above comparison_text.MIN_STEPS, so verdicts are written


def arr(v) -> np.ndarray:
    """A Plotly spec's array: plain list, or plotly 7's base64 typed array."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def trace(fig: dict, name: str) -> dict:
    return next(t for t in fig["data"] if t.get("name") == name)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def chart(at: AppTest, title: str) -> dict:
    """The chart whose title starts with `title`."""
    return next(c for c in charts(at) if c["layout"]["title"]["text"].startswith(title))


def open_page(path: Path, **query) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = str(value)
    return at.run()


def job_of(at: AppTest, page: str):
    return at.session_state[f"{page}:job"][1]  # (key, job), as lab_ui.live stores it


def train(at: AppTest, page: str):
    """Press Train, wait for the background job, rerun so the finished view is drawn."""
    at.button(key="run").click().run()
    assert not at.exception
    job = job_of(at, page)
    assert job.wait(300).state in ("done", "stopped")
    at.run()
    assert not at.exception
    assert at.get("plotly_chart"), "the finished view draws charts"
    return job


def text_of(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def hand_sgd_losses(config, steps: int) -> list[float]:
    """The first training losses of `config`, by a loop written here: its own model, the seed's shuffle
    (torch.randperm, as every epoch starts) and plain SGD. Pairing means both nets match this loop."""
    data = load_mnist()
    model = build_model(config)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    order = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(config.seed))
    losses = []
    for step in range(steps):
        x, y = data.batch("train", order[step * config.batch_size : (step + 1) * config.batch_size])
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_train_over_seeds_draws_the_means_and_the_runs_are_paired():
    at = open_page(PAGE_FILE, **TINY, lr=0.3, batch_size=64, seeds=2)
    assert at.select_slider(key="train:lr").value == 0.3
    job = train(at, "train")
    results = job.result
    assert isinstance(results, SeedResults) and results.seeds == (0, 1)
    per_seed = results.per_seed
    for seed, runs in enumerate(per_seed):
        assert set(runs) == {"bn", "plain"} and runs["bn"].config.seed == seed and runs["bn"].config.lr == 0.3
        for name in ("bn", "plain"):
            recorded = runs[name].history["train_loss"].to_numpy()[:3]
            np.testing.assert_allclose(recorded, hand_sgd_losses(runs[name].config, 3), rtol=1e-4)
    loss = chart(at, "Loss")
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        tests = np.mean([figures.test_evals(runs[name])["loss"].to_numpy() for runs in per_seed], axis=0)
        np.testing.assert_allclose(arr(trace(loss, f"{lab} · test")["y"]), tests, rtol=1e-6)
    assert "min–max over seeds" in loss["layout"]["title"]["text"]
    table = at.dataframe[0].value.set_index("run")
    accuracies = [runs["bn"].test_accuracy for runs in per_seed]
    assert table.loc["BN", "test accuracy"] == f"{np.mean(accuracies):.2%} ± {np.std(accuracies, ddof=1):.2%}"
    text = text_of(at)
    assert comparison_text.accuracy_verdict(per_seed).text in text
    assert comparison_text.net_finding(per_seed, "plain").text in text
    assert "Try next:" in text and "raise the learning rate to 1 " in text
    caption = " ".join(c.value for c in at.caption)
    assert "2 seeds (0–1)" in caption and "468 full batches" not in caption  # batches of 64: 937 per epoch
    assert "937 full batches per epoch" in caption and "budget per request" in caption
    assert len(at.get("download_button")) == 3

    at.slider(key="train:smoothing").set_value(0.0).run()  # raw: the batch curve is the plain mean
    raw = np.mean([runs["plain"].history["train_loss"].to_numpy() for runs in per_seed], axis=0)
    np.testing.assert_allclose(arr(trace(chart(at, "Loss"), "no BN · training batch")["y"]), raw, rtol=1e-6)

    at.button(key="run").click().run()  # same settings again: the finished job is shown, not retrained
    assert job_of(at, "train") is job and not at.exception


def test_only_bn_trains_one_net_and_says_nothing_of_pairing():
    at = open_page(PAGE_FILE, **TINY, bn="on", layers=2, seeds=1)
    results = train(at, "train").result
    assert list(results.per_seed[0]) == ["bn"] and results.per_seed[0]["bn"].config.hidden == (256, 256)
    assert "BN · layer 2" in [t.get("name") for t in chart(at, "Batch variance")["data"]]
    assert "paired" not in " ".join(c.value for c in at.caption).lower()
    assert "train both nets" in text_of(at) and "run 3 seeds" in text_of(at)
    assert chart(at, "Variance: |batch − running|")  # BN's input statistics and their gap to the running ones


@pytest.mark.parametrize(("lr", "batch_size"), [(30.0, 128), (30.0, 2)])
def test_extreme_settings_end_in_a_diverged_message(lr, batch_size):
    at = open_page(PAGE_FILE, **TINY, lr=lr, batch_size=batch_size, seeds=1)
    runs = train(at, "train").result.per_seed[0]
    diverged = [name for name, run in runs.items() if run.diverged]
    assert diverged
    text = " ".join(w.value for w in at.warning)
    for name in diverged:
        assert f"diverged at step {runs[name].diverged_at}" in text
    loss = chart(at, "Loss")
    assert any(t.get("name", "").endswith("diverged") for t in loss["data"])
    assert list(loss["layout"]["xaxis"]["range"]) == [0, 60]
    assert "Cost of BN" not in text_of(at)  # no ratio from a diverged run's few steps


def test_over_budget_and_bad_links_end_in_messages():
    at = open_page(PAGE_FILE, steps=40_000, lr="banana", seed=-3, seeds=9)
    warnings = " ".join(w.value for w in at.warning)
    assert "lr=banana" in warnings and "seed=-3" in warnings and "seeds=9" in warnings
    assert at.select_slider(key="train:lr").value == 0.1
    at.button(key="run").click().run()
    assert not at.exception
    assert "budget" in " ".join(e.value for e in at.error)
    assert not at.get("plotly_chart")


def test_the_live_view_draws_finished_seeds_and_the_current_one_and_stopping_keeps_them():
    at = open_page(PAGE_FILE, steps=3000, seeds=2)
    at.button(key="run").click().run()
    job = job_of(at, "train")
    while job.status().done < 3000 + 20 and not job.finished:  # into the second seed
        job.wait(0.05)
    at.run()  # drawn while it trains
    assert not at.exception
    live = job.peek()
    assert len(live.per_seed) == 2 and live.per_seed[0]["bn"].steps == 3000
    assert any("Training" in p.proto.text or "Running" in p.proto.text for p in at.get("progress"))
    assert chart(at, "Loss")
    job.stop()
    assert job.wait(300).state == "stopped"
    at.run()
    assert not at.exception
    assert any("Stopped" in i.value for i in at.info)
    results = job.result
    assert len(results.per_seed) == 2 and 20 <= results.per_seed[1]["bn"].steps < 3000
    drawn = arr(trace(chart(at, "Loss"), "BN · training batch")["x"])
    np.testing.assert_array_equal(drawn, results.per_seed[0]["bn"].history["step"])  # every step of seed 0
    assert len(at.get("download_button")) == 3


def test_the_default_job_is_importable_and_its_key_holds_the_seeds():
    spec = experiments.default_job("train")
    assert spec.seeds == (0, 1, 2) and spec.runs == 6 and spec.total == 3 * 500
    assert hash(spec.key) == hash(experiments.default_job("train").key)
    one = experiments.train_job({**defaults(experiments.train_params()), "seeds": 1})
    assert one.key != spec.key and one.seeds == (0,)
