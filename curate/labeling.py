"""The Label page's domain logic: an annotator's queue, the cursor and progress.

Writes go through `curate.presses` (append-only); this module only reads the queue and
decides where the cursor goes:
- an image is *decided* when the annotator's newest row on it is not `undo` (a skip counts as
  decided for the cursor; it can be revisited);
- resume = the first undecided position of the queue; after a decision the cursor moves to the
  next undecided position after the current one (wrapping to the first one left);
- undo = append an `undo` row withdrawing a named decision (the panel's Backspace), and go back there.

A key press costs two small indexed queries (the write, and the items around the cursor,
`around`), both on Core connections (the ORM's per-statement work cost more than the queries);
the progress figures and pace are updated in memory (`Progress.after`) and re-read from the
database only now and then (the page does it every PROGRESS_REFRESH decisions).

Writes wait their turn (`db.engine.write_turn`); a busy database is retried by the caller
(`curate.app.common.db_call`, or `db.engine.retry_busy` in a script), not here. The panel's
protocol prepares the next display images (`curate.display`) PREFETCH ahead of what it sends,
so the next image is ready before the key is pressed.
"""
from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass, replace

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import aliased

from curate import display, presses
from db.engine import reading, write_turn
from db.models import Assignment, Decision, Image, Source, StandingDecision, Verdict

PREFETCH = 4  # images prepared ahead of those the panel is sent
PACE_WINDOW = 200  # recent decisions whose median time sets the pace
PACE_MIN = 5  # decisions with a time before a pace is shown
MIN_LOOK_S = 0.15  # a decision key counts only this long after the image was painted
GRID_LOOK_S = 0.10  # a grid tile's share of the page's look time (curate.grid.LOOK_MS_PER_TILE)
PROGRESS_REFRESH = 50  # decisions between two full progress reads on the Label page
UNDO_LOOKBACK = 50  # newest decision rows searched for the one to undo before a full query


# --- the queue ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One queue position with the annotator's standing decision on it (verdict None: undecided)."""

    position: int
    image_id: int
    path: str  # absolute file path
    name: str  # "source/relpath", for people
    is_overlap: bool
    verdict: str | None = None
    rule: str | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None  # of the standing decision
    seconds: float | None = None  # of the standing decision
    row: str = ""  # handle (presses.handle) of the newest row, an undo too; "" none yet


# Statements are built once, with bound parameters: building a correlated subquery per key
# press cost as much CPU as running it. Parameters: annotator_id, and start/count/after.
def _newest():
    """Correlated subquery: id of the annotator's newest decision on the assignment's image."""
    d2 = aliased(Decision, name="d2")
    return (select(func.max(d2.id))
            .where(d2.annotator_id == bindparam("annotator_id"), d2.image_id == Assignment.image_id)
            .correlate(Assignment).scalar_subquery())


@functools.cache
def _items_stmt():
    return (select(Assignment.position, Assignment.image_id, Assignment.is_overlap, Source.root,
                   Source.name, Image.relpath, Image.content_hash, Decision.verdict, Decision.rule,
                   Decision.tags, Decision.note, Decision.seconds, Decision.id.label("row_id"),
                   Decision.press_id)
            .join(Image, Image.id == Assignment.image_id)
            .join(Source, Source.id == Image.source_id)
            .outerjoin(Decision, Decision.id == _newest())
            .where(Assignment.annotator_id == bindparam("annotator_id"))
            .order_by(Assignment.position))


@functools.cache
def _items_from_stmt():
    return _items_stmt().where(Assignment.position >= bindparam("start")).limit(bindparam("count"))


@functools.cache
def _items_at_stmt():
    return _items_stmt().where(Assignment.position.in_(bindparam("positions", expanding=True)))


@functools.cache
def _skipped_stmt():
    return (_items_stmt().where(Decision.verdict == Verdict.skip)
            .where(Assignment.position > bindparam("after")).limit(bindparam("count")))


@functools.cache
def _undecided_stmt():
    return (select(Assignment.position)
            .outerjoin(Decision, Decision.id == _newest())
            .where(Assignment.annotator_id == bindparam("annotator_id"),
                   Assignment.position > bindparam("after"),
                   Decision.id.is_(None) | (Decision.verdict == Verdict.undo))
            .order_by(Assignment.position).limit(bindparam("count")))


def _item(row) -> Item:
    verdict = row.verdict.value if row.verdict is not None else None
    if verdict == Verdict.undo.value:
        verdict = None
    return Item(position=row.position, image_id=row.image_id,
                path=display.ImagePath.of(row.root, row.relpath, row.content_hash),
                name=f"{row.name}/{row.relpath}", is_overlap=bool(row.is_overlap), verdict=verdict,
                rule=row.rule if verdict else None, tags=tuple(row.tags or ()) if verdict else (),
                note=row.note if verdict else None, seconds=row.seconds if verdict else None,
                row="" if row.row_id is None else presses.handle(row.row_id, row.press_id))


def queue_length(engine: Engine, annotator_id: int) -> int:
    """How many images the annotator's queue holds."""
    with reading(engine) as s:
        return s.scalar(select(func.count()).select_from(Assignment)
                        .where(Assignment.annotator_id == annotator_id)) or 0


def items(engine: Engine, annotator_id: int, start: int, count: int = 1) -> list[Item]:
    """Up to `count` (default 1) queue items from position `start` on, in queue order."""
    params = dict(annotator_id=annotator_id, start=start, count=count)
    with engine.connect() as s:
        return [_item(r) for r in s.execute(_items_from_stmt(), params)]


def items_at(engine: Engine, annotator_id: int, positions) -> list[Item]:
    """The queue items at these positions (those that exist), in queue order."""
    wanted = sorted({p for p in positions if p >= 0})
    if not wanted:
        return []
    with engine.connect() as s:
        return [_item(r) for r in s.execute(_items_at_stmt(),
                                            dict(annotator_id=annotator_id, positions=wanted))]


def undecided_after(engine: Engine, annotator_id: int, after: int, count: int) -> list[int]:
    """Up to `count` undecided positions after `after`, in queue order."""
    with engine.connect() as s:
        return list(s.scalars(_undecided_stmt(),
                              dict(annotator_id=annotator_id, after=after, count=count)))


def skipped(engine: Engine, annotator_id: int, after: int = -1, count: int = 200) -> list[Item]:
    """Up to `count` (default 200) items whose standing verdict is a skip, after position `after`."""
    with engine.connect() as s:
        return [_item(r) for r in s.execute(_skipped_stmt(), dict(
            annotator_id=annotator_id, after=after, count=count))]


def around(engine: Engine, annotator_id: int, cursor: int,
           undecided: int) -> tuple[dict[int, Item], list[int], bool]:
    """What the Label panel needs after a key press, in one query when the annotator works
    forward: the items from `cursor - 1` on (by position), the first `undecided` undecided
    positions after `cursor`, and whether those are all there are. When the positions read
    hold too few undecided ones (going back over a decided stretch), they are looked up."""
    span = undecided + 3
    got = {i.position: i for i in items(engine, annotator_id, max(cursor - 1, 0), span)}
    ahead = [p for p, i in sorted(got.items()) if p > cursor and i.verdict is None][:undecided]
    at_end = len(got) < span  # the queue ends within the positions read
    if len(ahead) < undecided and not at_end:
        ahead = undecided_after(engine, annotator_id, cursor, undecided)
        missing = set(ahead) - got.keys()
        got.update((i.position, i) for i in items_at(engine, annotator_id, missing))
        at_end = False
    return got, ahead, at_end or len(ahead) < undecided


def first_undecided(engine: Engine, annotator_id: int, after: int = -1) -> int | None:
    """The first undecided position after `after` (default: from the start), or None."""
    got = undecided_after(engine, annotator_id, after, 1)
    return got[0] if got else None


def resume_position(engine: Engine, annotator_id: int) -> int:
    """Where the annotator picks up: the first undecided position (the queue length when done)."""
    pos = first_undecided(engine, annotator_id)
    return queue_length(engine, annotator_id) if pos is None else pos


def decide_pressed(engine: Engine, annotator_id: int, image_id: int, position: int,
                   pressed: presses.Pressed) -> presses.Recorded:
    """Record a key press on the image the annotator had on screen at `position`, once the
    write turn is ours: refused (DecisionError) unless that image is theirs at that position
    and was shown at least MIN_LOOK_S before the key (a grid tile: GRID_LOOK_S, its share of
    the page's look time) (and, with `pressed.seen`, nothing was
    decided there since the client heard); a resend (its press id) writes nothing."""
    floor = GRID_LOOK_S if pressed.via == "grid" else MIN_LOOK_S
    with write_turn(engine):
        return presses.record_pressed(engine, annotator_id, image_id, position, pressed,
                                        min_seconds=floor)


def decide_pressed_together(engine: Engine, annotator_id: int,
                            pressed: list[tuple[int, int, presses.Pressed]]) -> list:
    """The tiles of one grid page — (image id, queue position, press) each — in one write turn
    and one transaction, each checked as by `decide_pressed`; a Recorded or the DecisionError
    that refused it, per press."""
    floors = {GRID_LOOK_S if p.via == "grid" else MIN_LOOK_S for _, _, p in pressed}
    if len(floors) != 1:
        raise ValueError("presses decided together come from one view")
    with write_turn(engine):
        return presses.record_pressed_together(engine, annotator_id, pressed,
                                               min_seconds=floors.pop())


def undo_pressed(engine: Engine, annotator_id: int, image_id: int, position: int, target: str,
                 press_id: str | None = None) -> presses.Recorded:
    """Withdraw the decision named `target` (its handle) on the image at `position`, once the
    write turn is ours (see presses.undo_pressed)."""
    with write_turn(engine):
        return presses.undo_pressed(engine, annotator_id, image_id, position, target, press_id)


def recent(engine: Engine, annotator_id: int, count: int = 8) -> list[Item]:
    """The annotator's `count` (default 8) most recent decisions that still stand, oldest first.
    Walks the annotator's newest UNDO_LOOKBACK rows (an image's first row seen is its newest)."""
    rows_q = (select(Decision.image_id, Decision.verdict)
              .where(Decision.annotator_id == annotator_id)
              .order_by(Decision.id.desc()).limit(UNDO_LOOKBACK))
    with reading(engine) as s:
        seen: dict[int, bool] = {}
        for r in s.execute(rows_q):
            seen.setdefault(r.image_id, r.verdict is not Verdict.undo)
        standing = [i for i, ok in seen.items() if ok][:count]
        if not standing:
            return []
        positions = dict(s.execute(select(Assignment.image_id, Assignment.position).where(
            Assignment.annotator_id == annotator_id, Assignment.image_id.in_(standing))).all())
    got = {i.image_id: i for i in items_at(engine, annotator_id, positions.values())}
    return [got[i] for i in reversed(standing) if i in got]


# --- progress -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    total: int  # queue length
    decided: int  # accept + reject + skip
    accepted: int
    rejected: int
    skipped: int
    median_seconds: float | None  # over the last PACE_WINDOW decisions; None under PACE_MIN
    last_hour: int  # of the last PACE_WINDOW decisions, those recorded in the last 60 minutes
    # The newest PACE_WINDOW decisions (undos left out) as (seconds or None, UTC epoch), newest
    # first: what the pace is computed from, kept up in memory by `after`.
    recent: tuple[tuple[float | None, float], ...] = ()

    @property
    def left(self) -> int:
        return self.total - self.decided

    @property
    def per_hour(self) -> float | None:
        """Decisions per hour at the annotator's working pace (median time per decision)."""
        return 3600.0 / self.median_seconds if self.median_seconds else None

    @property
    def seconds_left(self) -> float | None:
        return self.left * self.median_seconds if self.median_seconds else None

    def after(self, old: str | None, new: str | None, seconds: float | None = None) -> Progress:
        """These figures once an item's standing verdict went from `old` to `new` (None:
        undecided; a new decision taking `seconds`), without asking the database: the counts
        move, and a new decision joins the pace window as the database would count it."""
        counts = {"accept": self.accepted, "reject": self.rejected, "skip": self.skipped}
        if old in counts:
            counts[old] -= 1
        if new in counts:
            counts[new] += 1
        recent = self.recent
        if new is not None:
            recent = ((seconds, decisions_clock()), *recent[:PACE_WINDOW - 1])
        median, last_hour = _pace(recent)
        return replace(self, accepted=counts["accept"], rejected=counts["reject"],
                       skipped=counts["skip"], decided=sum(counts.values()),
                       median_seconds=median, last_hour=last_hour, recent=recent)


@functools.cache
def _progress_stmts():
    me = bindparam("annotator_id")
    counts = (select(StandingDecision.verdict, func.count())
              .where(StandingDecision.annotator_id == me).group_by(StandingDecision.verdict))
    recent = (select(Decision.seconds, Decision.created_at)
              .where(Decision.annotator_id == me, Decision.verdict != Verdict.undo)
              .order_by(Decision.id.desc()).limit(PACE_WINDOW))
    total = select(func.count()).select_from(Assignment).where(Assignment.annotator_id == me)
    return total, counts, recent


def progress(engine: Engine, annotator_id: int) -> Progress:
    """Counts of the annotator's standing verdicts on their queue, and their pace."""
    total_q, counts_q, recent_q = _progress_stmts()
    params = dict(annotator_id=annotator_id)
    with reading(engine) as s:
        total = s.scalar(total_q, params) or 0
        counts = {v.value: n for v, n in s.execute(counts_q, params)}
        recent = tuple((r.seconds, _epoch(r.created_at) if r.created_at else 0.0)
                       for r in s.execute(recent_q, params))
    median, last_hour = _pace(recent)
    acc, rej, skp = counts.get("accept", 0), counts.get("reject", 0), counts.get("skip", 0)
    return Progress(total=total, decided=acc + rej + skp, accepted=acc, rejected=rej, skipped=skp,
                    median_seconds=median, last_hour=last_hour, recent=recent)


@functools.cache
def _rows_after_stmt():
    return (select(func.count(), func.max(Decision.id))
            .where(Decision.annotator_id == bindparam("annotator_id"),
                   Decision.id > bindparam("after")))


def rows_after(engine: Engine, annotator_id: int, after: int) -> tuple[int, int | None]:
    """(how many decision rows — undos too — the annotator has written after row id `after`,
    the newest one's id): when that is more than this session wrote, another tab or device
    decided, and the progress is read again. An index range: cheap at any queue size."""
    with engine.connect() as c:
        n, top = c.execute(_rows_after_stmt(), dict(annotator_id=annotator_id, after=after)).one()
    return n or 0, top


def _pace(recent) -> tuple[float | None, int]:
    """(median seconds, how many in the last hour) of (seconds, epoch) pairs."""
    secs = [sec for sec, _at in recent if sec is not None and sec > 0]
    hour_ago = decisions_clock() - 3600
    last_hour = sum(1 for _sec, at in recent if at >= hour_ago)
    return (statistics.median(secs) if len(secs) >= PACE_MIN else None), last_hour


def decisions_clock() -> float:
    """Now, as a UTC epoch (created_at is stored as naive UTC)."""
    return time.time()


def _epoch(naive_utc) -> float:
    import datetime as dt
    return naive_utc.replace(tzinfo=dt.timezone.utc).timestamp()


def format_duration(seconds: float | None) -> str:
    """'3 h 05 min', '12 min', '40 s'; '—' when unknown."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
