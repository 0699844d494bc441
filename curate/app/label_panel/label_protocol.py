"""The Label panel's side of the protocol (protocol.py): a press is the annotator's decision on
the image at a queue position, and the reply shows the queue around the cursor.

`respond` records the outbox through `curate.labeling` (bound to the queue position, the
150 ms floor, a resend known by its press id, a press on an image decided elsewhere since the
tab last heard refused with what stands), then reads the items around the cursor (their
standing decisions — so a tab learns of another tab's decisions on its next exchange), the
progress, and what the message asked for (skipped list, recent decisions, a jump, a zoom, a
grid page: curate/grid.py).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Engine

from curate import display, grid, labeling
from curate.app.label_panel.protocol import (Message, Press, Reply, answer, full_picture,
                                             pressed, read_message, with_picture)

AHEAD = 6  # undecided images sent ahead of the cursor (with the previous and next one)
SKIPPED_SHOWN = 200  # entries of the skipped list


@dataclass
class Memory:
    """What the server keeps per browser session (in st.session_state)."""
    start: int | None = None  # resume position, read once
    outcomes: OrderedDict = field(default_factory=OrderedDict)  # cid → Outcome
    progress: labeling.Progress | None = None
    last_row: int = -1  # the newest decision row id `progress` accounts for
    own_rows: int = 0  # rows this session wrote since then
    since_read: int = 0  # decisions since the counts were read from the database
    skipped: list | None = None  # cached skipped list; None: read again
    jumps: dict = field(default_factory=dict)  # jump seq → position it resolved to
    grid_ranked: list[int] | None = None  # undecided positions in grid order (curate/grid.py)
    grid_how: str = ""  # which order ranked them


def _apply_one(engine: Engine, user_id: int, p: Press):
    if p["kind"] == "undo":
        return labeling.undo_pressed(engine, user_id, p["image_id"], p["position"], p["target"],
                                     p["cid"])
    return labeling.decide_pressed(engine, user_id, p["image_id"], p["position"], pressed(p))


def _apply_together(engine: Engine, user_id: int, ps: list[Press]) -> list:
    return labeling.decide_pressed_together(
        engine, user_id, [(p["image_id"], p["position"], pressed(p)) for p in ps])


def _recorded(mem: Memory):
    def follow(p: Press, got) -> None:
        new = None if p["kind"] == "undo" else p["verdict"]
        mem.since_read += 1
        mem.own_rows += 1
        if mem.progress is not None and mem.since_read % labeling.PROGRESS_REFRESH:
            mem.progress = mem.progress.after(got.before, new, p["seconds"])
        else:
            mem.progress = None
        if "skip" in (got.before, new):
            mem.skipped = None
    return follow


def item(i: labeling.Item, send: bool, side: int = display.DISPLAY_SIDE) -> dict:
    return with_picture(dict(position=i.position, image_id=i.image_id, name=i.name,
                             overlap=i.is_overlap, verdict=i.verdict, rule=i.rule,
                             tags=list(i.tags), note=i.note, seconds=i.seconds, row=i.row),
                        i.path, send, side)


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


def _jump(engine: Engine, user_id: int, mem: Memory, jump: dict, cursor: int) -> dict:
    seq = jump["seq"]
    if seq not in mem.jumps:
        if jump["to"] == "skipped":
            nxt = labeling.skipped(engine, user_id, cursor, 1) or labeling.skipped(engine, user_id,
                                                                                   -1, 1)
            pos = nxt[0].position if nxt else None
        else:
            pos = labeling.first_undecided(engine, user_id)
        mem.jumps = {seq: pos}  # only the newest jump matters
    return {"seq": seq, "position": mem.jumps[seq]}


def _fresh_progress(engine: Engine, user_id: int, mem: Memory) -> None:
    """Counts that match the database within one exchange: kept up in memory after this tab's
    own presses, read again when the user's rows changed otherwise (another tab, a device)."""
    written, newest = labeling.rows_after(engine, user_id, mem.last_row)
    if mem.progress is None or written != mem.own_rows:
        if mem.progress is not None:
            mem.skipped = None  # another tab may have skipped or decided a skipped one
        mem.progress = labeling.progress(engine, user_id)
        mem.since_read = 0
    if newest is not None:
        mem.last_row, mem.own_rows = newest, 0


def _read(engine: Engine, user_id: int, mem: Memory, msg: Message) -> dict:
    if mem.start is None:
        mem.start = labeling.resume_position(engine, user_id)
    cursor = mem.start if msg["cursor"] is None else msg["cursor"]
    _fresh_progress(engine, user_id, mem)
    near, ahead, complete = labeling.around(engine, user_id, cursor, AHEAD + labeling.PREFETCH)
    first = None
    if len(ahead) < AHEAD:  # near the end: the browser may need to wrap to the first one left
        first = labeling.first_undecided(engine, user_id)
    want = {cursor - 1, cursor, cursor + 1, *ahead[:AHEAD]} | ({first} if first is not None else set())
    if first is not None and first not in near:  # the wrap-around target, far behind
        near.update((i.position, i) for i in labeling.items_at(engine, user_id, [first]))
    got = [near[p] for p in sorted(want & near.keys())]
    have = msg["have"]
    display.prefetch(near[p].path for p in ahead[AHEAD:] if p in near)
    data = dict(items=[item(i, i.image_id not in have) for i in got],
                undecided=ahead[:AHEAD], undecided_complete=complete,
                first_undecided=first, progress=progress_text(mem.progress), start=mem.start)
    full = full_picture(msg, {i.image_id: i.path for i in got})
    if full is not None:
        data["full"] = full
    if msg["skipped_open"]:
        if mem.skipped is None:
            mem.skipped = [[i.position, i.name] for i in labeling.skipped(
                engine, user_id, count=SKIPPED_SHOWN)]
        data["skipped"] = mem.skipped
    if msg["seed"]:
        data["recent"] = [item(i, i.image_id not in have) for i in labeling.recent(engine, user_id)]
    if msg["jump"]:
        data["moved"] = _jump(engine, user_id, mem, msg["jump"], cursor)
    if msg["grid"]:
        tiles, how = _grid_page(engine, user_id, mem, msg["grid_not"])
        data["grid"] = dict(items=[item(i, f"tile:{i.image_id}" not in have, grid.TILE_SIDE)
                                   for i in tiles], order=how,
                            look_ms_per_tile=grid.LOOK_MS_PER_TILE)
    return data


def _grid_page(engine: Engine, user_id: int, mem: Memory,
               exclude: set[int]) -> tuple[list[labeling.Item], str]:
    """A grid page, without the positions `exclude` (the page on screen: this one is read
    ahead of the next V). The order is read once per browser session (and again when used
    up); each page then costs one read of the positions it walks."""
    if not mem.grid_ranked:
        mem.grid_ranked, mem.grid_how = grid.order(engine, user_id)
    tiles, mem.grid_ranked = grid.next_page(engine, user_id, mem.grid_ranked, exclude=exclude)
    return tiles, mem.grid_how


def respond(engine: Engine, user_id: int, mem: Memory, raw: dict, previous: dict | None) -> Reply:
    """Apply the message's outbox and return the panel's data (see the module doc). When the
    database cannot be read, the previous data comes back with a calm flash, so the panel stays."""
    msg = read_message(raw)
    return answer(engine, user_id, "label", mem.outcomes, msg, previous, _apply_one,
                  lambda: _read(engine, user_id, mem, msg), _recorded(mem), _apply_together)
