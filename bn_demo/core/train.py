"""Instrumented training: one or several models trained *paired*, on the same minibatches in the same
order from the same initial weights, so that what differs between their curves is the model alone.

A run whose loss becomes NaN, infinite or above DIVERGED_LOSS is marked diverged at that step and stopped; the others go
on. A `threading.Event` stops every run early, keeping what was recorded.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bn_demo.core.config import FIT_EVAL_MODE, ConfigError, TrainConfig
from bn_demo.core.data import MNIST, batch_indices, load_mnist, stratified_sample
from bn_demo.core.models import MLP, BatchNorm1d, HiddenBlock, build_model
from bn_demo.core.recorder import Recorder, layer_fields, layer_floats
from bn_demo.core.results import RunResult

ProgressFn = Callable[[int, int], None]  # (steps done, steps in all)
# (step, x, y, active trainers by name), called before they step on the batch (x, y): for probes
StepHook = Callable[[int, torch.Tensor, torch.Tensor, dict[str, "Trainer"]], None]
FINAL_TRAIN_LOSS_WINDOW = 20  # recorded steps averaged into a run's final training loss
DIVERGED_LOSS = 1000.0  # ~430x the loss of a uniform guess (ln 10): the run has blown up
SUBSET_SEED = 20240917  # one fixed training subset per size, the same for every seed and every run
TEST_CHUNK = 1000  # test images evaluated at once at the end of a run


@contextlib.contextmanager
def preserved_state(model: MLP) -> Iterator[None]:
    """Whatever runs inside leaves the model as it found it: parameters, BN running statistics,
    noise generators and train/eval mode. Used to evaluate in train mode and to probe the loss."""
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    generators = [(m, m.noise_generator.get_state()) for m in model.modules() if hasattr(m, "noise_generator")]
    was_training = model.training
    try:
        yield
    finally:
        model.load_state_dict(saved)
        for m, state in generators:
            m.noise_generator.set_state(state)
        model.train(was_training)


def stratified_subset(labels: torch.Tensor, size: int, seed: int = SUBSET_SEED) -> torch.Tensor:
    """Sorted row indices of `size` examples holding each class in its share of `labels`: a small training
    set that is not, by chance, short of one digit (the same sampler as the held-out test sample)."""
    return torch.from_numpy(stratified_sample(labels.numpy(), size, seed=seed))


def _mean_var(z: torch.Tensor, average: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit batch mean and (biased) variance of z (B, U), with `average` = (1/B,)*B. Two passes of
    a matrix-vector product: several times faster on CPU than torch.var_mean over dim 0, and without
    the cancellation of E[z²] − E[z]²."""
    mean = average @ z
    centred = z - mean
    return mean, average @ centred.mul_(centred)


def _record_stride(config: TrainConfig, max_floats: int = 16_000_000) -> int:
    """Steps between records: the config's, raised if needed so that buffers stay under ~64 MB."""
    per_record = sum(layer_floats(w, config.uses_bn, config.batch_size) for w in config.hidden)
    return max(config.effective_record_every, -(-config.steps * per_record // max_floats))


class Trainer:
    """One model, its SGD optimiser and its recorder; `step` trains on one batch."""

    def __init__(
        self,
        name: str,
        config: TrainConfig,
        eval_x: torch.Tensor,
        eval_y: torch.Tensor,
        fit: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        self.name, self.config = name, config
        self.fit = fit  # the training subset, evaluated as a whole when the run trains on a subset
        self.model = build_model(config)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr)
        self.record_every = _record_stride(config)
        capacity = -(-config.steps // self.record_every) + 1
        self.recorder = Recorder(
            config.hidden,
            fields=layer_fields(config.uses_bn),
            capacity=capacity,
            batch_size=config.batch_size,
            lr=config.lr,
            bn_eps=self.model.norms()[0].eps if config.uses_bn else 0.0,
        )
        self.eval_x, self.eval_y = eval_x, eval_y
        self.weights = [linear.weight for linear in self.model.linears()]
        self.flat_weights = [w.detach().view(-1) for w in self.weights]  # views: they follow the updates
        self.batch_average = torch.full((config.batch_size,), 1 / config.batch_size)
        self.steps_done = 0
        self.seconds = 0.0
        self.diverged_at: int | None = None

    @property
    def active(self) -> bool:
        return self.diverged_at is None

    def step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> None:
        t0 = time.perf_counter()
        record = step % self.record_every == 0 or step == self.config.steps - 1
        if not self.model.training:  # evaluations restore train mode; calling train() costs ~15 µs a step
            self.model.train()
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        if not loss.item() <= DIVERGED_LOSS:  # also true for NaN
            self.diverged_at = step
            return
        self.optimizer.zero_grad(set_to_none=False)
        loss.backward()
        if record:  # before the update: the statistics of the batch the loss was computed on
            self._record(step, loss, logits, y)
        self.optimizer.step()
        self.steps_done = step + 1
        self.seconds += time.perf_counter() - t0

    @torch.no_grad()
    def _record(self, step: int, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        """Raw per-unit statistics only, by the names of recorder.py's fields: a few tensor ops per
        layer, no .item(). Under no_grad, so loss and logits need no detach()."""
        correct = (logits.argmax(dim=1) == y).sum(dtype=torch.float32)  # float: stack needs no conversion
        # squared norms by BLAS dot: torch._foreach_norm here slows the next zero_grad down by ~40 µs
        grad_sq = [torch.dot(g, g) for g in [w.grad.view(-1) for w in self.weights]]
        scalars = {
            "loss": [loss],
            "correct": [correct],
            "grad_sq": grad_sq,
            "weight_sq": [torch.dot(w, w) for w in self.flat_weights],
        }
        self.recorder.record_step(step, scalars, [self._layer_parts(block) for block in self.model.blocks])

    def _layer_parts(self, block: HiddenBlock) -> dict[str, torch.Tensor]:
        """One hidden layer's recorded fields (recorder.LAYER_FIELDS and BN_FIELDS) by name."""
        z, norm, unit = block.activation_input, block.norm, self.config.tracked_unit  # z: (B, U)
        if block.bn_before_activation and type(norm) is BatchNorm1d:
            # z = γ·x̂ + β: its batch mean is β and its (biased) variance γ²·σ²/(σ² + ε) = γ²(1 − ε·invstd²),
            # exactly, so no pass over the batch is needed
            mean, var = norm.bias, norm.weight.square() * (1 - norm.eps * norm.batch_invstd.square())
        else:
            mean, var = _mean_var(z, self.batch_average)
        parts = {"act_mean": mean, "act_var": var, "act_tracked": z[:, unit]}
        if norm is not None:  # BN's input, from BN's own batch statistics: no need to compute them again
            parts["bn_in_mean"], parts["bn_in_invstd"] = norm.batch_mean, norm.batch_invstd
            parts["bn_in_tracked"] = block.bn_input[:, unit]
            parts["running_mean"], parts["running_var"] = norm.running_mean, norm.running_var
        return parts

    @torch.no_grad()
    def evaluate(self, step: int) -> None:
        """Held-out loss and accuracy in eval mode (running statistics); for BN nets also in train
        mode, on batches of the training batch size, with the model left unchanged afterwards."""
        with preserved_state(self.model):
            self.model.eval()
            self.recorder.record_eval(step, "eval", *self._loss_accuracy(self.eval_x, self.eval_y))
            if self.fit is not None:
                self.recorder.record_eval(step, FIT_EVAL_MODE, *self._loss_accuracy(*self.fit))
            if self.config.uses_bn:
                self.model.train()
                self.recorder.record_eval(step, "train", *self._train_mode_loss_accuracy())
        blocks = self.model.blocks
        if all(b.activation_input is not None for b in blocks):
            self.recorder.record_snapshot(step, [b.activation_input for b in blocks])

    def _loss_accuracy(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        logits = self.model(x)
        return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()

    def _train_mode_loss_accuracy(self) -> tuple[float, float]:
        b = self.config.batch_size
        n = (len(self.eval_y) // b) * b or len(self.eval_y)  # whole batches, as in training
        chunks = zip(self.eval_x[:n].split(b), self.eval_y[:n].split(b), strict=True)
        results = [(self._loss_accuracy(x, y), len(y)) for x, y in chunks]
        return tuple(sum(r[i] * k for r, k in results) / n for i in range(2))

    def result(self, stopped: bool, data: MNIST) -> RunResult:
        tables = self.recorder.frames()
        tail = tables["history"]["train_loss"].tail(FINAL_TRAIN_LOSS_WINDOW)
        run = RunResult(
            name=self.name,
            config=self.config,
            steps=self.steps_done,
            seconds=self.seconds,
            diverged=self.diverged_at is not None,
            diverged_at=self.diverged_at,
            stopped=stopped and self.active,
            train_loss=float(tail.mean()) if len(tail) else float("nan"),
            tables=tables,
        )
        if self.active and self.steps_done:
            run.test_loss, run.test_accuracy = self._test_set_loss_accuracy(data)
        return run

    @torch.no_grad()
    def _test_set_loss_accuracy(self, data: MNIST) -> tuple[float, float]:
        """Eval-mode loss and accuracy on every test image, TEST_CHUNK images at a time: the whole set at
        once held its float copy and every layer's activations for 10,000 images (over 60 MB a run)."""
        n = len(data.y_test)
        loss = correct = 0.0
        with preserved_state(self.model):
            self.model.eval()
            for index in torch.arange(n).split(TEST_CHUNK):
                x, y = data.batch("test", index)
                logits = self.model(x)
                loss += F.cross_entropy(logits, y, reduction="sum").item()
                correct += (logits.argmax(1) == y).sum().item()
        return loss / n, correct / n

    def partial_result(self, history_only: bool = False) -> RunResult:
        """What is recorded so far, for live charts; no final test-set evaluation. `history_only`
        skips every table but the loss history, for sweeps that redraw many runs every second."""
        tables = {"history": self.recorder.history()} if history_only else self.recorder.frames()
        return RunResult(
            name=self.name,
            config=self.config,
            steps=self.steps_done,
            seconds=self.seconds,
            diverged=not self.active,
            diverged_at=self.diverged_at,
            tables=tables,
        )


class PairedTraining:
    """Several models stepped in lockstep on one shared stream of minibatches."""

    def __init__(self, configs: dict[str, TrainConfig], data: MNIST | None = None) -> None:
        first = next(iter(configs.values()))
        for name, c in configs.items():
            for attr in ("batch_size", "steps", "seed", "train_size"):
                if getattr(c, attr) != getattr(first, attr):
                    raise ConfigError(f"{attr}: paired runs must share it, but {name!r} differs")
        self.data = data or load_mnist()
        self.config = first
        eval_x, eval_y = self.data.batch("test", self.data.eval_indices(first.eval_size))
        every = torch.arange(len(self.data.y_train))
        self.rows = stratified_subset(self.data.y_train, first.train_size) if first.train_size else every
        fit = self.data.batch("train", self.rows) if first.train_size else None
        self.trainers = {name: Trainer(name, c, eval_x, eval_y, fit) for name, c in configs.items()}
        self.step = 0
        self.stopped = False

    def run(
        self, progress: ProgressFn | None = None, stop: threading.Event | None = None, on_step: StepHook | None = None
    ) -> dict[str, RunResult]:
        c = self.config
        eval_every = c.effective_eval_every
        for step, index in enumerate(batch_indices(len(self.rows), c.batch_size, c.steps, c.seed)):
            if stop is not None and stop.is_set():
                self.stopped = True
                break
            active = [t for t in self.trainers.values() if t.active]
            if not active:
                break
            if step % eval_every == 0:
                for t in active:
                    t.evaluate(step)
            x, y = self.data.batch("train", self.rows[index])
            if on_step is not None:
                on_step(step, x, y, {t.name: t for t in active})
            for t in active:
                t.step(x, y, step)
            self.step = step + 1
            if progress is not None:
                progress(self.step, c.steps)
        for t in self.trainers.values():
            if t.active and t.steps_done:
                t.evaluate(t.steps_done)
        return {name: t.result(self.stopped, self.data) for name, t in self.trainers.items()}

    def partial(self) -> dict[str, RunResult]:
        """What every run has recorded so far (jobs.LiveRun)."""
        return {name: t.partial_result() for name, t in self.trainers.items()}


def train(config: TrainConfig, name: str | None = None, **kwargs) -> RunResult:
    """Train one configuration."""
    name = name or config.norm
    return PairedTraining({name: config}, kwargs.pop("data", None)).run(**kwargs)[name]


@dataclass(frozen=True)
class Estimate:
    """How long paired training of some configs will take on this machine, from a short timed trial."""

    step_seconds: float  # one paired step, recording included
    eval_seconds: float  # one round of held-out evaluations of every run
    evaluations: int  # rounds the full run does: every eval_every steps, after the last, and the final test
    steps: int

    @property
    def total_seconds(self) -> float:
        return self.steps * self.step_seconds + self.evaluations * self.eval_seconds


def estimate(configs: dict[str, TrainConfig], trial_steps: int = 30, data: MNIST | None = None) -> Estimate:
    """Times one evaluation and `trial_steps` paired steps of `configs` (not the whole run): lets a page say
    how long a long run will take before anyone starts it."""
    training = PairedTraining({name: c.with_(steps=trial_steps) for name, c in configs.items()}, data)
    trainers, full = training.trainers.values(), next(iter(configs.values()))
    t0 = time.perf_counter()
    for t in trainers:
        t.evaluate(0)
    eval_seconds = time.perf_counter() - t0
    for step, index in enumerate(batch_indices(len(training.data.y_train), full.batch_size, trial_steps, full.seed)):
        x, y = training.data.batch("train", index)
        for t in trainers:
            if t.active:
                t.step(x, y, step)
    step_seconds = sum(t.seconds for t in trainers) / trial_steps
    return Estimate(step_seconds, eval_seconds, full.steps // full.effective_eval_every + 2, full.steps)


def warm_up(data: MNIST | None = None) -> None:
    """Train a BN and a plain net two steps on batches of 8 and evaluate them: this imports what the first
    optimiser imports (torch._dynamo: 80–160 MB and tens of thousands of Python objects) and loads the code
    pages training runs (about 17 MB), once, when a server opens its first lesson, not in a student's job."""
    PairedTraining(compare_configs(TrainConfig(steps=2, batch_size=8, eval_size=10)), data).run()


def compare_configs(config: TrainConfig, norms: tuple[str, ...] = ("bn", "plain")) -> dict[str, TrainConfig]:
    """The paired variants of one configuration: identical but for what follows each Linear."""
    return {norm: config.with_(norm=norm) for norm in norms}


def compare(config: TrainConfig, norms: tuple[str, ...] = ("bn", "plain"), **kwargs) -> dict[str, RunResult]:
    """Train BN and plain (or any `norms`) paired: same seed, initial weights and minibatches."""
    return PairedTraining(compare_configs(config, norms), kwargs.pop("data", None)).run(**kwargs)
