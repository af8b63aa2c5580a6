"""`python -m bn_demo`: train one configuration, compare BN with plain (paired), or reproduce
Ioffe & Szegedy's MNIST experiment, from a terminal; tables to a folder, one line of JSON to stdout."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from bn_demo.config import ACTIVATIONS, BN_PLACEMENTS, INITS, NORMS, ConfigError, TrainConfig
from bn_demo.data import DataError, load_mnist
from bn_demo.presets import IOFFE_2015, NOTE_NET
from bn_demo.results import RunResult, save_runs
from bn_demo.train import PairedTraining, compare_configs

TRAIN_EXAMPLES = 60000
PERCENTILE_QUANTITIES = ("p15", "p50", "p85")


class OneLineParser(argparse.ArgumentParser):
    """A bad option is reported in one line naming it, not with the whole usage text."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths like 100,100,100, got {text!r}") from None


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
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between evaluations (0: auto)")
    p.add_argument("--eval-size", type=int, default=d.eval_size, help="held-out test images used while training")
    p.add_argument("--record-every", type=int, default=d.record_every, help="steps between records (0: auto)")
    p.add_argument("--max-records", type=int, default=d.max_records, help="bound on recorded steps (auto thinning)")
    p.add_argument("--tracked-unit", type=int, default=d.tracked_unit)
    p.add_argument("--noise-scale", type=float, default=d.noise_scale, help="noisy BN's shift strength")
    p.add_argument("--data", help="MNIST .npz to use instead of the repository's data/mnist.npz")
    p.add_argument("--out", help="folder to write each run's tables (CSV) and summary.json into")
    p.add_argument("--json", action="store_true", help="print one line of JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m bn_demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    train = sub.add_parser("train", help="train one configuration")
    _add_training_options(train, NOTE_NET)
    train.add_argument("--norm", choices=NORMS, default=NOTE_NET.norm, help="bn, plain or noisy_bn")
    compare = sub.add_parser("compare", help="BN vs plain, paired: same init, same minibatches")
    _add_training_options(compare, NOTE_NET)
    ioffe = sub.add_parser("ioffe2015", help="Ioffe & Szegedy 2015, Figure 1: 3x100 sigmoid net, BN vs plain")
    _add_training_options(ioffe, IOFFE_2015)
    return parser


def config_from_args(args: argparse.Namespace, defaults: TrainConfig) -> TrainConfig:
    if args.epochs is not None:
        if args.epochs <= 0:
            raise ConfigError(f"epochs: {args.epochs} is out of range; give a positive number")
        steps = max(1, round(args.epochs * (TRAIN_EXAMPLES // max(args.batch_size, 1))))
    else:
        steps = args.steps if args.steps is not None else defaults.steps
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    return defaults.with_(**{**values, "steps": steps})


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


def _print_table(runs: dict[str, RunResult]) -> None:
    print(f"{'run':<10}{'steps':>7}{'train loss':>12}{'test loss':>11}{'test acc':>10}{'seconds':>9}  status")
    for name, r in runs.items():
        status = f"diverged at step {r.diverged_at}" if r.diverged else ("stopped" if r.stopped else "ok")
        print(
            f"{name:<10}{r.steps:>7}{r.train_loss:>12.4f}{r.test_loss:>11.4f}"
            f"{r.test_accuracy:>10.4f}{r.seconds:>9.2f}  {status}"
        )


def _progress() -> tuple[Callable[[int, int], None], Callable[[], None]]:
    from tqdm import tqdm  # progress on stderr; silent when stderr is not a terminal

    bar = tqdm(total=None, unit="step", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def _check_out(folder: str) -> None:
    """Make the output folder before training, so a bad --out fails at once rather than after the run."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out: cannot create the folder {folder} ({e.strerror or e})") from e


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:  # the README's numbers: bn_demo.report has its own options
        from bn_demo.report import main

        return main(argv[1:])
    args = build_parser().parse_args(argv)  # exits 2 with a one-line usage error on a bad option

    try:
        if args.command == "train":
            config = config_from_args(args, NOTE_NET)
            configs = {config.norm: config}
        else:
            config = config_from_args(args, IOFFE_2015 if args.command == "ioffe2015" else NOTE_NET)
            configs = compare_configs(config)
        if args.out:
            _check_out(args.out)
        data = load_mnist(args.data)
        progress, close = _progress()
        try:
            runs = PairedTraining(configs, data).run(progress=progress)
        finally:
            close()
    except (ConfigError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.out:
        save_runs(runs, args.out)
    if args.json:
        entries = {name: r.summary() for name, r in runs.items()}
        if args.command == "ioffe2015":
            for name, r in runs.items():
                entries[name]["percentiles"] = percentile_summary(r)
        print(json.dumps({"command": args.command, "config": config.to_dict(), "runs": entries}))
    else:
        _print_table(runs)
    return 0
