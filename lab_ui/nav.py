"""Every page's frame: browser-tab title, the lesson list in the sidebar (in words, with "Home" for
app.py, which Streamlit's automatic navigation would call "app"), and the page title."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError


@dataclass(frozen=True)
class Lesson:
    path: str  # relative to app.py
    title: str
    icon: str
    blurb: str  # one line on the home page
    network: str = ""  # which network its default trains: "note" (784-256-10 ReLU, or deeper) or "ioffe"


HOME = Lesson("app.py", "Home", ":material/home:", "What BatchNorm is, and a first comparison.", "note")
LESSONS = (
    Lesson(
        "pages/1_Train_and_compare.py",
        "Train & compare",
        ":material/monitoring:",
        "BN and no BN trained paired, live: loss, accuracy, layers.",
        "note",
    ),
    Lesson(
        "pages/2_Internal_covariate_shift.py",
        "Internal covariate shift",
        ":material/waves:",
        "How a hidden layer's inputs move, with and without BN.",
        "note",
    ),
    Lesson(
        "pages/3_Learning_rate_sensitivity.py",
        "Learning-rate sensitivity",
        ":material/speed:",
        "Does BN allow higher learning rates?",
        "note",
    ),
    Lesson(
        "pages/4_Initialization_sensitivity.py",
        "Initialization sensitivity",
        ":material/casino:",
        "Does BN make bad initializations harmless?",
        "ioffe",
    ),
    Lesson(
        "pages/5_Batch_size_and_inference.py",
        "Batch size and inference",
        ":material/stacks:",
        "Small batches, and train vs eval mode.",
        "note",
    ),
    Lesson(
        "pages/6_Ioffe_and_Szegedy_2015.py",
        "Ioffe & Szegedy 2015",
        ":material/history_edu:",
        "The original paper's MNIST experiment, reproduced.",
        "ioffe",
    ),
    Lesson(
        "pages/7_What_later_research_found.py",
        "What later research found",
        ":material/science:",
        "Is internal covariate shift the reason?",
        "ioffe",
    ),
    Lesson(
        "pages/8_Regularisation.py",
        "Regularisation",
        ":material/compress:",
        "Does BN curb overfitting? BN, no BN and dropout on 1,000 images.",
        "note",
    ),
)


NETWORKS = {
    "note": "the note's network (784-256-10, ReLU; some lessons add hidden layers of 256)",
    "ioffe": "a 784-100-100-100-10 sigmoid network, as in Ioffe & Szegedy's MNIST experiment",
}


def networks_caption() -> str:
    """Which lessons train which network, from LESSONS (a caption that cannot forget a lesson)."""
    parts = []
    for key, words in NETWORKS.items():
        numbers = [str(i) for i, lesson in enumerate(LESSONS, start=1) if lesson.network == key]
        if numbers:
            pages = f"page{'s' if len(numbers) > 1 else ''} {', '.join(numbers[:-1])}"
            pages = f"{pages} and {numbers[-1]}" if len(numbers) > 1 else f"page {numbers[0]}"
            parts.append(f"{pages} train{'s' if len(numbers) == 1 else ''} {words}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def page_header(title: str, tab_title: str | None = None) -> None:
    st.set_page_config(page_title=f"{tab_title or title} · BatchNorm Lab", layout="wide")
    with st.sidebar:
        try:
            st.page_link(HOME.path, label=HOME.title, icon=HOME.icon)
            for number, lesson in enumerate(LESSONS, start=1):
                st.page_link(lesson.path, label=f"{number} · {lesson.title}", icon=lesson.icon)
        except StreamlitPageNotFoundError:
            pass  # a page run on its own (as AppTest runs it) has no other pages to link to
        st.divider()
    st.title(title)
