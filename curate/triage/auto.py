"""Queues that top themselves up: retrain after every K new decisions, and append N images in
model order to each queue with fewer than M undecided, so a team never waits on the lead.

Off until an admin turns it on (Admin → Triage; setting `triage_auto`). The app server checks
every CHECK_S seconds from one background thread (`start_watcher`): it starts a training worker
when due (curate.triage.job; never trains itself) and appends queues, which is database work
only. A training worker also tops queues up right after it scores. No torch here.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, and_, func, select

from curate.settings import get_setting, set_setting
from curate.triage import store
from db.engine import reading
from db.models import Annotator, Assignment, Role, StandingDecision, Verdict

log = logging.getLogger(__name__)

SETTING = "triage_auto"
CHECK_S = 30.0  # seconds between the server's checks


@dataclass(frozen=True)
class AutoSettings:
    enabled: bool = False
    retrain_every: int = 1000  # K: new decided images before the next training
    top_up_below: int = 200  # M: a queue with fewer undecided images than this gets more
    top_up_by: int = 1000  # N: images appended to such a queue
    overlap: float = 0.05  # as `curate assign --overlap`
    explore: float = 0.1  # as `curate assign --explore`

    def __post_init__(self):
        if not (1 <= self.retrain_every <= 1_000_000 and 0 <= self.top_up_below <= 1_000_000
                and 1 <= self.top_up_by <= 100_000 and 0 <= self.overlap <= 1
                and 0 <= self.explore <= 1):
            raise ValueError("retrain after 1–1,000,000 decisions, top up below 0–1,000,000 by "
                             "1–100,000 images; overlap and explore are fractions")


def settings(engine: Engine) -> AutoSettings:
    """The admin's choice (the defaults, switched off, when unset or unreadable)."""
    raw = get_setting(engine, SETTING, None)
    if not isinstance(raw, dict):
        return AutoSettings()
    try:
        return AutoSettings(**{k: type(getattr(AutoSettings(), k))(v) for k, v in raw.items()
                               if k in AutoSettings.__dataclass_fields__})
    except (TypeError, ValueError, OverflowError):
        return AutoSettings()


def save_settings(engine: Engine, s: AutoSettings) -> None:
    set_setting(engine, SETTING, asdict(s))


def decided_images(engine: Engine) -> int:
    """Images with at least one standing accept or reject."""
    sd = StandingDecision
    with reading(engine) as s:
        return int(s.scalar(select(func.count(func.distinct(sd.image_id)))
                            .where(sd.verdict.in_((Verdict.accept, Verdict.reject)))) or 0)


def undecided_left(engine: Engine) -> dict[str, tuple[int, int]]:
    """{active annotator with a queue: (queue length, images in it without their accept or
    reject)} — skipped images count as undecided."""
    a, sd = Assignment, StandingDecision
    opinion = and_(sd.image_id == a.image_id, sd.annotator_id == a.annotator_id,
                   sd.verdict.in_((Verdict.accept, Verdict.reject)))
    with reading(engine) as s:
        rows = s.execute(
            select(Annotator.name, func.count(a.id), func.count(sd.image_id))
            .join(a, a.annotator_id == Annotator.id).outerjoin(sd, opinion)
            .where(Annotator.active.is_(True), Annotator.role == Role.annotator)
            .group_by(Annotator.name)).all()
    return {name: (int(n), int(n) - int(done)) for name, n, done in rows}


def retrain_due(engine: Engine, cfg: AutoSettings) -> bool:
    info = store.latest_model(engine)
    used = info.decisions_used if info else 0
    return decided_images(engine) - used >= cfg.retrain_every


def top_up(engine: Engine, cfg: AutoSettings | None = None) -> list[str]:
    """Append `top_up_by` model-ordered images to each queue short of undecided ones; what was
    done, one line each (nothing while switched off or before the first model)."""
    from curate.assign import AssignError, assign
    cfg = cfg or settings(engine)
    if not cfg.enabled or store.latest_model(engine) is None:
        return []
    out = []
    for name, (length, left) in sorted(undecided_left(engine).items()):
        if left >= cfg.top_up_below:
            continue
        try:
            report = assign(engine, per_annotator=length + cfg.top_up_by, overlap=cfg.overlap,
                            order="model", explore=cfg.explore, annotators=[name])
        except AssignError as e:
            out.append(f"{name}: no top-up ({e})")
            continue
        out.append(f"{name}: {report.added.get(name, 0):,} images appended in model order "
                   f"({left} were left undecided)")
    return out


def check(ws, engine: Engine) -> list[str]:
    """One check (see the module doc): start a training when due, top up short queues."""
    from curate.triage import job
    cfg = settings(engine)
    if not cfg.enabled:
        return []
    out = []
    if not job.is_running(ws) and retrain_due(engine, cfg):
        if job.start(ws):
            out.append("started a triage training")
    if not job.is_running(ws):
        out += top_up(engine, cfg)
    return out


_watchers: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def start_watcher(ws, engine: Engine, every: float = CHECK_S) -> None:
    """Run `check` every `every` seconds from one daemon thread per workspace (idempotent)."""
    key = str(ws.root) + "|" + ws.url
    with _lock:
        if key in _watchers and _watchers[key].is_alive():
            return

        def loop() -> None:
            while True:
                time.sleep(every)
                try:
                    for line in check(ws, engine):
                        log.info("triage auto: %s", line)
                except Exception as e:  # a busy or absent database: the next check retries
                    log.warning("triage auto check skipped: %s", e)

        t = threading.Thread(target=loop, name="triage-auto", daemon=True)
        _watchers[key] = t
        t.start()
