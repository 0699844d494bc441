"""Where triage models and scores are kept, read without torch (the app server uses this).

- Model files: `<workspace>/triage/models/<version>.pt` (see `curate.triage.model`), and a row
  in `triage_models` with what the Dashboard shows: when, from how many decisions, the held-out
  figures.
- Scores: one `triage_scores` row per image, the newest model's, upserted in chunks so that
  labelling never waits long for the write turn.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from curate.workspace import Workspace
from db.engine import reading, writing, writing_connection
from db.models import TriageModel, TriageScore

SCORE_CHUNK = 4000  # score rows per write transaction (7 values each: under SQLite's 32,766)


def triage_dir(ws: Workspace) -> Path:
    return ws.root / "triage"


def models_dir(ws: Workspace) -> Path:
    return triage_dir(ws) / "models"


@dataclass(frozen=True)
class ModelInfo:
    version: int
    trained_at: dt.datetime
    path: str  # relative to the workspace
    decisions_used: int
    seed: int
    device: str
    figures: dict
    scored: int  # images whose score is this model's

    @property
    def auc(self) -> float | None:
        value = self.figures.get("auc") if isinstance(self.figures, dict) else None
        return value if isinstance(value, (int, float)) else None


def next_version(engine: Engine) -> int:
    with reading(engine) as s:
        return int(s.scalar(select(func.coalesce(func.max(TriageModel.version), 0)))) + 1


def record_model(engine: Engine, *, version: int, path: str, decisions_used: int, seed: int,
                 device: str, figures: dict) -> None:
    with writing(engine) as s:
        s.add(TriageModel(version=version, trained_at=_now(), path=path,
                          decisions_used=decisions_used, seed=seed, device=device,
                          figures=figures))


def latest_model(engine: Engine) -> ModelInfo | None:
    """The newest model's row, with how many images carry its scores; None before the first."""
    with reading(engine) as s:
        row = s.scalar(select(TriageModel).order_by(TriageModel.version.desc()).limit(1))
        if row is None:
            return None
        scored = s.scalar(select(func.count()).select_from(TriageScore)
                          .where(TriageScore.model_version == row.version))
        return ModelInfo(row.version, row.trained_at, row.path, row.decisions_used, row.seed,
                         row.device, dict(row.figures or {}), int(scored or 0))


def write_scores(engine: Engine, version: int, rows: list[dict]) -> None:
    """Upsert score rows (image_id, p_accept, rule, p_rule, tags) as `version`'s, in chunks."""
    now = _now()
    dialect = engine.dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for i in range(0, len(rows), SCORE_CHUNK):
        chunk = [dict(r, model_version=version, scored_at=now) for r in rows[i:i + SCORE_CHUNK]]
        stmt = make(TriageScore.__table__).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["image_id"],
            set_={c: stmt.excluded[c] for c in ("model_version", "p_accept", "rule", "p_rule",
                                                  "tags", "scored_at")})
        with writing_connection(engine) as c:
            c.execute(stmt)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
