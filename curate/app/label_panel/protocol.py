"""The Label panel's server side: apply what the browser sent, and say what it should show.

The browser (panel.js) sends one message, its component state `msg`:
- `cursor`: the queue position it shows (None before it has been told where to start);
- `outbox`: every press not yet confirmed, oldest first — `{cid, kind: "decide"|"undo",
  image_id, position, verdict, rule, tags, note, seconds}` (an undo names its `target`, the
  press it withdraws). It resends the whole outbox until each `cid` has an outcome;
- `have`: the image ids whose pictures it holds; `zoom`: an image id to send at full size;
  `jump`: `{seq, to: "first"|"skipped"}`; `skipped_open`, `seed` (send the recent decisions).

`respond` applies the outbox in order through `curate.labeling` (which checks each press
against the queue position and recognises a resend), then returns the panel's data: the items
around the cursor (pictures only for those the browser lacks), the outcome of every press,
progress, the skipped list. Nothing here draws: the page mounts the component with this data.
"""
from __future__ import annotations

import base64
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Engine

from curate import display, labeling
from curate.app.common import BUSY, db_attempt
from curate.decisions import DecisionError, Pressed
from curate.imaging import BadImage
from curate.rules import RULES, TAGS

AHEAD = 6  # undecided images sent ahead of the cursor (with the previous and next one)
FULL_SIDE = 8192  # px: "full resolution" for Z (an original is never upscaled)
OUTCOMES_KEPT = 500  # outcomes remembered per browser session
SKIPPED_SHOWN = 200  # entries of the skipped list
FLASH = {BUSY: "The database is busy; your last decisions are kept here and sent again.",
         "unreachable": "The database could not be reached; your last decisions are kept here "
                        "and sent again."}


@dataclass
class Memory:
    """What the server keeps per browser session (in st.session_state)."""
    start: int | None = None  # resume position, read once
    outcomes: OrderedDict = field(default_factory=OrderedDict)  # cid → {"ok", "msg"}
    progress: labeling.Progress | None = None
    since_read: int = 0  # decisions since the counts were read from the database
    skipped: list | None = None  # cached skipped list; None: read again
    jumps: dict = field(default_factory=dict)  # jump seq → position it resolved to


def as_pressed(m: dict) -> Pressed:
    seconds = m.get("seconds")
    return Pressed(str(m.get("verdict") or ""), m.get("rule") or None,
                   tuple(m.get("tags") or ()), m.get("note") or None,
                   None if seconds is None else round(float(seconds), 3))


def _apply_one(engine: Engine, user_id: int, m: dict):
    image_id, position = int(m["image_id"]), int(m["position"])
    if m.get("kind") == "undo":
        return labeling.undo_pressed(engine, user_id, image_id, position, as_pressed(m["target"]))
    return labeling.decide_pressed(engine, user_id, image_id, position, as_pressed(m))


def apply_outbox(engine: Engine, user_id: int, mem: Memory, outbox: list,
                 apply_one=_apply_one) -> str | None:
    """Record the presses not yet applied, in order, each through `apply_one(engine, user_id,
    message)` (default: a Label press; the Review panel passes its own); returns a flash text
    when the database stayed busy (the rest then wait for the resend, so the order is kept)."""
    for m in outbox or ():
        cid = str(m.get("cid") or "")
        if not cid or cid in mem.outcomes:
            continue  # applied already in this session: the browser had not heard yet
        try:
            got, failure = db_attempt(apply_one, engine, user_id, m)
        except (DecisionError, KeyError, TypeError, ValueError) as e:
            mem.outcomes[cid] = {"ok": False, "msg": f"Not recorded: {e}"}
            continue
        if failure is not None:
            return FLASH[failure]
        mem.outcomes[cid] = {"ok": True, "dup": got.duplicate}
        if not got.duplicate and apply_one is _apply_one:  # the Label counts and skipped list
            new = None if m.get("kind") == "undo" else m.get("verdict")
            _progressed(mem, got.before, new, as_pressed(m).seconds)
        while len(mem.outcomes) > OUTCOMES_KEPT:
            mem.outcomes.popitem(last=False)
    return None


def _progressed(mem: Memory, old: str | None, new: str | None, seconds: float | None) -> None:
    mem.since_read += 1
    if mem.progress is not None and mem.since_read % labeling.PROGRESS_REFRESH:
        mem.progress = mem.progress.after(old, new, seconds)
    else:
        mem.progress = None
    if "skip" in (old, new):
        mem.skipped = None


def picture(path: str, side: int) -> tuple[str | None, str | None]:
    try:
        data = display.display_image(path, side)
    except BadImage as e:
        return None, f"This image cannot be shown ({e}). You can still decide or skip it."
    return "data:image/jpeg;base64," + base64.b64encode(data).decode(), None


def _item(i: labeling.Item, send: bool) -> dict:
    out = dict(position=i.position, image_id=i.image_id, name=i.name, overlap=i.is_overlap,
               verdict=i.verdict, rule=i.rule, tags=list(i.tags), note=i.note, seconds=i.seconds)
    if send:
        out["src"], out["error"] = picture(i.path, display.DISPLAY_SIDE)
    return out


def progress_text(p: labeling.Progress) -> dict:
    """The progress line (test hook: `N of M decided · K accepted`) and the pace."""
    done = min(p.decided, p.total)
    text = f"{done:,} of {p.total:,} decided · {p.accepted:,} accepted"
    if p.skipped:
        text += f" · {p.skipped:,} skipped"
    pace = (f"{p.per_hour:,.0f} per hour at your pace · "
            f"{labeling.format_duration(p.seconds_left)} left" if p.per_hour else "")
    finished = p.total > 0 and p.accepted + p.rejected >= p.total
    return dict(text=text, pace=pace, total=p.total, decided=done, accepted=p.accepted,
                skipped=p.skipped, left=p.total - p.accepted - p.rejected, finished=finished)


def _jump(engine: Engine, user_id: int, mem: Memory, jump: dict, cursor: int) -> dict | None:
    seq = jump.get("seq")
    if seq is None:
        return None
    if seq not in mem.jumps:
        if jump.get("to") == "skipped":
            nxt = labeling.skipped(engine, user_id, cursor, 1) or labeling.skipped(engine, user_id,
                                                                                   -1, 1)
            pos = nxt[0].position if nxt else None
        else:
            pos = labeling.first_undecided(engine, user_id)
        mem.jumps = {seq: pos}  # only the newest jump matters
    return {"seq": seq, "position": mem.jumps[seq]}


def _read(engine: Engine, user_id: int, mem: Memory, msg: dict) -> dict:
    if mem.start is None:
        mem.start = labeling.resume_position(engine, user_id)
    cursor = msg.get("cursor")
    cursor = mem.start if cursor is None else max(0, int(cursor))
    if mem.progress is None:
        mem.progress = labeling.progress(engine, user_id)
        mem.since_read = 0
    near, ahead, complete = labeling.around(engine, user_id, cursor, AHEAD + labeling.PREFETCH)
    first = None
    if len(ahead) < AHEAD:  # near the end: the browser may need to wrap to the first one left
        first = labeling.first_undecided(engine, user_id)
    want = {cursor - 1, cursor, cursor + 1, *ahead[:AHEAD]} | ({first} if first is not None else set())
    if first is not None and first not in near:  # the wrap-around target, far behind
        near.update((i.position, i) for i in labeling.items_at(engine, user_id, [first]))
    got = [near[p] for p in sorted(want & near.keys())]
    have = {h for h in msg.get("have") or () if isinstance(h, int)}
    display.prefetch(near[p].path for p in ahead[AHEAD:] if p in near)
    data = dict(items=[_item(i, i.image_id not in have) for i in got],
                undecided=ahead[:AHEAD], undecided_complete=complete,
                first_undecided=first, progress=progress_text(mem.progress), start=mem.start)
    zoom = msg.get("zoom")
    if isinstance(zoom, int) and f"full:{zoom}" not in (msg.get("have") or ()):
        path = next((i.path for i in got if i.image_id == zoom), None)
        if path is not None:
            data["full"] = dict(image_id=zoom, src=picture(path, FULL_SIDE)[0])
    if msg.get("skipped_open"):
        if mem.skipped is None:
            mem.skipped = [[i.position, i.name] for i in labeling.skipped(
                engine, user_id, count=SKIPPED_SHOWN)]
        data["skipped"] = mem.skipped
    if msg.get("seed"):
        data["recent"] = [_item(i, i.image_id not in have) for i in labeling.recent(engine, user_id)]
    if msg.get("jump"):
        data["moved"] = _jump(engine, user_id, mem, msg["jump"], cursor)
    return data


def respond(engine: Engine, user_id: int, mem: Memory, msg: dict, previous: dict | None) -> dict:
    """Apply `msg`'s outbox and return the panel's data (see the module doc). When the database
    cannot be read, the previous data comes back with a calm flash, so the panel stays."""
    return answer(engine, user_id, mem, msg, previous, _apply_one, _read, engine, user_id, mem, msg)


def answer(engine: Engine, user_id: int, mem, msg: dict, previous: dict | None, apply_one, read,
           *read_args) -> dict:
    """The steps both panels take per message: apply the outbox through `apply_one`, then
    `read(*read_args)` the data to show (the previous data and a flash when the database
    cannot be read), with the outcomes of the presses this message carried and the keys."""
    flash = apply_outbox(engine, user_id, mem, msg.get("outbox") or [], apply_one)
    data, failure = db_attempt(read, *read_args)
    if failure is not None:
        data = dict(previous or {}, items=[])
        flash = FLASH[failure]
    cids = {str(m.get("cid")) for m in msg.get("outbox") or ()}
    data.update(outcomes={c: o for c, o in mem.outcomes.items() if c in cids}, flash=flash,
                **keys())
    return data


def keys() -> dict:
    """What both panels (Label, Review) need to build their keys: rules 1–3, tags 4–7."""
    return dict(min_look_ms=round(labeling.MIN_LOOK_S * 1000),
                rules=[dict(key=r.key, short=r.short, digit=str(k + 1)) for k, r in enumerate(RULES)],
                tags=[dict(key=t.key, short=t.short, digit=str(k + 4)) for k, t in enumerate(TAGS)])
