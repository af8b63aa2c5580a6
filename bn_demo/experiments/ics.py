"""Internal covariate shift as Santurkar et al. (2018, Definition 2.1) measure it: not a change in the
distribution of a layer's inputs, but how much a layer's gradient changes because the layers before it
moved. For layer i on batch (x, y),

    G  = dL/dW_i at the current parameters W_1 .. W_k,
    G' = dL/dW_i at W_1 - lr*dL/dW_1, .., W_{i-1} - lr*dL/dW_{i-1}, W_i, .., W_k

(the earlier layers take their SGD step, same batch, same lr; layer i and later stay put). The shift is
measured three ways: the paper's ||G - G'||_2 and cos(G, G'), and the relative change ||G - G'|| / ||G||.
The absolute change grows with the size of the gradient itself (a net whose gradients are twice as large
shows twice the change for the same relative shift), so only the relative change and the cosine compare
nets whose gradients differ in size, as BN's and no BN's do. Layer 1 has nothing before it: its shift is 0.

A "layer" is one hidden block (its Linear, and its BN's scale and shift, all of which step), or the
output Linear; G is the gradient of its Linear's weight matrix. Everything runs inside
train.preserved_state in training mode (BN on batch statistics, as during a step), with noisy BN's noise
drawn identically for every pass: the trained model comes out unchanged.
"""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from bn_demo.core.models import MLP, NoisyBatchNorm1d
from bn_demo.core.train import preserved_state

COLUMNS = ["layer", "l2", "relative", "cosine", "grad_norm"]
MEASURES = ("l2", "relative", "cosine")  # the three ways; the last two are scale-free


def layers(model: MLP) -> list[nn.Module]:
    """The network's layers in order: each hidden block, then the output Linear."""
    return [*model.blocks, model.head]


def layer_weight(layer: nn.Module) -> torch.Tensor:
    return layer.linear.weight if hasattr(layer, "linear") else layer.weight


class FixedNoise:
    """Rewinds noisy BN's generators, so that every forward pass of a probe draws the same noise: the
    probe then compares one function at different parameters, not two noise draws."""

    def __init__(self, model: MLP) -> None:
        self.states = [(m, m.noise_generator.get_state()) for m in model.modules() if isinstance(m, NoisyBatchNorm1d)]

    def rewind(self) -> None:
        for m, state in self.states:
            m.noise_generator.set_state(state)


def batch_loss(model: MLP, x: torch.Tensor, y: torch.Tensor, noise: FixedNoise) -> torch.Tensor:
    noise.rewind()
    return F.cross_entropy(model(x), y)


def measure_ics(model: MLP, x: torch.Tensor, y: torch.Tensor, lr: float) -> pd.DataFrame:
    """One row per layer (1-based): l2 = ||G - G'||, relative = ||G - G'|| / ||G||, cosine = cos(G, G'),
    grad_norm = ||G||."""
    all_layers = layers(model)
    weights = [layer_weight(layer) for layer in all_layers]
    rows = []
    with preserved_state(model):
        model.train()
        noise = FixedNoise(model)
        params = list(model.parameters())
        grads = dict(zip(params, torch.autograd.grad(batch_loss(model, x, y, noise), params), strict=True))
        for i, weight in enumerate(weights):
            if i > 0:  # the layer before this one takes its step; earlier ones already have
                with torch.no_grad():
                    for p in all_layers[i - 1].parameters():
                        p.sub_(lr * grads[p])
                (shifted,) = torch.autograd.grad(batch_loss(model, x, y, noise), [weight])
            else:
                shifted = grads[weight]
            rows.append((i + 1, *gradient_shift(grads[weight], shifted)))
    return pd.DataFrame(rows, columns=COLUMNS)


def gradient_shift(g: torch.Tensor, shifted: torch.Tensor) -> tuple[float, float, float, float]:
    """||g - shifted||, that over ||g||, cos(g, shifted) and ||g||, in float64 so that identical gradients
    give 0, 0 and 1 (NaN where a zero gradient leaves a ratio undefined)."""
    g, shifted = g.double().flatten(), shifted.double().flatten()
    norm, norm2 = torch.linalg.vector_norm(g), torch.linalg.vector_norm(shifted)
    cosine = (g @ shifted / (norm * norm2)).item() if norm * norm2 > 0 else float("nan")
    l2 = torch.linalg.vector_norm(g - shifted).item()
    return l2, l2 / norm.item() if norm > 0 else float("nan"), cosine, norm.item()
