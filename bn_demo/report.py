"""`python -m bn_demo report`: the numbers of the README's "What our runs show", produced by one command so
they cannot go stale. It trains, over seeds and paired within each seed, the experiments the section quotes
(the note's network, Ioffe & Szegedy's Figure 1 at page 6's defaults, and page 7's noisy BN, ICS three ways
and loss landscape at its defaults), writes every number to docs/results.json, and rewrites the README's
block between the report markers from that file (readme_block is a pure function of the file: a test
regenerates the block and compares it with the README).

At 5 seeds on one core of these machines it takes about 5–10 minutes; `--quick` runs tiny versions (a smoke
test, never written over the committed file unless --out says so).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bn_demo import research
from bn_demo.config import TrainConfig
from bn_demo.presets import IOFFE_2015, NOTE_NET
from bn_demo.seeds import SeededRun, Spread, paired_gap
from bn_demo.train import PairedTraining, compare_configs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- report:begin -->", "<!-- report:end -->"
SEEDS = 5
LAYER = len(IOFFE_2015.hidden)
# The experiments, at the pages' defaults (a test checks them against lab_ui.papers and the presets).
NOTE_CONFIG = NOTE_NET
IOFFE_CONFIG = IOFFE_2015.with_(steps=10_000)
RESEARCH_CONFIG = IOFFE_2015.with_(steps=3_000)
QUICK_STEPS = 30
Runs = dict[str, Any]


# ---- numbers ------------------------------------------------------------------------------------------------


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sd, min, max over seeds and the per-seed values (JSON has no NaN: a diverged seed is null)."""
    s = Spread.of(values)
    return {
        "mean": _clean(s.mean),
        "sd": _clean(s.sd),
        "lo": _clean(s.lo),
        "hi": _clean(s.hi),
        "n": s.n,
        "per_seed": [_clean(v) for v in values],
    }


def gap(a: Sequence[float], b: Sequence[float], noise: float) -> dict[str, Any]:
    """A paired gap a - b over seeds, its outcome ('higher', 'lower', 'noise', 'none') and seeds where a > b."""
    g = paired_gap(a, b, one_seed_noise=noise)
    return {"mean": _clean(g.gap.mean), "sd": _clean(g.gap.sd), "ahead": g.ahead, "n": g.n, "outcome": g.outcome}


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _per_net(per_seed: Sequence[Runs], names: Sequence[str], of: Callable) -> dict[str, list[float]]:
    return {name: [of(runs[name]) for runs in per_seed] for name in names}


def trained(configs: dict[str, TrainConfig], seeds: Sequence[int], data=None) -> list[Runs]:
    def make(seed: int) -> PairedTraining:
        return PairedTraining(research.seeded_configs(configs, seed), data)

    return SeededRun(make, seeds).run().per_seed


def probed(probe: str, config: TrainConfig, seeds: Sequence[int], data=None) -> list[research.ProbedRuns]:
    configs, every = compare_configs(config, research.PROBE_NORMS), research.probe_every(config)
    return SeededRun(lambda seed: research.ProbedTraining(research.seeded_configs(configs, seed), probe, every, data), seeds).run().per_seed


def accuracy_numbers(per_seed: Sequence[Runs], names: Sequence[str]) -> dict[str, Any]:
    acc = _per_net(per_seed, names, research.final_accuracy)
    return {name: spread(v) for name, v in acc.items()}


def note_numbers(per_seed: Sequence[Runs]) -> dict[str, Any]:
    acc = _per_net(per_seed, ("bn", "plain"), research.final_accuracy)
    return {"accuracy": {n: spread(v) for n, v in acc.items()}, "gap": gap(acc["bn"], acc["plain"], 0.0)}


def ioffe_numbers(per_seed: Sequence[Runs]) -> dict[str, Any]:
    from bn_demo.research_text import ONE_SEED_NOISE, TARGETS

    nets = ("bn", "plain")
    acc = _per_net(per_seed, nets, research.final_accuracy)
    drift = _per_net(per_seed, nets, lambda r: research.summed_movement(r, LAYER, "drift"))
    early = _per_net(per_seed, nets, lambda r: _share(research.early_share(r, LAYER).share))
    seconds = _per_net(per_seed, nets, lambda r: r.seconds_per_step)
    first = {
        f"{t:g}": _per_net(per_seed, nets, lambda r, t=t: _step(research.first_step_reaching(r, t))) for t in TARGETS
    }
    return {
        "accuracy": {n: spread(v) for n, v in acc.items()},
        "accuracy_gap": gap(acc["bn"], acc["plain"], ONE_SEED_NOISE["ioffe_accuracy"]),
        "first_reached": {t: {n: spread(v) for n, v in by.items()} for t, by in first.items()},
        "drift": {n: spread(v) for n, v in drift.items()},
        "drift_gap": gap(drift["bn"], drift["plain"], ONE_SEED_NOISE["drift"]),
        "early_share": {n: spread(v) for n, v in early.items()},
        "time_ratio": spread([b / p for b, p in zip(seconds["bn"], seconds["plain"], strict=True)]),
    }


def _share(share: float | None) -> float:
    return math.nan if share is None else share


def _step(step: int | None) -> float:
    return math.nan if step is None else float(step)


def noise_numbers(per_seed: Sequence[Runs]) -> dict[str, Any]:
    from bn_demo.research_text import EARLY_TARGET, ONE_SEED_NOISE

    nets = research.NOISE_NORMS
    acc = _per_net(per_seed, nets, research.final_accuracy)
    jitter = _per_net(per_seed, nets, lambda r: research.summed_movement(r, LAYER, "jitter"))
    reached = _per_net(per_seed, nets, lambda r: _step(research.first_step_reaching(r, EARLY_TARGET)))
    noise = ONE_SEED_NOISE["noise_accuracy"]
    return {
        "accuracy": {n: spread(v) for n, v in acc.items()},
        "jitter": {n: spread(v) for n, v in jitter.items()},
        "first_reached_80": {n: spread(v) for n, v in reached.items()},
        "noisy_vs_bn": gap(acc["noisy_bn"], acc["bn"], noise),
        "noisy_vs_plain": gap(acc["noisy_bn"], acc["plain"], noise),
    }


def ics_numbers(per_seed: Sequence[research.ProbedRuns]) -> dict[str, Any]:
    from bn_demo.research_text import ONE_SEED_NOISE

    layers = sorted({int(x) for p in per_seed for x in p.probes["layer"].unique() if x > 1})
    out: dict[str, Any] = {"layers": {}}
    for layer in layers:
        values = {
            (run, m): [research.probe_medians(p.probes, run, m).get(layer, math.nan) for p in per_seed]
            for run in research.PROBE_NORMS
            for m in ("l2", "relative", "cosine", "grad_norm")
        }
        entry = {m: {run: spread(values[(run, m)]) for run in research.PROBE_NORMS} for m in ("l2", "relative", "cosine", "grad_norm")}
        entry["relative_gap"] = gap(values[("bn", "relative")], values[("plain", "relative")], ONE_SEED_NOISE["relative"])
        entry["cosine_gap"] = gap(values[("bn", "cosine")], values[("plain", "cosine")], ONE_SEED_NOISE["cosine"])
        entry["l2_gap"] = gap(values[("bn", "l2")], values[("plain", "l2")], 0.0)
        out["layers"][str(layer)] = entry
    return out


def landscape_numbers(per_seed: Sequence[research.ProbedRuns]) -> dict[str, Any]:
    from bn_demo.research_text import ONE_SEED_NOISE

    keys = ("loss_range", "grad_change", "smoothness")
    values = {(run, k): [research.landscape_summary(p.probes, run)[k] for p in per_seed] for run in research.PROBE_NORMS for k in keys}
    out = {k: {run: spread(values[(run, k)]) for run in research.PROBE_NORMS} for k in keys}
    for k in ("loss_range", "smoothness"):
        out[f"{k}_gap"] = gap(values[("bn", k)], values[("plain", k)], ONE_SEED_NOISE[k])
    return out


def measured_spread(results: dict[str, Any]) -> dict[str, float]:
    """The largest sd across seeds of each quantity a one-seed verdict compares (research_text.ONE_SEED_NOISE)."""

    def largest(entries) -> float:
        return max((e["sd"] or 0.0) for e in entries)

    ics = results["ics"]["layers"].values()
    return {
        "ioffe_accuracy": largest(results["ioffe"]["accuracy"].values()),
        "drift": largest(results["ioffe"]["drift"].values()),
        "noise_accuracy": largest(results["noise"]["accuracy"].values()),
        "relative": largest(e["relative"][r] for e in ics for r in research.PROBE_NORMS),
        "cosine": largest(e["cosine"][r] for e in ics for r in research.PROBE_NORMS),
        "loss_range": largest(results["landscape"]["loss_range"].values()),
        "smoothness": largest(results["landscape"]["smoothness"].values()),
    }


def run_report(out_path: Path = RESULTS, *, seeds: int = SEEDS, quick: bool = False, data=None) -> dict[str, Any]:
    """Train every experiment the README quotes over `seeds` seeds (0, 1, …), write the numbers to `out_path`
    (JSON) and return them. `quick` shortens every run to QUICK_STEPS steps (a smoke test)."""
    from bn_demo.data import load_mnist

    data = data or load_mnist()
    chosen = tuple(range(seeds))
    steps = {"note": NOTE_CONFIG, "ioffe": IOFFE_CONFIG, "research": RESEARCH_CONFIG}
    if quick:
        steps = {k: c.with_(steps=QUICK_STEPS, eval_size=200) for k, c in steps.items()}
    t0 = time.perf_counter()
    results: dict[str, Any] = {"command": "python -m bn_demo report", "seeds": list(chosen), "quick": quick}
    results["note"] = {"config": steps["note"].to_dict(), **note_numbers(trained(compare_configs(steps["note"]), chosen, data))}
    results["ioffe"] = {"config": steps["ioffe"].to_dict(), **ioffe_numbers(trained(compare_configs(steps["ioffe"]), chosen, data))}
    noise = trained(research.noise_configs(steps["research"]), chosen, data)
    results["noise"] = {"config": steps["research"].to_dict(), **noise_numbers(noise)}
    results["ics"] = {"probes_every": research.probe_every(steps["research"]), **ics_numbers(probed(research.ICS, steps["research"], chosen, data))}
    results["landscape"] = landscape_numbers(probed(research.LANDSCAPE, steps["research"], chosen, data))
    results["spread"] = measured_spread(results)
    results["seconds"] = round(time.perf_counter() - t0)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1) + "\n")
    return results
