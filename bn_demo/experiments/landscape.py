"""How smooth the loss is where training stands (Santurkar et al. 2018, section 3.1 and Figure 4): from
the current parameters w, step along the gradient g by several step sizes s and look at

- the loss L(w - s*g): its range over the steps is the "loss landscape" (a narrow range is a smooth,
  predictable loss along the direction training moves);
- the gradient change ||grad L(w - s*g) - g||: "gradient predictiveness" (small: the gradient here
  still says where to go a step further);
- the ratio of that change to the distance moved, ||grad change|| / ||s*g||, whose maximum over the
  steps is the paper's "effective beta-smoothness", an empirical Lipschitz constant of the gradient. We
  call it L (smoothness): on the home page beta is BN's shift.

All on the training batch (x, y), in training mode (BN on batch statistics), over every parameter, with
noisy BN's noise drawn identically for every pass, inside train.preserved_state: the model is unchanged.
"""

from __future__ import annotations

import pandas as pd
import torch

from bn_demo.core.models import MLP
from bn_demo.core.train import preserved_state
from bn_demo.experiments.ics import FixedNoise, batch_loss

MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)  # step sizes probed, as multiples of the learning rate
COLUMNS = ["multiplier", "step_size", "loss", "grad_change", "smoothness"]
QUANTITIES = {
    "loss": "loss along the gradient",
    "grad_change": "gradient change",
    "smoothness": "L (smoothness)",
}


def probe_landscape(
    model: MLP, x: torch.Tensor, y: torch.Tensor, lr: float, multipliers: tuple[float, ...] = MULTIPLIERS
) -> pd.DataFrame:
    """One row per step size s = multiplier * lr: loss at w - s*g, gradient change, and its ratio to the
    distance moved (NaN at s = 0, where nothing moved)."""
    rows = []
    with preserved_state(model):
        model.train()
        noise = FixedNoise(model)
        params = list(model.parameters())
        start = [p.detach().clone() for p in params]
        grads = torch.autograd.grad(batch_loss(model, x, y, noise), params)
        g = torch.cat([t.flatten() for t in grads]).double()
        g_norm = torch.linalg.vector_norm(g).item()
        for m in multipliers:
            s = m * lr
            with torch.no_grad():
                for p, p0, dp in zip(params, start, grads, strict=True):
                    p.copy_(p0).add_(dp, alpha=-s)
            loss = batch_loss(model, x, y, noise)
            moved = torch.cat([t.flatten() for t in torch.autograd.grad(loss, params)]).double()
            change = torch.linalg.vector_norm(moved - g).item()
            distance = s * g_norm
            rows.append((m, s, loss.item(), change, change / distance if distance > 0 else float("nan")))
    return pd.DataFrame(rows, columns=COLUMNS)


def ranges(probe: pd.DataFrame) -> pd.DataFrame:
    """Per quantity, its min and max over the probed step sizes: the shaded band of Figure 4."""
    return pd.DataFrame(
        [(q, probe[q].min(), probe[q].max()) for q in QUANTITIES],
        columns=["quantity", "min", "max"],
    )
