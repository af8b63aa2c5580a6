"""`python -m bn_demo`: train one configuration, compare BN with plain (paired), or reproduce
Ioffe & Szegedy's MNIST experiment, from a terminal, over one or several seeds; tables to a folder,
one line of JSON to stdout. Every mistake ends with exit status 2 and one line on stderr."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import reprlib
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bn_demo.core.config import ACTIVATIONS, BN_PLACEMENTS, INITS, IOFFE_2015, NORMS, NOTE_NET, ConfigError, TrainConfig
from bn_demo.core.data import MNIST, DataError, load_mnist
from bn_demo.core.results import TABLES, RunResult
from bn_demo.core.seeds import SeededRun, Spread, seed_list
from bn_demo.core.train import PairedTraining, compare_configs

TRAIN_EXAMPLES = 60000
PERCENTILE_QUANTITIES = ("p15", "p50", "p85")
SeedConfigs = dict[int, dict[str, TrainConfig]]  # seed -> run name -> its config


class OneLineParser(argparse.ArgumentParser):
    """A bad option is reported in one line naming it, not with the whole usage text."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters written as escapes: a message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated widths like 100,100,100, got {reprlib.repr(text)}"
        ) from None


def _norms(text: str) -> tuple[str, ...]:
    names = tuple(text.split(","))
    if not set(names) <= set(NORMS) or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(
            f"expected distinct names from {','.join(NORMS)} separated by commas, got {reprlib.repr(text)}"
        )
    return names


def _add_training_options(p: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    d = defaults
    p.add_argument("--lr", type=float, default=d.lr, help=f"SGD learning rate (default {d.lr})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"minibatch size (default {d.batch_size})")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help=f"training steps (default {d.steps})")
    length.add_argument("--epochs", type=float, help="training length in passes over the 60,000 images")
    p.add_argument("--hidden", type=_hidden, default=d.hidden, help="hidden widths, e.g. 100,100,100")
    p.add_argument("--activation", choices=ACTIVATIONS, default=d.activation)
    p.add_argument("--bn-placement", choices=BN_PLACEMENTS, default=d.bn_placement)
    p.add_argument("--init", choices=INITS, default=d.init)
    p.add_argument("--init-std", type=float, default=d.init_std, help="std of the gaussian init")
    p.add_argument("--seed", type=int, default=d.seed, help="the first seed (default %(default)s)")
    p.add_argument("--seeds", type=int, default=1, help="train seeds --seed … --seed+N-1 (1 to 5; default 1)")
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between evaluations (0: auto)")
    p.add_argument("--eval-size", type=int, default=d.eval_size, help="held-out test images used while training")
    p.add_argument("--record-every", type=int, default=d.record_every, help="steps between records (0: auto)")
    p.add_argument("--max-records", type=int, default=d.max_records, help="bound on recorded steps (auto thinning)")
    p.add_argument("--tracked-unit", type=int, default=d.tracked_unit)
    p.add_argument("--noise-scale", type=float, default=d.noise_scale, help="noisy BN's noise strength a")
    p.add_argument("--train-size", type=int, default=d.train_size, help="training images (0: all 60,000)")
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout probability of hidden units")
    p.add_argument("--data", help="MNIST .npz to use instead of the repository's data/mnist.npz")
    p.add_argument("--out", help="folder to write each seed's and run's tables (CSV) and summary.json into")
    p.add_argument("--json", action="store_true", help="print one line of JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m bn_demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    train = sub.add_parser("train", help="train one configuration")
    _add_training_options(train, NOTE_NET)
    train.add_argument("--norm", choices=NORMS, default=NOTE_NET.norm, help="bn, plain or noisy_bn")
    compare = sub.add_parser("compare", help="BN vs plain (or --norms), paired: same init, same minibatches")
    ioffe = sub.add_parser("ioffe2015", help="Ioffe & Szegedy 2015, Figure 1: 3x100 sigmoid net, BN vs plain")
    for command, defaults in ((compare, NOTE_NET), (ioffe, IOFFE_2015)):
        _add_training_options(command, defaults)
        command.add_argument("--norms", type=_norms, default=("bn", "plain"), help="runs to pair (default bn,plain)")
    return parser


def config_from_args(args: argparse.Namespace, defaults: TrainConfig) -> TrainConfig:
    if args.epochs is not None:
        steps = args.epochs * (TRAIN_EXAMPLES // max(args.batch_size, 1))
        if not (math.isfinite(steps) and args.epochs > 0):
            raise ConfigError(f"epochs: {args.epochs} is out of range; give a positive number")
        steps = max(1, round(steps))
    else:
        steps = args.steps if args.steps is not None else defaults.steps
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    return defaults.with_(**{**values, "steps": steps})


def seed_configs(args: argparse.Namespace) -> tuple[TrainConfig, SeedConfigs]:
    """The first seed's config, and every run of every seed (all validated before anything trains)."""
    if args.command == "train":
        config = config_from_args(args, NOTE_NET)
        runs = {config.norm: config}
    else:
        config = config_from_args(args, IOFFE_2015 if args.command == "ioffe2015" else NOTE_NET)
        runs = compare_configs(config, args.norms)
    seeds = seed_list(config.seed, args.seeds)
    return config, {s: {name: c.with_(seed=s) for name, c in runs.items()} for s in seeds}


def percentile_summary(run: RunResult) -> dict:
    """The tracked unit's 15/50/85th percentiles in the last hidden layer, first and last record."""
    layers = run.layers
    last = layers[(layers.layer == layers.layer.max()) & layers.quantity.isin(PERCENTILE_QUANTITIES)]
    table = last.pivot(index="step", columns="quantity", values="value")
    if table.empty:
        return {"first": None, "last": None}

    def row(step: int) -> dict:
        return {"step": int(step), **{q: float(table.loc[step, q]) for q in PERCENTILE_QUANTITIES}}

    return {"first": row(table.index.min()), "last": row(table.index.max())}


def mean_entry(entries: list[dict]) -> dict:
    """Several seeds' entries as one: each number the mean over the seeds that have one (a diverged seed has
    no test accuracy), `diverged` and `stopped` true if any seed was, `diverged_at` the earliest such step,
    nested entries (percentiles) likewise. Integers that all seeds share stay integers."""
    merged: dict = {}
    for key in entries[0]:
        values = [e[key] for e in entries]
        present = [v for v in values if v is not None]
        if key == "diverged_at":
            merged[key] = min(present, default=None)
        elif present and all(isinstance(v, bool) for v in present):
            merged[key] = any(present)
        elif present and all(isinstance(v, dict) for v in present):
            merged[key] = mean_entry(present)
        elif present and all(isinstance(v, int) for v in present) and len(set(present)) == 1:
            merged[key] = present[0]  # steps, when every seed trained all of them
        elif present:
            merged[key] = statistics.fmean(present)
        else:
            merged[key] = None
    return merged


def report(command: str, config: TrainConfig, per_seed: list[dict[str, RunResult]]) -> dict:
    """The JSON of a command: per run the mean over seeds in the keys of one run, the sd of the test accuracy
    over seeds (null for one seed), and `per_seed`, each seed's own entry."""
    seeds = [next(iter(runs.values())).config.seed for runs in per_seed]
    entries = {}
    for name in per_seed[0]:
        own = []
        for seed, runs in zip(seeds, per_seed, strict=True):
            entry = {"seed": seed, **runs[name].summary()}
            if command == "ioffe2015":
                entry["percentiles"] = percentile_summary(runs[name])
            own.append(entry)
        spread = Spread.of([runs[name].test_accuracy for runs in per_seed])
        mean = {k: v for k, v in mean_entry(own).items() if k != "seed"}
        entries[name] = {**mean, "test_accuracy_sd": spread.sd if spread.n > 1 else None, "per_seed": own}
    return {"command": command, "config": config.to_dict(), "seeds": seeds, "runs": entries}


def _print_table(per_seed: list[dict[str, RunResult]]) -> None:
    header = f"{'run':<10}{'seed':>6}{'steps':>7}{'train loss':>12}{'test loss':>11}{'test acc':>10}{'seconds':>9}"
    print(f"{header}  status")
    for runs in per_seed:
        for name, r in runs.items():
            status = f"diverged at step {r.diverged_at}" if r.diverged else ("stopped" if r.stopped else "ok")
            print(
                f"{name:<10}{r.config.seed:>6}{r.steps:>7}{r.train_loss:>12.4f}{r.test_loss:>11.4f}"
                f"{r.test_accuracy:>10.4f}{r.seconds:>9.2f}  {status}"
            )
    if len(per_seed) > 1:
        for name in per_seed[0]:
            spread = Spread.of([runs[name].test_accuracy for runs in per_seed])
            print(f"{name}: test accuracy {spread.text('{:.4f}')} (mean ± sd over {spread.n} seeds that finished)")


def _progress() -> tuple[Callable[[int, int], None], Callable[[], None]]:
    from tqdm import tqdm  # progress on stderr; silent when stderr is not a terminal

    bar = tqdm(total=None, unit="step", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def run_folder(out: Path, seed: int, name: str) -> Path:
    return out / f"seed-{seed}" / name


def prepare_out(folder: str, configs: SeedConfigs) -> Path:
    """Make every folder the results will be written to, and check that they can be written, before any
    training: a bad --out fails at once, not after the run."""
    if not folder.strip():
        raise ConfigError("--out: give a folder name (got an empty one)")
    out = Path(folder)
    folders = [run_folder(out, s, name) for s, runs in configs.items() for name in runs]
    for target in folders:
        try:
            target.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=target):
                pass
        except (OSError, ValueError) as e:  # ValueError: a NUL in the path
            raise ConfigError(f"--out: cannot write into the folder {target} ({_reason(e)})") from e
    files = [out / "summary.json"] + [f / n for f in folders for n in ("summary.json", *(f"{t}.csv" for t in TABLES))]
    for file in files:
        if file.exists() and not file.is_file():
            raise ConfigError(f"--out: {file} exists and is not a file, so the results cannot be written there")
    return out


def save(out: Path, per_seed: list[dict[str, RunResult]], summary: dict) -> None:
    for runs in per_seed:
        for name, r in runs.items():
            r.save(run_folder(out, r.config.seed, name))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))


def train_seeds(configs: SeedConfigs, data: MNIST) -> list[dict[str, RunResult]]:
    """Each seed's runs trained paired, one seed after another, with one progress bar over all of them."""
    progress, close = _progress()
    try:
        done = SeededRun(lambda seed: PairedTraining(configs[seed], data), tuple(configs)).run(progress=progress)
    finally:
        close()
    return done.per_seed


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


def _fail(message: str) -> int:
    print(f"error: {one_line(message)}", file=sys.stderr)
    return 2


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:  # the README's numbers: bn_demo.report has its own options
        from bn_demo.report import main

        return main(argv[1:])
    args = build_parser().parse_args(argv)  # exits 2 with a one-line usage error on a bad option
    try:
        config, configs = seed_configs(args)
        if args.data is not None and not args.data.strip():
            raise ConfigError("--data: give the path of an MNIST .npz file (got an empty one)")
        out = prepare_out(args.out, configs) if args.out is not None else None
        data = load_mnist(args.data)
        data.check_fits(batch_size=config.batch_size, eval_size=config.eval_size)
        per_seed = train_seeds(configs, data)
    except (ConfigError, DataError) as e:
        return _fail(str(e))
    summary = report(args.command, config, per_seed)
    if args.json:
        print(json.dumps(summary))
    else:
        _print_table(per_seed)
    if out is not None:
        try:
            save(out, per_seed, summary)
        except (OSError, ValueError) as e:  # the results are printed above: a finished run is never lost
            where = getattr(e, "filename", None) or out
            return _fail(f"--out: could not write {where} ({_reason(e)}); the results are printed above")
    return 0
