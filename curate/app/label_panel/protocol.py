"""The panel's protocol, shared by the Label and Review pages: the message the browser sends,
the reply it gets, and the outbox of presses between them.

The browser (panel.js) sends one message, its component state `msg` (`Message`). Everything
in it comes from outside and is read through `read_message`: a field of the wrong type or out
of range is dropped (a cursor) or makes that press a refused *bad message* — never an error
page. Each press carries the id the browser gave it (`cid`): the database stores it with the
row, unique per user, so a resend is recognised by that id alone (curate.presses).

`answer` applies the outbox in order through the page's `apply_one` (label_protocol.py: a
Label decision; review_protocol.py: an adjudication — both one transaction in the write turn),
then reads what to show (`read`), and returns the `Reply`. While the database cannot be
reached the previous reply comes back with a flash, so the panel stays on screen, keeps its
outbox and sends it again by itself.
"""
from __future__ import annotations

import base64
from collections import OrderedDict
from typing import Any, Literal, NotRequired, TypedDict

from sqlalchemy import Engine

from curate import display, labeling
from curate.app.common import BUSY, UNREACHABLE, db_attempt
from curate.app.label_panel import keys as key_table
from curate.decisions import DecisionError
from curate.presses import PRESS_ID, Pressed, Replaced, check_seconds
from curate.imaging import BadImage
from curate.rules import RULES, TAGS

MAX_ID = 2**31 - 1  # ids and positions: PostgreSQL's integer
MAX_SEQ = 2**53  # a jump's sequence number (the browser's clock in ms, plus one)
OUTBOX_MAX = 500  # presses read from one message
HAVE_MAX = 2000  # picture ids read from one message
TEXT_MAX = 2000  # characters of a note (or a handle) read before cleaning
POLL_MS = 3000  # an idle panel asks again this often: another tab's decisions show up
OUTCOMES_KEPT = 500  # outcomes remembered per browser session
FULL_SIDE = 8192  # px: "full resolution" for Z (an original is never upscaled)
FLASH = {BUSY: "The database is busy; your last decisions are kept here and sent again.",
         UNREACHABLE: "The database cannot be reached right now; your last decisions are kept "
                      "here and sent again by themselves when it is back."}


# --- the message --------------------------------------------------------------------------------
class Press(TypedDict):
    """One press in the outbox, as read from the browser."""
    cid: str  # the browser's id for it: 1–64 of [A-Za-z0-9_-]
    kind: Literal["decide", "undo"]
    image_id: int  # the image on screen
    position: int  # its place in the list (the queue; Review: the list of disagreements)
    verdict: str
    rule: str | None
    tags: list[str]
    note: str | None
    seconds: float | None  # from the image painted to the key; finite
    seen: str | None  # handle of the newest row the tab knew on the image ("" none; None: unchecked)
    target: str  # an undo: the handle of the decision it withdraws
    via: str  # "single" | "grid"
    version: list[int]  # Review: the ids of the annotators' decisions shown
    bad: NotRequired[str]  # why this press is refused unread (a bad message)


class Message(TypedDict):
    cursor: int | None  # the position shown; None: not told yet where to start
    outbox: list[Press]  # every press not yet confirmed, oldest first
    have: set[int | str]  # picture ids the browser holds ("full:<id>" zoomed, "tile:<id>" a grid tile)
    zoom: int | None  # an image id to send at full size
    jump: dict | None  # {seq, to: "first" | "skipped"}
    skipped_open: bool  # send the skipped list
    seed: bool  # send the recent decisions (a new tab)
    grid: bool  # Label: send a grid page (curate/grid.py)
    grid_not: set[int]  # Label: positions on the grid page shown now (the next page skips them)


def _int(v: Any, hi: int = MAX_ID) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= hi else None


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) and len(v) <= TEXT_MAX else None


def read_press(raw: Any) -> Press | None:
    """A press from the outbox; None when it has no usable id (it cannot even be answered)."""
    if not isinstance(raw, dict):
        return None
    cid = raw.get("cid")
    if not isinstance(cid, str) or not PRESS_ID.fullmatch(cid):
        return None
    p: dict = dict(cid=cid, kind="undo" if raw.get("kind") == "undo" else "decide",
                   image_id=_int(raw.get("image_id")), position=_int(raw.get("position")),
                   verdict=_text(raw.get("verdict")) or "", rule=_text(raw.get("rule")) or None,
                   note=_text(raw.get("note")), seen=_text(raw.get("seen")),
                   target=_text(raw.get("target")) or "",
                   via=raw.get("via") if raw.get("via") in ("single", "grid") else "single")
    tags = raw.get("tags") or []
    version = raw.get("version") or []
    why = None
    if p["image_id"] is None or p["position"] is None:
        why = "the image id or position is not a number in range"
    elif not isinstance(tags, list) or len(tags) > 20 or not all(isinstance(t, str) for t in tags):
        why = "the tags are not a list of names"
    elif not isinstance(version, list) or len(version) > 100 or any(_int(x) is None for x in version):
        why = "the decisions shown are not a list of ids"
    else:
        try:
            p["seconds"] = check_seconds(raw.get("seconds"))
        except DecisionError as e:
            why = str(e)
    p.update(tags=tags if isinstance(tags, list) else [], version=version if isinstance(
        version, list) else [])
    p.setdefault("seconds", None)
    if why:
        p["bad"] = f"bad message ({why})"
    return p  # type: ignore[return-value]


def read_message(raw: Any) -> Message:
    """The browser's message, every field checked (see the module doc); never raises."""
    raw = raw if isinstance(raw, dict) else {}
    outbox = raw.get("outbox") if isinstance(raw.get("outbox"), list) else []
    have_raw = raw.get("have") if isinstance(raw.get("have"), list) else []
    have: set[int | str] = set()
    for h in have_raw[:HAVE_MAX]:
        if _int(h) is not None:
            have.add(h)
        elif isinstance(h, str) and h[:5] in ("full:", "tile:") and _int(_num(h[5:])) is not None:
            have.add(h)
    jump = raw.get("jump")
    if not (isinstance(jump, dict) and _int(jump.get("seq"), MAX_SEQ) is not None
            and jump.get("to") in ("first", "skipped")):
        jump = None
    return Message(cursor=_int(raw.get("cursor")),
                   outbox=[p for p in map(read_press, outbox[:OUTBOX_MAX]) if p is not None],
                   have=have, zoom=_int(raw.get("zoom")), jump=jump,
                   skipped_open=raw.get("skipped_open") is True, seed=raw.get("seed") is True,
                   grid=raw.get("grid") is True,
                   grid_not={x for x in (raw.get("grid_not") if isinstance(raw.get("grid_not"), list)
                                         else [])[:64] if _int(x) is not None})


def _num(s: str) -> int | None:
    return int(s) if s.isdigit() and len(s) <= 10 else None


def pressed(p: Press) -> Pressed:
    """The press as curate.presses records it."""
    return Pressed(p["verdict"], p["rule"], tuple(p["tags"]), p["note"], p["seconds"],
                   press_id=p["cid"], via=p["via"], seen=p["seen"])


# --- the reply ----------------------------------------------------------------------------------
class Outcome(TypedDict):
    ok: bool  # recorded (now, or before: `dup`)
    dup: NotRequired[bool]  # a resend of a press recorded already
    row: NotRequired[str]  # the handle of the row it wrote (its cid)
    msg: NotRequired[str]  # why nothing was recorded
    standing: NotRequired[dict]  # refused because something else stands now: {row, verdict, rule, tags}


class Item(TypedDict):
    position: int
    image_id: int
    name: str  # source/relpath, drawn as text
    overlap: bool
    verdict: str | None  # the user's standing verdict (Review: the adjudicated one)
    rule: str | None
    tags: list[str]
    note: str | None
    seconds: float | None
    row: str  # handle of the newest row there (an undo too); "" none: a press's `seen`
    src: NotRequired[str | None]  # the picture, when the browser lacks it
    error: NotRequired[str | None]  # why the picture cannot be shown


class Reply(TypedDict):
    """What the panel is told after each message (the component's `data`)."""
    mode: str  # "label" | "review"
    user: int
    items: list[Item]  # the positions around the cursor (pictures only where missing)
    undecided: list[int]  # undecided positions ahead of the cursor
    undecided_complete: bool  # no more undecided ones after those
    first_undecided: int | None  # where to wrap to near the end
    start: int  # where a new tab starts
    progress: dict  # text (test hook `N of M decided · K accepted`), pace, counts, end texts
    outcomes: dict[str, Outcome]  # of the presses this message carried
    flash: str | None  # the database is busy or away
    keys: list[dict]  # the key table (keys.for_panel)
    min_look_ms: int  # a decision key counts this long after the paint
    poll_ms: int  # an idle panel asks again this often
    rules: list[dict]  # rules 1–3: key, short, digit
    tags: list[dict]  # tags 4–7: key, short, digit
    epoch: NotRequired[int]  # Review: the list changed, start again at `start`
    full: NotRequired[dict]  # {image_id, src} at full size
    skipped: NotRequired[list]  # Label: [[position, name], …]
    recent: NotRequired[list[Item]]  # Label: the last decisions, for a new tab's strip
    moved: NotRequired[dict | None]  # Label: {seq, position} a jump resolved to
    grid: NotRequired[dict]  # Label: a page of tiles (V): {items, order, look_ms_per_tile}


def picture(path: str, side: int) -> tuple[str | None, str | None]:
    """(a data URL of the display picture, None), or (None, why it cannot be shown)."""
    try:
        data = display.display_image(path, side)
    except BadImage as e:
        return None, f"This image cannot be shown ({e}). You can still decide or skip it."
    return "data:image/jpeg;base64," + base64.b64encode(data).decode(), None


def with_picture(item: dict, path: str, send: bool, side: int = display.DISPLAY_SIDE) -> dict:
    if send:
        item["src"], item["error"] = picture(path, side)
    return item


def full_picture(msg: Message, paths: dict[int, str]) -> dict | None:
    """The zoomed image at full resolution (`Reply.full`) when the message asks for one the
    browser lacks, among the images `paths` (image id → file) the panel may show."""
    zoom = msg["zoom"]
    if zoom is None or f"full:{zoom}" in msg["have"] or zoom not in paths:
        return None
    return dict(image_id=zoom, src=picture(paths[zoom], FULL_SIDE)[0])


def settings(mode: str) -> dict:
    """What both panels need to build their keys, buttons and help."""
    return dict(mode=mode, keys=key_table.for_panel(mode),
                min_look_ms=round(labeling.MIN_LOOK_S * 1000), poll_ms=POLL_MS,
                rules=[dict(key=r.key, short=r.short, digit=str(k + 1)) for k, r in enumerate(RULES)],
                tags=[dict(key=t.key, short=t.short, digit=str(k + 4)) for k, t in enumerate(TAGS)])


# --- the outbox ---------------------------------------------------------------------------------
def _outcome(cid: str, got) -> Outcome:
    """A press's outcome from what recording it returned or raised."""
    if isinstance(got, Replaced):
        return Outcome(ok=False, msg=f"Not recorded: {got}.", standing=got.standing)
    if isinstance(got, DecisionError):
        return Outcome(ok=False, msg=f"Not recorded: {got}")
    return Outcome(ok=True, dup=got.duplicate, row=cid)


def _together(p: Press) -> bool:
    return p["via"] == "grid" and p["kind"] == "decide" and "bad" not in p


def apply_outbox(engine: Engine, user_id: int, outcomes: OrderedDict, outbox: list[Press],
                 apply_one, recorded=None, apply_together=None) -> str | None:
    """Record the presses not yet answered, in order, each through `apply_one(engine, user_id,
    press)` — or, for a run of a grid page's presses, all at once through
    `apply_together(engine, user_id, presses)` (one transaction: a list of results) when the
    page gives one; `recorded(press, got)` follows each new row. Returns a flash text when the
    database stayed busy or away (the rest then wait for the resend, so the order is kept)."""
    todo = [p for p in outbox if p["cid"] not in outcomes]  # others: answered in this session
    k = 0
    while k < len(todo):
        run = [todo[k]]
        if apply_together is not None and _together(todo[k]):
            while k + len(run) < len(todo) and _together(todo[k + len(run)]):
                run.append(todo[k + len(run)])
        k += len(run)
        if "bad" in run[0]:
            outcomes[run[0]["cid"]] = Outcome(ok=False, msg=f"Not recorded: {run[0]['bad']}.")
            continue
        try:
            if len(run) > 1:
                results, failure = db_attempt(apply_together, engine, user_id, run)
            else:
                got, failure = db_attempt(apply_one, engine, user_id, run[0])
                results = [got]
        except DecisionError as e:
            results, failure = [e], None
        if failure is not None:
            return FLASH[failure]
        for p, got in zip(run, results):
            outcomes[p["cid"]] = _outcome(p["cid"], got)
            if outcomes[p["cid"]]["ok"] and not got.duplicate and recorded is not None:
                recorded(p, got)
    while len(outcomes) > OUTCOMES_KEPT:
        outcomes.popitem(last=False)
    return None


def answer(engine: Engine, user_id: int, mode: str, outcomes: OrderedDict, msg: Message,
           previous: dict | None, apply_one, read, recorded=None, apply_together=None) -> Reply:
    """The steps both panels take per message: apply the outbox through `apply_one`, then
    `read()` the data to show (the previous data and a flash when the database cannot be
    read), with the outcomes of the presses this message carried and the settings."""
    flash = apply_outbox(engine, user_id, outcomes, msg["outbox"], apply_one, recorded,
                         apply_together)
    data, failure = db_attempt(read)
    if failure is not None:
        data = dict(previous or {}, items=[])
        flash = FLASH[failure]
    cids = {p["cid"] for p in msg["outbox"]}
    data.update(outcomes={c: o for c, o in outcomes.items() if c in cids}, flash=flash,
                user=user_id, **settings(mode))
    return data  # type: ignore[return-value]

