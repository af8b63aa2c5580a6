"""How much the engine's recording costs: one epoch of the note's network at batch sizes 32, 128 and
512, trained by a plain PyTorch loop and by the instrumented engine (recording every step), in the
same process, on the same minibatches. Prints the ratio engine / plain loop (target at 128: <= 1.15).

    python benchmarks/bench_engine.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bn_demo.core.config import TrainConfig
from bn_demo.core.data import MNIST, batch_indices, load_mnist
from bn_demo.core.models import build_model
from bn_demo.core.train import PairedTraining

EPOCH = 60000


def plain_loop(config: TrainConfig, data: MNIST) -> float:
    """The loop a notebook would write: forward, loss, backward, step. Nothing recorded."""
    model = build_model(config)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    model.train()
    seconds = 0.0
    for index in batch_indices(EPOCH, config.batch_size, config.steps, config.seed):
        x, y = data.batch("train", index)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        if not loss.item() <= 1000.0:  # the same divergence check the engine makes
            break
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        seconds += time.perf_counter() - t0
    return seconds


def engine(config: TrainConfig, data: MNIST) -> float:
    """Training time of the instrumented engine (RunResult.seconds: steps and recording, not evals)."""
    quiet = config.with_(eval_every=config.steps + 1, record_every=1, max_records=config.steps + 1)
    return PairedTraining({config.norm: quiet}, data).run()[config.norm].seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = load_mnist()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {args.repeats} interleaved runs\n")
    header = ("batch", "norm", "steps", "plain loop s", "engine s", "engine/plain", "+µs/step")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 6, 6, 13, 9, 13, 9), strict=True)))
    for batch_size in (32, 128, 512):
        for norm in ("bn", "plain"):
            config = TrainConfig(norm=norm, batch_size=batch_size, steps=EPOCH // batch_size)
            plain_loop(config.with_(steps=20), data)  # warm-up
            plain_s, engine_s = [], []
            for _ in range(args.repeats):  # interleaved, so both see the same machine load
                plain_s.append(plain_loop(config, data))
                engine_s.append(engine(config, data))
            p, e = min(plain_s), min(engine_s)  # the best run: the least disturbed by other processes
            overhead = (e - p) / config.steps * 1e6  # what recording adds to a step
            print(f"{batch_size:>6} {norm:>6} {config.steps:>6} {p:>13.3f} {e:>9.3f} {e / p:>13.2f} {overhead:>9.0f}")


if __name__ == "__main__":
    main()
