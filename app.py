"""BatchNorm Lab, home page: what BatchNorm is, a stored comparison drawn at once, and where to go next.
It imports no torch, so it paints within a second; the lessons load torch when they are opened."""

import streamlit as st

from bn_demo.views import comparison_text, figures
from bn_demo.views.style import SMOOTHING
from lab_ui.downloads import csv_download
from lab_ui.examples import STORED_DEFAULT, StoredResultError, load_stored
from lab_ui.layout import show_panels
from lab_ui.nav import LESSONS, networks_caption, page_header

MOMENTUM = 0.1  # PyTorch's default for BatchNorm1d's running averages
NOTE_CODE = """import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(784, 256)
        self.bn1 = nn.BatchNorm1d(256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.fc1(x)
        x = self.bn1(x)  # Apply Batch Norm after the first layer
        x = torch.relu(x)
        x = self.fc2(x)
        return x

model = Net()"""


def unbiased_factor(m: int) -> str:
    return f"{m / (m - 1):.4g} at m = {m}"


page_header("BatchNorm Lab", "Home")
st.markdown(
    "**Batch Normalization** (BN) normalises each unit of a layer over the examples of the mini-batch, then lets "
    "the network rescale it. It is said to speed up training, allow higher learning rates, reduce the sensitivity "
    "to initialization and regularise a little (the note's claims). This lab trains real networks on MNIST, with "
    "and without BN, so that you can check each claim yourself: speed in *Train & compare*, regularisation in "
    "*Regularisation*, the others on a lesson each."
)

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("The four steps, for each unit over a mini-batch B of m examples")
    st.markdown("1. **Batch mean**")
    st.latex(r"\mu_B = \frac{1}{m}\sum_{i=1}^{m} x^{(i)}")
    st.markdown("2. **Batch variance** (divided by m: the batch's own spread, used to normalise in training)")
    st.latex(r"\sigma_B^2 = \frac{1}{m}\sum_{i=1}^{m} \left(x^{(i)} - \mu_B\right)^2")
    st.markdown("3. **Normalize** (ε is a small constant for numerical stability)")
    st.latex(r"\hat{x}^{(i)} = \frac{x^{(i)} - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}")
    st.markdown("4. **Scale and shift** by the trainable γ (gamma) and β (beta, BN's shift)")
    st.latex(r"y^{(i)} = \gamma\,\hat{x}^{(i)} + \beta")
    st.markdown(
        f"**At inference** BN uses no batch: it normalises with running averages kept during training "
        f"(PyTorch updates them with momentum {MOMENTUM} at every training step), and the variance it averages "
        "is the unbiased one, the batch variance times **m/(m−1)**:"
    )
    st.latex(rf"\hat\mu \leftarrow {1 - MOMENTUM:g}\,\hat\mu + {MOMENTUM:g}\,\mu_B")
    st.latex(rf"\hat\sigma^2 \leftarrow {1 - MOMENTUM:g}\,\hat\sigma^2 + {MOMENTUM:g}\,\frac{{m}}{{m-1}}\,\sigma_B^2")
    st.latex(r"y = \gamma\,\frac{x - \hat\mu}{\sqrt{\hat\sigma^2 + \epsilon}} + \beta")
    st.caption(
        "Ioffe & Szegedy's Algorithm 2 uses the same unbiased estimate, Var[x] = m/(m−1)·E[σ²_B], averaged over "
        f"batches. The factor m/(m−1) matters for small batches: {unbiased_factor(4)}, {unbiased_factor(128)}. "
        "*Batch size and inference* measures what running averages change."
    )
with right:
    st.subheader("The network of the note (PyTorch)")
    st.code(NOTE_CODE, language="python")
    st.caption(f"{networks_caption()} “No BN” is the same network without its BatchNorm layers.")

st.subheader("A first comparison")
try:
    runs = load_stored()
except StoredResultError as e:
    runs = {}
    st.warning(f"The stored comparison could not be read: {e}. Regenerate it with `python -m lab_ui.examples`.")
else:
    if not runs:
        st.info(f"No stored comparison at {STORED_DEFAULT}: regenerate it with `python -m lab_ui.examples`.")
if runs:
    st.markdown(comparison_text.stored_summary(runs).text + " Train your own in **Train & compare**.")
    show_panels([figures.loss_panel(runs, smoothing=SMOOTHING), figures.accuracy_panel(runs, smoothing=SMOOTHING)])
    st.caption(
        f"Thin lines: each training batch, smoothed as TensorBoard does (moving average, weight {SMOOTHING}), "
        "the raw values faint behind; bold lines with dots: the test images at each evaluation."
    )
    csv_download(figures.curves_table, "stored_comparison_curves.csv", source=lambda: runs)

st.subheader("Where to go next")
for lesson in LESSONS:  # the blurb in a caption, which wraps on a phone (a link's label does not)
    st.page_link(lesson.path, label=f"**{lesson.title}**", icon=lesson.icon)
    st.caption(lesson.blurb)
