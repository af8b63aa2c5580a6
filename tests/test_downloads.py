"""CSV downloads are made when clicked, not at every redraw, and hold the table exactly."""

import io

import numpy as np
import pandas as pd

from lab_ui import downloads


def test_the_csv_is_made_only_when_clicked_and_holds_the_table(monkeypatch):
    offered = {}
    monkeypatch.setattr(downloads.st, "download_button", lambda label, data, **kw: offered.update(data=data, **kw))
    table = pd.DataFrame({"step": [0, 1, 2], "loss": [2.3, np.nan, 0.1], "run": ["bn", "plain", "bn"]})
    made = []

    def make() -> pd.DataFrame:
        made.append(True)
        return table

    downloads.csv_download(make, "train_history.csv", "⬇ history (CSV)")
    assert not made and offered["file_name"] == "train_history.csv" and offered["mime"] == "text/csv"
    read_back = pd.read_csv(io.BytesIO(offered["data"]()))
    assert made == [True]
    pd.testing.assert_frame_equal(read_back, table, check_dtype=False)
