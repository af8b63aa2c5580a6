"""An independent numpy forward and backward pass of a plain tanh MLP (no BN), in float64: the
reference the ICS and loss-landscape probes are checked against."""

from __future__ import annotations

import numpy as np
import torch

from bn_demo.models import MLP


def batch(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch of n "images" and labels."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)


def parameters(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of every Linear, hidden layers first, as float64 copies."""
    return [
        (lin.weight.detach().double().numpy().copy(), lin.bias.detach().double().numpy().copy())
        for lin in model.linears()
    ]


def loss_and_grads(params, x: np.ndarray, y: np.ndarray) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
    """Mean cross-entropy of tanh hidden layers + linear head, and its gradient for every (W, b)."""
    inputs, h = [], x
    for w, b in params[:-1]:
        inputs.append(h)
        h = np.tanh(h @ w.T + b)
    inputs.append(h)
    w, b = params[-1]
    logits = h @ w.T + b
    logits = logits - logits.max(1, keepdims=True)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    n = len(y)
    loss = -np.log(p[np.arange(n), y]).mean()
    delta = p.copy()
    delta[np.arange(n), y] -= 1
    delta /= n  # dL/dlogits
    grads = []
    for i in range(len(params) - 1, -1, -1):
        w, _ = params[i]
        grads.append((delta.T @ inputs[i], delta.sum(0)))
        if i:
            delta = (delta @ w) * (1 - inputs[i] ** 2)  # inputs[i] = tanh(previous pre-activation)
    return float(loss), grads[::-1]


def sgd_step(params, grads, lr: float, layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """params with the listed layers (0-based) moved by one SGD step, the others unchanged."""
    return [
        (w - lr * gw, b - lr * gb) if i in layers else (w, b)
        for i, ((w, b), (gw, gb)) in enumerate(zip(params, grads, strict=True))
    ]
