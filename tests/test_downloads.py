"""CSV downloads are made when clicked, not at every redraw, from the run as the server holds it then, and
hold the table exactly."""

import io

import numpy as np
import pandas as pd
import pytest

from bn_demo.serving.jobs import Job
from lab_ui import downloads


@pytest.fixture
def offered(monkeypatch):
    buttons = {}
    monkeypatch.setattr(downloads.st, "download_button", lambda label, data, **kw: buttons.update(data=data, **kw))
    return buttons


def test_the_csv_is_made_only_when_clicked_and_holds_the_table(offered):
    table = pd.DataFrame({"step": [0, 1, 2], "loss": [2.3, np.nan, 0.1], "run": ["bn", "plain", "bn"]})
    asked = []

    def table_of(results) -> pd.DataFrame:
        asked.append(results)
        return table

    downloads.csv_download(table_of, "train_history.csv", "⬇ history (CSV)", source=lambda: "the results")
    assert not asked and offered["file_name"] == "train_history.csv" and offered["mime"] == "text/csv"
    read_back = pd.read_csv(io.BytesIO(offered["data"]()))
    assert asked == ["the results"]
    pd.testing.assert_frame_equal(read_back, table, check_dtype=False)


def test_a_download_reads_the_drawn_run_when_clicked_and_keeps_no_result(offered):
    """A session keeps its download buttons as long as Streamlit keeps the session (after the tab closed,
    too): the button holds the job, whose result the server may release and read back from its store."""
    job = Job("key", None, total=0)
    job.result = "trained"
    job.close()  # finished
    with downloads.results_from(job.peek):  # as the live panel draws
        downloads.csv_download(lambda results: pd.DataFrame({"result": [results]}), "runs.csv")
    job.release(lambda: "read back from the store")
    assert pd.read_csv(io.BytesIO(offered["data"]()))["result"].tolist() == ["read back from the store"]


def test_outside_the_live_panel_a_download_needs_its_source(offered):
    with pytest.raises(RuntimeError, match="source"):
        downloads.csv_download(lambda results: results, "runs.csv")
