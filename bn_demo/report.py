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
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from bn_demo.core.config import IOFFE_2015, NOTE_NET, TrainConfig
from bn_demo.core.seeds import SeededRun, Spread, paired_gap
from bn_demo.core.train import PairedTraining, compare_configs
from bn_demo.experiments import research
from bn_demo.views.research_text import (
    EARLY_TARGET,
    ONE_SEED_NOISE,
    TARGETS,
    ics_sentences,
    ics_verdict,
    join_and,
    landscape_verdict,
    noise_conclusion,
)

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
    return (
        SeededRun(
            lambda seed: research.ProbedTraining(research.seeded_configs(configs, seed), probe, every, data), seeds
        )
        .run()
        .per_seed
    )


def accuracy_numbers(per_seed: Sequence[Runs], names: Sequence[str]) -> dict[str, Any]:
    acc = _per_net(per_seed, names, research.final_accuracy)
    return {name: spread(v) for name, v in acc.items()}


def note_numbers(per_seed: Sequence[Runs]) -> dict[str, Any]:
    acc = _per_net(per_seed, ("bn", "plain"), research.final_accuracy)
    return {"accuracy": {n: spread(v) for n, v in acc.items()}, "gap": gap(acc["bn"], acc["plain"], 0.0)}


def ioffe_numbers(per_seed: Sequence[Runs]) -> dict[str, Any]:
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
    layers = sorted({int(x) for p in per_seed for x in p.probes["layer"].unique() if x > 1})
    out: dict[str, Any] = {"layers": {}}
    for layer in layers:
        values = {
            (run, m): [research.probe_medians(p.probes, run, m).get(layer, math.nan) for p in per_seed]
            for run in research.PROBE_NORMS
            for m in ("l2", "relative", "cosine", "grad_norm")
        }
        entry = {
            m: {run: spread(values[(run, m)]) for run in research.PROBE_NORMS}
            for m in ("l2", "relative", "cosine", "grad_norm")
        }
        entry["relative_gap"] = gap(
            values[("bn", "relative")], values[("plain", "relative")], ONE_SEED_NOISE["relative"]
        )
        entry["cosine_gap"] = gap(values[("bn", "cosine")], values[("plain", "cosine")], ONE_SEED_NOISE["cosine"])
        entry["l2_gap"] = gap(values[("bn", "l2")], values[("plain", "l2")], 0.0)
        out["layers"][str(layer)] = entry
    return out


def landscape_numbers(per_seed: Sequence[research.ProbedRuns]) -> dict[str, Any]:
    keys = ("loss_range", "grad_change", "smoothness")
    values = {
        (run, k): [research.landscape_summary(p.probes, run)[k] for p in per_seed]
        for run in research.PROBE_NORMS
        for k in keys
    }
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
    from bn_demo.core.data import load_mnist

    data = data or load_mnist()
    chosen = tuple(range(seeds))
    steps = {"note": NOTE_CONFIG, "ioffe": IOFFE_CONFIG, "research": RESEARCH_CONFIG}
    if quick:
        steps = {k: c.with_(steps=QUICK_STEPS, eval_size=200) for k, c in steps.items()}
    t0 = time.perf_counter()
    results: dict[str, Any] = {"command": "python -m bn_demo report", "seeds": list(chosen), "quick": quick}
    results["note"] = {
        "config": steps["note"].to_dict(),
        **note_numbers(trained(compare_configs(steps["note"]), chosen, data)),
    }
    results["ioffe"] = {
        "config": steps["ioffe"].to_dict(),
        **ioffe_numbers(trained(compare_configs(steps["ioffe"]), chosen, data)),
    }
    noise = trained(research.noise_configs(steps["research"]), chosen, data)
    results["noise"] = {"config": steps["research"].to_dict(), **noise_numbers(noise)}
    results["ics"] = {
        "probes_every": research.probe_every(steps["research"]),
        **ics_numbers(probed(research.ICS, steps["research"], chosen, data)),
    }
    results["landscape"] = landscape_numbers(probed(research.LANDSCAPE, steps["research"], chosen, data))
    results["spread"] = measured_spread(results)
    results["seconds"] = round(time.perf_counter() - t0)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1) + "\n")
    return results


# ---- the README block (a pure function of the results file) ---------------------------------------------------


def _pct(s: dict[str, Any]) -> str:
    if s["mean"] is None:
        return "n/a"
    return f"{s['mean']:.2%}" + (f" ± {s['sd']:.2%}" if s["n"] > 1 else "")


def _num(s: dict[str, Any], fmt: str = "{:.3f}") -> str:
    if s["mean"] is None:
        return "n/a"
    return fmt.format(s["mean"]) + (f" ± {fmt.format(s['sd'])}" if s["n"] > 1 else "")


def _gap_words(g: dict[str, Any], *, a: str, b: str, higher: str, lower: str, points: bool = True) -> str:
    """'BN higher by 0.60 points in 5 of 5 seeds' or 'within seed-to-seed noise (BN ahead in 3 of 5 seeds)'."""
    size = f"{abs(g['mean']) * 100:.2f} points" if points else f"{abs(g['mean']):.3f}"
    if g["outcome"] == "higher":
        return f"{a} {higher} by {size} in {g['ahead']} of {g['n']} seeds"
    if g["outcome"] == "lower":
        return f"{a} {lower} by {size} in {g['n'] - g['ahead']} of {g['n']} seeds"
    if g["outcome"] == "noise":
        return f"{a} and {b} within seed-to-seed noise ({a} ahead in {g['ahead']} of {g['n']} seeds)"
    return f"no {a}–{b} comparison (diverged)"


def _config_words(c: dict[str, Any]) -> str:
    widths = "-".join(str(w) for w in (784, *c["hidden"], 10))
    activation = {"relu": "ReLU"}.get(c["activation"], c["activation"])
    return f"{widths} {activation}, batches of {c['batch_size']}, lr {c['lr']:g}, {c['steps']:,} steps"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def readme_block(r: dict[str, Any]) -> str:
    """The markdown between the README's report markers, every number taken from the results `r`."""
    n = len(r["seeds"])
    note, io, nz, ics, ls = r["note"], r["ioffe"], r["noise"], r["ics"], r["landscape"]
    lines = [
        BEGIN,
        f"*Written by `python -m bn_demo report` from `docs/results.json`: {n} seeds (0–{n - 1}), each net paired "
        f"with its partner within a seed, mean ± sd over seeds, test accuracy on all 10,000 test images; "
        f"{r['seconds']:,} s on one core of these machines. Do not edit by hand: rerun the command.*",
        "",
    ]
    acc = note["accuracy"]
    lines.append(
        f"- **The note's network** ({_config_words(note['config'])}, BN before the ReLU): BN {_pct(acc['bn'])}, no "
        f"BN {_pct(acc['plain'])}; " + _gap_words(note["gap"], a="BN", b="no BN", higher="higher", lower="lower") + "."
    )
    acc, early = io["accuracy"], io["early_share"]
    reach = io["first_reached"]["0.95"]
    reached = (
        f"95% held-out accuracy was first reached at step {_num(reach['bn'], '{:,.0f}')} with BN and "
        f"{_num(reach['plain'], '{:,.0f}')} without (means over the {reach['bn']['n']} and {reach['plain']['n']} "
        f"of {n} seeds that reached it)"
    )
    lines.append(
        f"- **Ioffe & Szegedy, Figure 1** (page 6's defaults: {_config_words(io['config'])}, Gaussian weights of std "
        f"{io['config']['init_std']:g}; the paper trains 50,000): BN {_pct(acc['bn'])}, no BN {_pct(acc['plain'])}: "
        + _gap_words(io["accuracy_gap"], a="BN", b="no BN", higher="higher", lower="lower")
        + f". {_capital(reached)}. The tracked last-layer sigmoid input's slow drift "
        f"(summed over its 15/50/85th percentiles): {_num(io['drift']['bn'], '{:.2f}')} with BN, "
        f"{_num(io['drift']['plain'], '{:.2f}')} without, "
        + _gap_words(io["drift_gap"], a="BN", b="no BN", higher="larger", lower="smaller", points=False)
        + f". Share of the median's movement made in the first fifth of training (an even pace gives 20%): "
        f"{_num(early['plain'], '{:.0%}')} without BN, {_num(early['bn'], '{:.0%}')} with BN. A BN step took "
        f"{_num(io['time_ratio'], '{:.2f}')}× the time of a no-BN step (the note's “extra computation”)."
    )
    acc, jit = nz["accuracy"], nz["jitter"]
    ratio = (jit["noisy_bn"]["mean"] or math.nan) / (jit["plain"]["mean"] or math.nan)
    conclusion = noise_conclusion(nz["noisy_vs_bn"]["outcome"], nz["noisy_vs_plain"]["outcome"], n)
    lines.append(
        f"- **Noisy BN** (page 7's defaults: {nz['config']['steps']:,} steps, noise strength a = "
        f"{nz['config']['noise_scale']:g}, evaluated with the noise's expectation): the tracked unit's inputs moved "
        f"{ratio:.1f}× as much per step as without BN (summed step-to-step change {_num(jit['noisy_bn'])} against "
        f"{_num(jit['plain'])} for no BN and {_num(jit['bn'])} for BN). Test accuracy: noisy BN "
        f"{_pct(acc['noisy_bn'])}, BN {_pct(acc['bn'])}, no BN {_pct(acc['plain'])}; "
        + _gap_words(nz["noisy_vs_bn"], a="noisy BN", b="BN", higher="above BN", lower="below BN")
        + "; "
        + _gap_words(nz["noisy_vs_plain"], a="noisy BN", b="no BN", higher="above no BN", lower="below no BN")
        + f". {conclusion}"
    )
    per_layer, verdicts = [], {}
    for layer, e in ics["layers"].items():
        per_layer.append(
            f"layer {layer}: relative change {_num(e['relative']['bn'])} with BN vs {_num(e['relative']['plain'])} "
            f"without, cosine {_num(e['cosine']['bn'])} vs {_num(e['cosine']['plain'])}, absolute "
            f"{_num(e['l2']['bn'], '{:.4f}')} vs {_num(e['l2']['plain'], '{:.4f}')} with ‖G‖ "
            f"{_num(e['grad_norm']['bn'], '{:.4f}')} vs {_num(e['grad_norm']['plain'], '{:.4f}')}"
        )
        if (v := ics_verdict(e["relative_gap"]["outcome"], e["cosine_gap"]["outcome"])) is not None:
            verdicts[int(layer)] = v
    larger = [layer for layer, e in ics["layers"].items() if e["l2_gap"]["outcome"] == "higher"]
    absolute = (
        f" The absolute ‖G − G′‖ alone was larger with BN at layer{'s' * (len(larger) > 1)} {join_and(larger)}, "
        "where BN's gradients are larger too: the measure Santurkar et al. plot grows with the gradient's size."
        if larger
        else ""
    )
    lines.append(
        f"- **ICS three ways** (same settings, probed every {ics['probes_every']:,} steps, medians over probes): "
        + "; ".join(per_layer)
        + ". "
        + " ".join(ics_sentences(verdicts, n))
        + absolute
        + (
            " Santurkar et al. saw the opposite on VGG and a deep linear network (“networks with BatchNorm often "
            "exhibit an increase in ICS”); on this sigmoid network it was not so."
            if "reduced" in verdicts.values() and "increased" not in verdicts.values()
            else ""
        )
    )
    lines.append(
        f"- **Loss landscape** (same settings): the loss's range along the gradient {_num(ls['loss_range']['bn'])} "
        f"with BN vs {_num(ls['loss_range']['plain'])} without; L (smoothness, the paper's effective β-smoothness) "
        f"{_num(ls['smoothness']['bn'])} vs {_num(ls['smoothness']['plain'])}: "
        + landscape_verdict(ls["loss_range_gap"]["outcome"], ls["smoothness_gap"]["outcome"])
    )
    lines.append(END)
    return "\n".join(lines)


def replace_block(readme: str, block: str) -> str:
    """`readme` with its text from BEGIN to END (inclusive) replaced by `block`; ValueError without markers."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {BEGIN} … {END} block to write the numbers into")
    return readme[:start] + block + readme[end + len(END) :]


def readme_section(readme: str) -> str:
    """The README's current block, from BEGIN to END inclusive."""
    start, end = readme.find(BEGIN), readme.find(END)
    return readme[start : end + len(END)] if 0 <= start < end else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bn_demo report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--readme", type=Path, default=README, help="README whose report block is rewritten")
    parser.add_argument("--seeds", type=int, default=SEEDS, choices=range(1, 6), metavar="1-5")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps per run, README left alone")
    parser.add_argument("--block-only", action="store_true", help="rewrite the README block from --out, no training")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # on a shared 2-core machine, two threads per run made every step ~10x slower
    readme = None if args.quick else args.readme
    if args.quick and args.out == RESULTS:  # a smoke test never overwrites the committed numbers
        args.out = Path(tempfile.gettempdir()) / "bn_demo_report_quick.json"
    if readme is not None and BEGIN not in readme.read_text():
        print(f"error: {readme} has no {BEGIN} … {END} block", file=sys.stderr)
        return 2
    if args.block_only:
        results = json.loads(args.out.read_text())
    else:
        results = run_report(args.out, seeds=args.seeds, quick=args.quick)
    if readme is not None:
        readme.write_text(replace_block(readme.read_text(), readme_block(results)))
    wrote = "" if args.block_only else f"wrote {args.out} ({results['seconds']} s); "
    print(wrote + (f"rewrote the report block of {readme}" if readme else "README left alone"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
