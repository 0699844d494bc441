"""curate labels: every decision and adjudication, CSV and Parquet."""
from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from curate.cli import main
from curate.export.labels import labels_frame, write_labels

def test_frame_has_every_row(labelled):
    df = labels_frame(labelled.engine)
    assert Counter(df["kind"]) == {"decision": 11, "adjudication": 2}
    undone = df[(df["relpath"] == "000007.jpg")]
    assert list(undone["verdict"]) == ["accept", "undo"] and list(undone["standing"]) == [False, True]
    two = df[df["relpath"] == "000006.jpg"].iloc[0]
    assert list(two["tags"]) == ["two_faces"] and two["annotator"] == "ana"
    adj = df[df["kind"] == "adjudication"]
    assert set(adj["annotator"]) == {"admin"} and set(adj["role"]) == {"admin"}
    assert df["created_at"].notna().all()

@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write(labelled, suffix):
    path = labelled.tmp / f"labels{suffix}"
    assert write_labels(labelled.engine, path) == 13
    df = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert len(df) == 13 and "rule" in df and "seconds" in df
    with pytest.raises(ValueError, match="must end in .csv or .parquet"):
        write_labels(labelled.engine, labelled.tmp / "labels.xlsx")

def test_cli_bad_suffix(tmp_path, capsys):
    assert main(["--workspace", str(tmp_path / "ws"), "labels", str(tmp_path / "l.txt")]) == 2
    assert "must end in .csv or .parquet" in capsys.readouterr().err

