"""The grid view (V on the Label page): a page of up to GRID_SIZE tiles from the annotator's
undecided queue, the likeliest accepts first, confirmed with one key.

Order (`order`, read once per browser session; `next_page` walks it, page by page): the
highest p(accept) from the triage model's scores (`triage_scores`, curate.triage) when it holds
scores for these images; else the CelebA attribute score that `assign --order attributes` uses
(`curate.assign.old_score`); else queue order. Ties keep queue order; images the model has not
scored come after the scored ones.

Each tile decided on a grid page is recorded as any key press, a page's tiles together in one
transaction (curate.labeling.decide_pressed_together: each bound to its image id and queue
position, a press id, `via = grid`). Its look-time floor is
LOOK_MS_PER_TILE: Enter counts only once every tile has been painted for LOOK_MS_PER_TILE × the
number of tiles, and each decision's `seconds` is that look time divided among the tiles.
"""
from __future__ import annotations

import functools

from sqlalchemy import Engine, bindparam, or_, select

from curate import display, labeling
from curate.assign import old_score
from db.models import Assignment, Image, StandingDecision, TriageScore, Verdict

GRID_SIZE = 16  # tiles on a grid page
LOOK_MS_PER_TILE = round(labeling.GRID_LOOK_S * 1000)  # Enter counts after the page was on
# screen this long per tile (the server's floor for each tile's share, labeling.GRID_LOOK_S)
TILE_SIDE = 320  # px: the longer side of a tile's picture


@functools.cache
def _undecided_stmt():
    # The annotator's images with no standing decision (none yet, or undone), with attributes
    # and the triage model's p(accept) where it scored them.
    return (select(Assignment.position, Assignment.image_id, Image.attributes, TriageScore.p_accept)
            .join(Image, Image.id == Assignment.image_id)
            .outerjoin(StandingDecision, (StandingDecision.image_id == Assignment.image_id)
                       & (StandingDecision.annotator_id == Assignment.annotator_id))
            .outerjoin(TriageScore, TriageScore.image_id == Assignment.image_id)
            .where(Assignment.annotator_id == bindparam("annotator_id"),
                   or_(StandingDecision.verdict.is_(None), StandingDecision.verdict == Verdict.undo))
            .order_by(Assignment.position))


def order(engine: Engine, annotator_id: int) -> tuple[list[int], str]:
    """The annotator's undecided queue positions in grid order, and which order was used:
    "triage" (p_accept), "attributes" or "queue" (see the module doc)."""
    with engine.connect() as c:
        rows = c.execute(_undecided_stmt(), dict(annotator_id=annotator_id)).all()
    if any(r.p_accept is not None for r in rows):
        ranked = sorted(rows, key=lambda r: (-(r.p_accept if r.p_accept is not None else -1.0),
                                             r.position))
        return [r.position for r in ranked], "triage"
    if any(r.attributes is not None for r in rows):
        ranked = sorted(rows, key=lambda r: (-old_score(r.attributes), r.position))
        return [r.position for r in ranked], "attributes"
    return [r.position for r in rows], "queue"


def next_page(engine: Engine, annotator_id: int, ranked: list[int], size: int = GRID_SIZE,
              exclude=frozenset()) -> tuple[list[labeling.Item], list[int]]:
    """The next grid page from `ranked` (positions in grid order, from `order`, kept by the
    caller between pages): the first `size` (default 16) of them still undecided, leaving out
    the positions `exclude` (the page on screen, when the next one is read ahead). Returns the
    page and `ranked` less the positions found decided meanwhile (here or in another tab). The
    pictures of the page after it start preparing in the background."""
    page: list[labeling.Item] = []
    decided: set[int] = set()
    ahead: list[labeling.Item] = []
    start = 0
    while start < len(ranked) and len(page) + len(ahead) < 2 * size:
        chunk = [p for p in ranked[start:start + 3 * size] if p not in exclude]
        start += 3 * size
        got = {i.position: i for i in labeling.items_at(engine, annotator_id, chunk)}
        for p in chunk:
            item = got.get(p)
            if item is None or item.verdict is not None:
                decided.add(p)
            elif len(page) < size:
                page.append(item)
            elif len(ahead) < size:
                ahead.append(item)
    display.prefetch((i.path for i in ahead), TILE_SIDE)
    return page, [p for p in ranked if p not in decided]
