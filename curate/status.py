"""What the workspace holds: counts a lead checks at a glance (`curate status`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from db import migrate
from db.engine import reading
from db.models import Annotator, Assignment, Decision, Export, Image, IngestProblem, Source


@dataclass
class Status:
    database: str
    revision: str | None
    sources: list[dict] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)  # role -> count
    assigned: int = 0
    decisions: int = 0
    exports: int = 0

    def summary(self) -> str:
        lines = [f"database: {self.database} (schema {self.revision})"]
        if not self.sources:
            lines.append("no sources yet: `curate ingest DIR --source NAME`")
        for s in self.sources:
            probs = ", ".join(f"{n} {k}" for k, n in sorted(s["problems"].items())) or "no problems"
            lines.append(f"source {s['name']}: {s['images']} images ({s['missing']} missing) "
                         f"at {s['root']}; {probs}")
        users = ", ".join(f"{n} {r}" for r, n in sorted(self.users.items())) or "none"
        lines.append(f"users: {users}")
        lines.append(f"queue items: {self.assigned}; decision rows: {self.decisions}; "
                     f"exports: {self.exports}")
        return "\n".join(lines)


def status(engine: Engine) -> Status:
    """Counts per source (images, missing, ingest problems by kind), users, queues, decisions."""
    st = Status(database=engine.url.render_as_string(hide_password=True),
                revision=migrate.current_revision(engine))
    with reading(engine) as s:
        images = dict(s.execute(select(Image.source_id, func.count()).group_by(Image.source_id)).all())
        missing = dict(s.execute(select(Image.source_id, func.count()).where(
            Image.missing_since.is_not(None)).group_by(Image.source_id)).all())
        problems: dict[int, dict[str, int]] = {}
        for sid, kind, n in s.execute(select(IngestProblem.source_id, IngestProblem.kind, func.count())
                                      .group_by(IngestProblem.source_id, IngestProblem.kind)):
            problems.setdefault(sid, {})[kind] = n
        for src in s.scalars(select(Source).order_by(Source.id)):
            st.sources.append(dict(name=src.name, root=src.root, images=images.get(src.id, 0),
                                   missing=missing.get(src.id, 0), problems=problems.get(src.id, {})))
        st.users = {r.value: n for r, n in s.execute(
            select(Annotator.role, func.count()).group_by(Annotator.role)).all()}
        st.assigned = s.scalar(select(func.count()).select_from(Assignment)) or 0
        st.decisions = s.scalar(select(func.count()).select_from(Decision)) or 0
        st.exports = s.scalar(select(func.count()).select_from(Export)) or 0
    return st


def problems(engine: Engine, kind: str | None = None) -> list[tuple[str, str, str, str]]:
    """(source, file, kind, reason) for every recorded ingest problem."""
    with reading(engine) as s:
        q = select(Source.name, IngestProblem.relpath, IngestProblem.kind, IngestProblem.reason).join(
            Source, Source.id == IngestProblem.source_id).order_by(IngestProblem.id)
        if kind:
            q = q.where(IngestProblem.kind == kind)
        return [tuple(r) for r in s.execute(q)]
