"""Looks per accepted face: what each assignment round cost the team, by the order it used.

A look is an annotator's standing opinion (accept or reject; skips and undone decisions are
not looks) on an image of their queue. A round is one `curate assign` run (table
`assign_rounds`), owning the queue positions it appended (`assign_round_spans`); queue rows
older than rounds are counted as one round named "earlier". A round's accepted faces are its
images whose final verdict is accept. The limit is one look per accepted face.

No torch: the Dashboard reads this in the server process.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, func, select

from curate import verdict_sql
from db.engine import reading
from db.models import Assignment, AssignRound, AssignRoundSpan, StandingDecision, Verdict

TARGET_ACCEPTED = 2500  # faces an old_celebA export takes by default


@dataclass(frozen=True)
class Round:
    id: int | None  # None: the queue rows assigned before rounds were recorded
    created_at: dt.datetime | None
    order: str  # attributes | random | model | earlier
    model_version: int | None
    assigned: int  # queue places the round appended
    looks: int  # standing opinions on them
    accepted: int  # of its images, those whose final verdict is accept

    @property
    def looks_per_accept(self) -> float | None:
        return self.looks / self.accepted if self.accepted else None

    @property
    def label(self) -> str:
        if self.id is None:
            return "earlier"
        return f"round {self.id} ({self.order}" + (
            f", model {self.model_version})" if self.model_version else ")")


@dataclass
class LooksReport:
    rounds: list[Round] = field(default_factory=list)
    accepted_total: int = 0  # images whose final verdict is accept, in any queue or none
    target: int = TARGET_ACCEPTED

    def _sum(self, model: bool | None) -> tuple[int, int]:
        rs = [r for r in self.rounds if model is None or (r.order == "model") == model]
        return sum(r.looks for r in rs), sum(r.accepted for r in rs)

    def per_accept(self, model: bool | None = None) -> float | None:
        """Looks per accepted face over the model's rounds (True), the others (False) or all."""
        looks, accepted = self._sum(model)
        return looks / accepted if accepted else None

    @property
    def current_rate(self) -> float | None:
        """Looks per accepted face of the newest round that has an accepted face."""
        for r in reversed(self.rounds):
            if r.accepted and r.id is not None:
                return r.looks_per_accept
        return self.per_accept()

    @property
    def projected_looks_left(self) -> int | None:
        """Looks still needed to reach `target` accepted faces at the current rate."""
        left = max(0, self.target - self.accepted_total)
        rate = self.current_rate
        if not left:
            return 0
        return None if rate is None else int(round(left * rate))

    def summary(self) -> str:
        if not self.rounds:
            return "no queues yet: looks per accepted face start with the first `curate assign`"
        lines = ["looks per accepted face (the limit is 1.00):"]
        for r in self.rounds:
            lpa = r.looks_per_accept
            lines.append(f"  {r.label}: {r.looks:,} looks, {r.accepted:,} accepted"
                         + (f", {lpa:.2f} looks each" if lpa else ""))
        for name, which in (("model order", True), ("before the model", False), ("overall", None)):
            v = self.per_accept(which)
            if v is not None:
                lines.append(f"  {name}: {v:.2f}")
        left = self.projected_looks_left
        lines.append(f"{self.accepted_total:,} of {self.target:,} accepted faces"
                     + ("" if left is None else f"; about {left:,} more looks at the current rate"))
        return "\n".join(lines)


def looks_report(engine: Engine, target: int = TARGET_ACCEPTED) -> LooksReport:
    """Looks and accepted faces per assignment round (see the module doc)."""
    sd, a, sp = StandingDecision, Assignment, AssignRoundSpan
    opinion = sd.verdict.in_((Verdict.accept, Verdict.reject))
    accepted_ids = verdict_sql.matching_ids(verdict_sql.Wanted(verdict="accept"), ordered=False)
    in_span = and_(a.annotator_id == sp.annotator_id, a.position >= sp.first_position,
                   a.position < sp.end_position)
    with reading(engine) as s:
        verdict_sql.whole_table_read(s)
        meta = s.execute(select(AssignRound.id, AssignRound.created_at, AssignRound.order_name,
                                AssignRound.model_version).order_by(AssignRound.id)).all()
        assigned = dict(s.execute(select(sp.round_id, func.sum(sp.end_position - sp.first_position))
                                  .group_by(sp.round_id)).all())
        looks = dict(s.execute(
            select(sp.round_id, func.count()).select_from(sp).join(a, in_span)
            .join(sd, and_(sd.image_id == a.image_id, sd.annotator_id == a.annotator_id))
            .where(opinion).group_by(sp.round_id)).all())
        accepted = dict(s.execute(
            select(sp.round_id, func.count(func.distinct(a.image_id))).select_from(sp)
            .join(a, in_span).where(a.image_id.in_(accepted_ids)).group_by(sp.round_id)).all())
        total_rows = s.scalar(select(func.count()).select_from(a)) or 0
        total_looks = s.scalar(select(func.count()).select_from(a).join(
            sd, and_(sd.image_id == a.image_id, sd.annotator_id == a.annotator_id)).where(opinion)) or 0
        accepted_queued = s.scalar(select(func.count(func.distinct(a.image_id)))
                                   .where(a.image_id.in_(accepted_ids))) or 0
        accepted_total = s.scalar(select(func.count()).select_from(accepted_ids.subquery())) or 0
    rounds = [Round(r.id, r.created_at, r.order_name, r.model_version, int(assigned.get(r.id, 0)),
                    int(looks.get(r.id, 0)), int(accepted.get(r.id, 0))) for r in meta]
    earlier_rows = total_rows - sum(r.assigned for r in rounds)
    if earlier_rows > 0:
        # Images accepted in a recorded round are not counted again here (a late hire's copies
        # can sit in two rounds; each round counts its own).
        in_rounds = sum(r.accepted for r in rounds)
        rounds.insert(0, Round(None, None, "earlier", None, earlier_rows,
                               max(0, total_looks - sum(r.looks for r in rounds)),
                               max(0, accepted_queued - in_rounds)))
    return LooksReport(rounds, int(accepted_total), target)
