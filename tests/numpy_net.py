"""An independent float64 numpy model of the engine's MLP: Linear layers, each followed by relu, tanh or
sigmoid, with optional BatchNorm before or after the nonlinearity, a linear head and the mean
cross-entropy; forward and backward by hand, and plain SGD around them. Written from the formulas
(Ioffe & Szegedy 2015, Algorithms 1 and 2; PyTorch's BatchNorm1d documentation), it shares no code with
bn_demo: the engine, its recorder and the ICS and loss-landscape probes are checked against it.

BatchNorm in training mode normalises with the batch mean and the biased batch variance, and moves its
running statistics by momentum 0.1 towards the batch mean and the *unbiased* variance (m/(m-1));
in eval mode it normalises with the running statistics. ε is PyTorch's default, 1e-5.

Parameters are a list with one tuple per layer, hidden layers first: (W, b), or (W, b, γ, β) for a
hidden layer with BN; gradients come in the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from bn_demo.core.config import TrainConfig
from bn_demo.core.data import MNIST, batch_indices
from bn_demo.core.models import MLP, build_model

EPS, MOMENTUM = 1e-5, 0.1  # nn.BatchNorm1d's defaults, those of the note's nn.BatchNorm1d(256)
Params = list[tuple[np.ndarray, ...]]


@dataclass(frozen=True)
class Net:
    """The shape of the network: its nonlinearity and where BN sits ("before" / "after" it, or None)."""

    activation: str = "tanh"
    bn: str | None = None

    @classmethod
    def of(cls, config: TrainConfig) -> Net:
        if config.norm == "noisy_bn":
            raise ValueError("the reference has no noisy BN")
        return cls(config.activation, config.bn_placement if config.norm == "bn" else None)


@dataclass
class Layer:
    """One hidden layer's forward pass, kept for the backward pass and for recomputing statistics."""

    h: np.ndarray  # input (B, n_in)
    act_in: np.ndarray  # input of the nonlinearity (B, U)
    act_out: np.ndarray  # its output
    bn_in: np.ndarray | None = None  # what BN normalised
    mean: np.ndarray | None = None  # statistics BN normalised with: the batch's, or the running ones
    var: np.ndarray | None = None  # (biased, for the batch)
    xhat: np.ndarray | None = None  # normalised bn_in


@dataclass
class Pass:
    layers: list[Layer]
    head_in: np.ndarray
    logits: np.ndarray


def batch(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch of n "images" and labels."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy().copy()


def parameters(model: MLP) -> Params:
    """(W, b) or (W, b, γ, β) of every hidden layer, then (W, b) of the head, as float64 copies."""
    hidden = [
        tuple(_numpy(p) for p in (b.linear.weight, b.linear.bias))
        + (() if b.norm is None else (_numpy(b.norm.weight), _numpy(b.norm.bias)))
        for b in model.blocks
    ]
    return [*hidden, (_numpy(model.head.weight), _numpy(model.head.bias))]


def running_stats(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    """(running mean, running var) of every BN layer, as float64 copies."""
    return [(_numpy(n.running_mean), _numpy(n.running_var)) for n in model.norms()]


def _activation(name: str, u: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(u, 0.0)
    if name == "tanh":
        return np.tanh(u)
    return 1.0 / (1.0 + np.exp(-u))


def _activation_slope(name: str, u: np.ndarray, out: np.ndarray) -> np.ndarray:
    if name == "relu":
        return (u > 0).astype(float)
    if name == "tanh":
        return 1.0 - out**2
    return out * (1.0 - out)


def forward(params: Params, x: np.ndarray, net: Net = Net(), running=None, eps: float = EPS) -> Pass:
    """Training mode (batch statistics) without `running`; eval mode with the given running statistics."""
    layers, h = [], x
    for i, layer_params in enumerate(params[:-1]):
        stats = None if running is None else running[i]
        w, b = layer_params[:2]
        z = h @ w.T + b
        layer = Layer(h=h, act_in=z, act_out=z)
        if net.bn == "before":
            layer.bn_in = z
            layer.act_in = _normalise(layer, layer_params, stats, eps)
        layer.act_out = _activation(net.activation, layer.act_in)
        out = layer.act_out
        if net.bn == "after":
            layer.bn_in = layer.act_out
            out = _normalise(layer, layer_params, stats, eps)
        layers.append(layer)
        h = out
    w, b = params[-1]
    return Pass(layers, h, h @ w.T + b)


def _normalise(layer: Layer, layer_params, running, eps: float) -> np.ndarray:
    """γ·(x − μ)/√(σ² + ε) + β, with the batch's μ and biased σ² in training mode, the running ones in eval."""
    x = layer.bn_in
    layer.mean, layer.var = (x.mean(0), x.var(0)) if running is None else running
    layer.xhat = (x - layer.mean) / np.sqrt(layer.var + eps)
    gamma, beta = layer_params[2:]
    return gamma * layer.xhat + beta


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the logits."""
    shifted = logits - logits.max(1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(1, keepdims=True)
    n = len(y)
    delta = p.copy()
    delta[np.arange(n), y] -= 1
    return float(-np.log(p[np.arange(n), y]).mean()), delta / n


def backward(params: Params, fwd: Pass, y: np.ndarray, net: Net = Net(), eps: float = EPS, train: bool = True):
    """Loss and its gradient for every parameter, in the shape of `params`."""
    loss, delta = cross_entropy(fwd.logits, y)
    w = params[-1][0]
    grads = [(delta.T @ fwd.head_in, delta.sum(0))]
    d_out = delta @ w
    for layer_params, layer in zip(params[-2::-1], fwd.layers[::-1], strict=True):
        bn_grads = ()
        if net.bn == "after":
            d_out, bn_grads = _normalise_backward(d_out, layer, layer_params, eps, train)
        d = d_out * _activation_slope(net.activation, layer.act_in, layer.act_out)
        if net.bn == "before":
            d, bn_grads = _normalise_backward(d, layer, layer_params, eps, train)
        grads.append((d.T @ layer.h, d.sum(0), *bn_grads))
        d_out = d @ layer_params[0]
    return loss, grads[::-1]


def _normalise_backward(d_y: np.ndarray, layer: Layer, layer_params, eps: float, train: bool):
    """Gradient of BN's input, and of (γ, β). In training mode μ and σ² depend on the input too."""
    gamma = layer_params[2]
    d_xhat = d_y * gamma
    invstd = 1 / np.sqrt(layer.var + eps)
    if train:
        d_x = invstd * (d_xhat - d_xhat.mean(0) - layer.xhat * (d_xhat * layer.xhat).mean(0))
    else:
        d_x = d_xhat * invstd
    return d_x, ((d_y * layer.xhat).sum(0), d_y.sum(0))


def loss_and_grads(params: Params, x: np.ndarray, y: np.ndarray, net: Net = Net()) -> tuple[float, Params]:
    """Mean cross-entropy in training mode and its gradient for every parameter."""
    return backward(params, forward(params, x, net), y, net)


def sgd_step(params: Params, grads: Params, lr: float, layers: Iterable[int]) -> Params:
    """params with the listed layers (0-based) moved by one SGD step, the others unchanged."""
    layers = set(layers)
    return [
        tuple(p - lr * g for p, g in zip(ps, gs, strict=True)) if i in layers else ps
        for i, (ps, gs) in enumerate(zip(params, grads, strict=True))
    ]


def updated_running(running, fwd: Pass, momentum: float = MOMENTUM):
    """BN's running statistics after a training-mode pass: the unbiased batch variance is averaged."""
    out = []
    for (mean, var), layer in zip(running, fwd.layers, strict=True):
        m = len(layer.bn_in)
        out.append(
            ((1 - momentum) * mean + momentum * layer.mean, (1 - momentum) * var + momentum * layer.var * m / (m - 1))
        )
    return out


@dataclass
class Step:
    """One training step of the reference: the pass and gradients on its batch, before the update,
    and the running statistics after it (as the engine records them)."""

    params: Params
    fwd: Pass
    y: np.ndarray
    loss: float
    grads: Params
    running: list


def train(params: Params, running, batches: Iterable[tuple[np.ndarray, np.ndarray]], net: Net, lr: float):
    """Plain SGD over the batches: every Step, and the final parameters and running statistics."""
    steps = []
    for x, y in batches:
        fwd = forward(params, x, net)
        loss, grads = backward(params, fwd, y, net)
        if net.bn:
            running = updated_running(running, fwd)
        steps.append(Step(params, fwd, y, loss, grads, running))
        params = sgd_step(params, grads, lr, range(len(params)))
    return steps, params, running


def numpy_batch(data: MNIST, split: str, index: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    x, y = data.batch(split, index)
    return x.double().numpy(), y.numpy()


def train_run(config: TrainConfig, data: MNIST):
    """The reference trained as the engine trains `config`: from the same initial weights, on the
    minibatches that the seed alone determines (bn_demo.core.data.batch_indices)."""
    model = build_model(config)
    indices = batch_indices(len(data.y_train), config.batch_size, config.steps, config.seed)
    batches = [numpy_batch(data, "train", i) for i in indices]
    return train(parameters(model), running_stats(model), batches, Net.of(config), config.lr)
