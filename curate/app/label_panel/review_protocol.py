"""The Review panel's server side: the Label panel in `review` mode, over the disagreements.

The browser (panel.js, `mode: "review"`) sends the same message as on the Label page
(protocol.py): `cursor`, `outbox`, `have`, `zoom`. A press here is an admin's verdict: it names
the image and `version` — the ids of the standing decisions it showed (`Dispute.shown`) — and is
recorded through `curate.review.settle_shown` (one transaction in the write turn, as a Label
press), which refuses it when that image is no longer the disagreement the admin saw, or was
settled elsewhere since this tab heard (`seen`); an undo names the verdict it withdraws
(`review.undo_settled`). A resend is known by its press id, as on the Label page.

The list is kept per browser session (`ReviewMemory.order`): the open disagreements, plus the
settled ones with *Show settled ones too*. Settling one keeps it in place (shown as settled);
new disagreements are added at the end. When the list changes otherwise (the toggle, an image
that stopped being a disagreement) `epoch` goes up and the panel starts again at `start`.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Engine

from curate import review
from curate.app.label_panel.protocol import (Message, Press, Reply, answer, full_picture,
                                             pressed, read_message, with_picture)

AHEAD = 4  # pictures sent ahead of the cursor (with the previous one)
WINDOW = 50  # items described on either side of the cursor (the open positions: all of them)
SHOWN_MAX = 2000  # disagreements listed at once


@dataclass
class ReviewMemory:
    order: list[int] | None = None  # image ids, as listed
    settled_too: bool = False
    epoch: int = 0
    outcomes: OrderedDict = field(default_factory=OrderedDict)


def _apply_one(engine: Engine, admin_id: int, p: Press):
    if p["kind"] == "undo":
        return review.undo_settled(engine, admin_id, p["image_id"], p["target"], p["cid"])
    return review.settle_shown(engine, admin_id, p["image_id"], p["version"], pressed(p))


def _item(position: int, d: review.Dispute, send: bool) -> dict:
    return with_picture(dict(
        position=position, image_id=d.image_id, name=d.name, overlap=True, verdict=d.settled,
        rule=d.settled_rule, tags=list(d.settled_tags), note=None, seconds=None, row=d.newest,
        settled_by=d.settled_by, version=list(d.shown),
        opinions=[dict(annotator=o.annotator, verdict=o.verdict, rule=o.rule, tags=list(o.tags),
                       note=o.note, seconds=o.seconds) for o in d.opinions]), d.path, send)


def _relist(mem: ReviewMemory, found: dict[int, review.Dispute], settled_too: bool,
            cursor_image: int | None) -> int | None:
    """Bring `mem.order` up to date; returns where the panel starts when the list was rebuilt."""
    wanted = [i for i, d in found.items() if settled_too or d.settled is None]
    if mem.order is None or settled_too != mem.settled_too or any(i not in found for i in mem.order):
        kept = [i for i in (mem.order or ()) if i in found] if settled_too == mem.settled_too else []
        mem.order = kept + [i for i in wanted if i not in set(kept)]
        mem.order = mem.order[:SHOWN_MAX]
        mem.settled_too = settled_too
        mem.epoch += 1
        if cursor_image in mem.order:
            return mem.order.index(cursor_image)
        return next((k for k, i in enumerate(mem.order) if found[i].settled is None), 0)
    known = set(mem.order)
    mem.order += [i for i in wanted if i not in known][:max(0, SHOWN_MAX - len(mem.order))]
    return None


def _read(engine: Engine, mem: ReviewMemory, msg: Message, settled_too: bool) -> dict:
    found = {d.image_id: d for d in review.disputes(engine, include_settled=True)}
    cursor = msg["cursor"]
    old = mem.order or []
    cursor_image = old[cursor] if isinstance(cursor, int) and 0 <= cursor < len(old) else None
    start = _relist(mem, found, settled_too, cursor_image)
    if start is not None or not isinstance(cursor, int):
        cursor = start if start is not None else 0
    have = msg["have"]
    near = set(range(cursor - 1, cursor + AHEAD + 1))
    open_ = [k for k, i in enumerate(mem.order) if found[i].settled is None]
    settled = len(mem.order) - len(open_)
    items = [_item(k, found[i], k in near and i not in have) for k, i in enumerate(mem.order)
             if abs(k - cursor) <= WINDOW]
    data = dict(items=items, undecided=open_, undecided_complete=True, first_undecided=None,
                start=cursor, epoch=mem.epoch, progress=dict(
                    text=f"{len(open_):,} open disagreement(s)" + (f" · {settled:,} settled"
                                                                   if settled else ""),
                    pace="", total=len(mem.order), decided=settled, accepted=0, skipped=0,
                    left=len(open_), finished=not open_,
                    empty_text="No disagreements to settle.",
                    done_text="No open disagreements left: every one listed here is settled.",
                    end_text=f"End of the list: {len(open_):,} still open. Press F for the first "
                             "open one."))
    full = full_picture(msg, {i: found[i].path for i in mem.order if i in found})
    if full is not None:
        data["full"] = full
    return data


def respond(engine: Engine, admin_id: int, mem: ReviewMemory, raw: dict, settled_too: bool,
            previous: dict | None) -> Reply:
    """Apply the message's verdicts and undos, and return the panel's data (see the module doc)."""
    msg = read_message(raw)
    data = answer(engine, admin_id, "review", mem.outcomes, msg, previous, _apply_one,
                  lambda: _read(engine, mem, msg, settled_too))
    data["recent"] = []
    return data
