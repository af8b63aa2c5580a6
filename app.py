"""BatchNorm Lab, home page: what BatchNorm is, a stored comparison drawn at once, and where to go next.
It imports no torch, so it paints within a second; the lessons load torch when they are opened."""

import streamlit as st

from bn_demo import figures, tables
from bn_demo.style import PNG_CONFIG, label
from lab_ui.downloads import csv_download
from lab_ui.examples import STORED_DEFAULT, load_stored
from lab_ui.nav import LESSONS, page_header

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

page_header("BatchNorm Lab", "Home")
st.markdown(
    "**Batch Normalization** (BN) normalises each unit of a layer over the examples of the mini-batch, then lets "
    "the network rescale it. It is said to speed up training, allow higher learning rates, reduce the sensitivity "
    "to initialization and regularise a little (the note's claims). This lab trains a real network on MNIST, with "
    "and without BN, so that you can check each claim yourself: speed and the train–test gap in *Train & compare*, "
    "the others on a lesson each."
)

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("The four steps, for each unit over a mini-batch B of m examples")
    st.markdown("1. **Batch mean**")
    st.latex(r"\mu_B = \frac{1}{m}\sum_{i=1}^{m} x^{(i)}")
    st.markdown("2. **Batch variance**")
    st.latex(r"\sigma_B^2 = \frac{1}{m}\sum_{i=1}^{m} \left(x^{(i)} - \mu_B\right)^2")
    st.markdown("3. **Normalize** (ε is a small constant for numerical stability)")
    st.latex(r"\hat{x}^{(i)} = \frac{x^{(i)} - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}")
    st.markdown("4. **Scale and shift** by the trainable γ (gamma) and β (beta)")
    st.latex(r"y^{(i)} = \gamma\,\hat{x}^{(i)} + \beta")
    st.caption(
        "At inference, BN uses running averages of μ_B and σ²_B collected during training instead of the batch's."
    )
with right:
    st.subheader("The network of the note (PyTorch)")
    st.code(NOTE_CODE, language="python")
    st.caption("Every lesson trains this network (optionally deeper); “no BN” is the same network without `bn1`.")

st.subheader("A first comparison")
runs = load_stored()
if runs:
    config = next(iter(runs.values())).config
    st.markdown(
        f"Stored result, trained once by this lab's engine: the note's network, {config.steps:,} steps of plain SGD "
        f"at learning rate {config.lr}, batches of {config.batch_size}, paired (same initial weights, same batches). "
        + " · ".join(f"**{label(n)}**: {r.test_accuracy:.1%} test accuracy" for n, r in runs.items())
        + ". Train your own in **Train & compare**."
    )
    st.plotly_chart(
        figures.training_curves(runs, "Stored comparison: loss and accuracy, BN vs no BN"),
        width="stretch",
        config=PNG_CONFIG,
    )
    csv_download(tables.combined(runs, "history"), "stored_comparison_history.csv")
else:
    st.info(f"No stored comparison at {STORED_DEFAULT}: regenerate it with `python -m lab_ui.examples`.")

st.subheader("Where to go next")
for lesson in LESSONS:
    st.page_link(lesson.path, label=f"**{lesson.title}** — {lesson.blurb}", icon=lesson.icon)
