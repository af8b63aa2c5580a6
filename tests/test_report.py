"""The README's "What our runs show" numbers cannot go stale: the block between the report markers is exactly
what `python -m bn_demo report` writes from docs/results.json, the report trains the pages' defaults, and the
one-seed noise the verdicts assume is no smaller than the spread the report measured."""

import json
import math

import pytest
import torch

from bn_demo import cli, report
from bn_demo.views.research_text import ONE_SEED_NOISE
from lab_ui import papers
from lab_ui.params import defaults


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(report.RESULTS.read_text())


def test_the_readme_block_is_the_one_the_results_file_gives(results):
    readme = report.README.read_text()
    assert report.readme_section(readme) == report.readme_block(results)
    assert not results["quick"] and len(results["seeds"]) == report.SEEDS


def test_every_number_in_the_block_is_in_the_results_file(results):
    """A spot check that the block quotes the file (not a constant): two numbers located by hand."""
    block = report.readme_block(results)
    bn = results["ioffe"]["accuracy"]["bn"]
    assert f"BN {bn['mean']:.2%} ± {bn['sd']:.2%}" in block
    relative = results["ics"]["layers"]["4"]["relative"]["plain"]
    assert f"{relative['mean']:.3f} ± {relative['sd']:.3f}" in block
    assert "nan" not in block.lower()


def test_the_report_trains_the_pages_defaults():
    assert papers.ioffe_config(defaults(papers.IOFFE_PARAMS)) == report.IOFFE_CONFIG
    for experiment in ("noise", "ics", "landscape"):
        settings = {**defaults(papers.RESEARCH_PARAMS), "experiment": experiment}
        assert papers.research_config(settings) == report.RESEARCH_CONFIG


def test_one_seed_noise_is_no_smaller_than_the_measured_spread(results):
    for quantity, measured in results["spread"].items():
        assert ONE_SEED_NOISE[quantity] >= measured, f"raise ONE_SEED_NOISE[{quantity!r}] to at least {measured:.4f}"


def test_replace_block_rewrites_only_the_block():
    readme = f"intro\n{report.BEGIN}\nold\n{report.END}\nafter\n"
    assert report.replace_block(readme, f"{report.BEGIN}\nnew\n{report.END}") == (
        f"intro\n{report.BEGIN}\nnew\n{report.END}\nafter\n"
    )
    with pytest.raises(ValueError, match="report:begin"):
        report.replace_block("no markers", "x")


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_quick_report_through_the_cli_writes_a_file_the_block_can_read(tmp_path, mnist, one_thread):
    out, readme = tmp_path / "results.json", tmp_path / "README.md"
    readme.write_text("no markers here\n")
    assert cli.run(["report", "--readme", str(readme), "--out", str(out)]) == 2  # nothing trained, one line
    assert not out.exists()
    results = report.run_report(out, seeds=1, quick=True, data=mnist)
    assert json.loads(out.read_text()) == results and results["quick"]
    assert results["ioffe"]["config"]["steps"] == report.QUICK_STEPS and results["seeds"] == [0]
    assert set(results["noise"]["accuracy"]) == {"bn", "plain", "noisy_bn"}
    assert {"2", "3", "4"} <= set(results["ics"]["layers"])
    block = report.readme_block(results)
    assert block.startswith(report.BEGIN) and block.endswith(report.END)
    assert all(math.isfinite(v) for v in results["spread"].values())
