"""`curate labels`: every decision and adjudication as one table (pandas), for analysis elsewhere.

One row per recorded row — undos included, nothing dropped — with the image's source, path
and hash, who decided (name and role), verdict, failed rule, tags, note, seconds taken and
time, which view decided (`via`: `single` or `grid`; empty for adjudications) and the browser's
press id (empty for rows written without one); `standing` marks the rows that count now (newest per image and annotator, or per image
for adjudications). CSV joins tags with ";"; Parquet keeps them as a list.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from db.engine import reading
from db.models import Adjudication, Annotator, Decision, Image, Source
from trainers.common.fsutil import atomic_write_bytes

COLUMNS = ["kind", "id", "image_id", "source", "relpath", "content_hash", "annotator", "role",
           "verdict", "rule", "tags", "note", "seconds", "created_at", "via", "press_id", "standing"]


def labels_frame(engine: Engine) -> pd.DataFrame:
    """All decisions then all adjudications, each by id (the order they were made)."""
    rows = []
    with reading(engine) as s:
        newest_d = set(s.scalars(select(func.max(Decision.id))
                                 .group_by(Decision.image_id, Decision.annotator_id)))
        newest_a = set(s.scalars(select(func.max(Adjudication.id)).group_by(Adjudication.image_id)))
        for kind, model, who, newest in (("decision", Decision, Decision.annotator_id, newest_d),
                                         ("adjudication", Adjudication, Adjudication.admin_id, newest_a)):
            q = (select(model, Image.relpath, Image.content_hash, Source.name, Annotator.name,
                        Annotator.role)
                 .join(Image, model.image_id == Image.id)
                 .join(Source, Image.source_id == Source.id)
                 .join(Annotator, who == Annotator.id)
                 .order_by(model.id))
            for r, rel, h, src, name, role in s.execute(q):
                rows.append({
                    "kind": kind, "id": r.id, "image_id": r.image_id, "source": src,
                    "relpath": rel, "content_hash": h, "annotator": name, "role": role.value,
                    "verdict": r.verdict.value, "rule": r.rule, "tags": list(r.tags or []),
                    "note": r.note, "seconds": getattr(r, "seconds", None),
                    "created_at": r.created_at, "via": getattr(r, "via", None),
                    "press_id": r.press_id, "standing": r.id in newest,
                })
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["seconds"] = df["seconds"].astype("float64")
    df["created_at"] = pd.to_datetime(df["created_at"])
    return df


def write_labels(engine: Engine, path: str | os.PathLike) -> int:
    """Write the table to .csv or .parquet (chosen by the suffix); returns the row count."""
    path = Path(path).expanduser().resolve()
    df = labels_frame(engine)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        out = df.assign(tags=df["tags"].map(";".join))
        data = out.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%f").encode("utf-8")
    elif suffix in (".parquet", ".pq"):
        import io
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        data = buf.getvalue()
    else:
        raise ValueError(f"{path.name}: the labels file must end in .csv or .parquet")
    atomic_write_bytes(path, data)
    return len(df)
