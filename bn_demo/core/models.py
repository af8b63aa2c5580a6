"""The note's network, Linear(784,256) -> BatchNorm1d(256) -> ReLU -> Linear(256,10), generalised
just enough for the lessons: any number of hidden layers, three activations, BN before or after
the activation, no BN, or BN followed by injected noise (Santurkar et al.'s "noisy BN").

Each hidden block keeps a reference to the tensor that enters its nonlinearity (and to BN's input),
so the trainer can record their statistics without hooks or copies.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bn_demo.core.config import TrainConfig

N_INPUTS, N_CLASSES = 784, 10
NOISE_SEED_STRIDE = 1_000_003  # between the noise seeds of consecutive hidden layers
DROPOUT_SEED_OFFSET = 104_729  # dropout's masks come from their own stream, apart from noisy BN's
ACTIVATION_MODULES = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class BatchNorm1d(nn.BatchNorm1d):
    """nn.BatchNorm1d that keeps the batch mean and inverse standard deviation it normalised with in
    training mode, so the recorder reads BN's input statistics instead of computing them again. Same
    kernel and running-statistics update as nn.BatchNorm1d (F.batch_norm calls native_batch_norm)."""

    batch_mean: torch.Tensor | None = None  # (U,) of the last training-mode batch
    batch_invstd: torch.Tensor | None = None  # (U,) 1 / sqrt(biased batch variance + eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.shape[0] < 2:  # nn.BatchNorm1d's eval path, or its one-example error
            return super().forward(x)
        momentum = self.momentum
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if momentum is None:  # a cumulative average, as nn.BatchNorm1d does
                momentum = 1.0 / float(self.num_batches_tracked)
        y, self.batch_mean, self.batch_invstd = torch.native_batch_norm(
            x, self.weight, self.bias, self.running_mean, self.running_var, True, momentum or 0.0, self.eps
        )
        return y


class NoisyBatchNorm1d(BatchNorm1d):
    """BatchNorm followed by Santurkar et al.'s (2018, section 2.1) noise: "we perturb each activation for each
    sample in the batch using i.i.d. noise sampled from a non-zero mean and non-unit variance distribution. We
    emphasize that this noise distribution changes at each time step". The paper's main text does not give the
    law; ours, with a = noise_scale, is a scale and a shift for every example i and unit j:

        y_ij = s_ij * BN(x)_ij + m_ij

    - the step's distribution, redrawn at every training step t, per unit j:
      shift mean mu_tj ~ U(-a, a) and scale mean nu_tj ~ U(1, 1 + a);
    - then, i.i.d. per example and unit given the step's distribution:
      m_ij ~ U(mu_tj - a/2, mu_tj + a/2) and s_ij ~ U(nu_tj - a/2, nu_tj + a/2)
      (mean mu_tj, nu_tj; variance a^2/12 each).

    Over steps, E[m] = 0, Var[m] = a^2/3 + a^2/12 = 5a^2/12, E[s] = 1 + a/2, Var[s] = a^2/12 + a^2/12 = a^2/6.
    Eval mode applies the noise's expectation, y = E[s] * BN(x) + E[m] = (1 + a/2) * BN(x) with running
    statistics (as dropout does), so the net is evaluated as it was trained on average; a = 0 is plain BN.
    """

    def __init__(self, num_features: int, noise_scale: float, seed: int) -> None:
        super().__init__(num_features)
        self.noise_scale = noise_scale
        self.noise_generator = torch.Generator().manual_seed(seed + 7919)
        self.shift_mean = torch.zeros(num_features)  # mu_t: the last step's distribution
        self.scale_mean = torch.ones(num_features)  # nu_t
        self.last_shift = torch.zeros(1, num_features)  # m: (B, U) of the last training-mode pass
        self.last_scale = torch.ones(1, num_features)  # s

    @property
    def expected_scale(self) -> float:
        """E[s] = 1 + a/2 (and E[m] = 0): what eval mode multiplies BN's output by."""
        return 1 + self.noise_scale / 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, num_features)
        y = super().forward(x)
        if not self.training:
            return y * self.expected_scale
        a, g = self.noise_scale, self.noise_generator
        step = torch.rand(2, self.num_features, generator=g)
        self.shift_mean, self.scale_mean = (2 * step[0] - 1) * a, 1 + step[1] * a
        within = (torch.rand(2, *y.shape, generator=g) - 0.5) * a  # U(-a/2, a/2), per example and unit
        self.last_shift, self.last_scale = self.shift_mean + within[0], self.scale_mean + within[1]
        return y * self.last_scale + self.last_shift


class Dropout(nn.Module):
    """nn.Dropout (inverted: kept units are scaled by 1/(1 − p) in training, nothing happens in eval mode)
    drawing its masks from its own generator instead of torch's global one, so that a seed reproduces a
    run exactly and the paired runs' weights and batches are untouched by it."""

    def __init__(self, p: float, seed: int) -> None:
        super().__init__()
        self.p = p
        self.noise_generator = torch.Generator().manual_seed(seed + DROPOUT_SEED_OFFSET)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = torch.rand(x.shape, generator=self.noise_generator) >= self.p
        return x * keep / (1 - self.p)


class HiddenBlock(nn.Module):
    """Linear -> [BN] -> activation -> [BN] -> [dropout], with BN placed before (the note) or after the
    activation, and dropout (if any) on the block's output, as it is usually placed."""

    def __init__(self, n_in: int, n_out: int, config: TrainConfig, index: int = 0) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.norm: nn.BatchNorm1d | None = None
        if config.norm == "bn":
            self.norm = BatchNorm1d(n_out)
        elif config.norm == "noisy_bn":
            # a seed per layer: each layer's noise is drawn independently of the others'
            self.norm = NoisyBatchNorm1d(n_out, config.noise_scale, config.seed + NOISE_SEED_STRIDE * index)
        self.bn_before_activation = config.bn_placement == "before"
        self.activation = ACTIVATION_MODULES[config.activation]()
        seed = config.seed + NOISE_SEED_STRIDE * index
        self.dropout = Dropout(config.dropout, seed) if config.dropout > 0 else None
        self.activation_input: torch.Tensor | None = None  # (B, n_out), the input of the nonlinearity
        self.bn_input: torch.Tensor | None = None  # (B, n_out), what BN normalises

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, n_in) -> (B, n_out)
        z = self.linear(x)
        if self.norm is not None and self.bn_before_activation:
            self.bn_input = z.detach()
            z = self.norm(z)
        self.activation_input = z.detach()
        h = self.activation(z)
        if self.norm is not None and not self.bn_before_activation:
            self.bn_input = h.detach()
            h = self.norm(h)
        return h if self.dropout is None else self.dropout(h)


class MLP(nn.Module):
    """784 -> hidden... -> 10 logits. With config defaults this is exactly the note's `Net`."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        widths = (N_INPUTS, *config.hidden)
        pairs = enumerate(zip(widths[:-1], widths[1:], strict=True))
        self.blocks = nn.ModuleList(HiddenBlock(a, b, config, i) for i, (a, b) in pairs)
        self.head = nn.Linear(widths[-1], N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 784) -> logits (B, 10)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def linears(self) -> list[nn.Linear]:
        return [b.linear for b in self.blocks] + [self.head]

    def norms(self) -> list[nn.BatchNorm1d]:
        return [b.norm for b in self.blocks if b.norm is not None]


def build_model(config: TrainConfig) -> MLP:
    """Same seed -> same weights in every Linear, with or without BN: BN layers draw no random
    numbers, and all initialisation goes through one generator in a fixed layer order."""
    model = MLP(config)
    g = torch.Generator().manual_seed(config.seed)
    for linear in model.linears():
        initialise(linear, config, g, is_head=linear is model.head)
    return model


def initialise(linear: nn.Linear, config: TrainConfig, g: torch.Generator, is_head: bool) -> None:
    w, b = linear.weight, linear.bias
    fan_in = w.shape[1]
    with torch.no_grad():
        if config.init == "default":  # what nn.Linear.reset_parameters does: U(-1/sqrt(fan_in), ..)
            bound = 1 / math.sqrt(fan_in)
            w.uniform_(-bound, bound, generator=g)
            b.uniform_(-bound, bound, generator=g)
            return
        if config.init == "xavier":
            gain = 1.0 if is_head else nn.init.calculate_gain(config.activation)
            nn.init.xavier_uniform_(w, gain=gain, generator=g)
        elif config.init == "kaiming":
            nn.init.kaiming_normal_(w, nonlinearity="linear" if is_head else "relu", generator=g)
        else:  # gaussian with the chosen standard deviation, as in Ioffe & Szegedy's MNIST net
            w.normal_(0.0, config.init_std, generator=g)
        b.zero_()
