"""A tiny labelled database: 8 CelebA-style images with every verdict rule exercised (the export
tests' `labelled` fixture, the attacks on exports in tests/security/).

image (by relpath)  queue        standing decisions            adjudication   final
000001.jpg          ana          ana accept                    -              accept (ana)
000002.jpg          ana, luis    both accept                   -              accept (ana+luis)
000003.jpg          ana, luis    ana accept, luis reject       -              disputed
000004.jpg          ana          ana reject                    admin accept   accept (adjudicated)
000005.jpg          ana          ana accept                    admin reject   reject
000006.jpg          ana          ana accept, tag two_faces     -              accept (ana)
000007.jpg          ana          ana accept, then undo         -              pending
000008.jpg          ana, luis    ana skip only                 -              pending

(A verdict counts the decisions made: had ana accepted 000008.jpg, it would be accepted though
luis has not decided it — tests/curate/test_assign.py's late-hire case.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from curate.decisions import adjudicate, record_decision, undo
from curate.ingest import ingest
from curate.users import add_user
from db.engine import reading, writing
from db.models import Assignment, Image

ACCEPTED = ("000001.jpg", "000002.jpg", "000004.jpg", "000006.jpg")  # final accepts, in order


@dataclass
class Labelled:
    """The labelled database of the `labelled` fixture and where its files are."""

    engine: object
    root: Path  # the CelebA-style image folder
    ids: dict[str, int]  # relpath → image id
    tmp: Path


def label(engine, root: Path) -> dict[str, int]:
    """Ingest `root` (8 CelebA-style images) and record the table above; relpath → image id."""
    ingest(engine, root, "celeba", workers=1, progress=False)
    with reading(engine) as s:
        ids = dict(s.execute(select(Image.relpath, Image.id)).all())
    ana = add_user(engine, "ana", "pw")
    luis = add_user(engine, "luis", "pw")
    admin = add_user(engine, "admin", "pw", admin=True)
    queues = {ana: [f"{i:06d}.jpg" for i in range(1, 9)],
              luis: ["000002.jpg", "000003.jpg", "000008.jpg"]}
    with writing(engine) as s:
        for who, rels in queues.items():
            for pos, rel in enumerate(rels):
                s.add(Assignment(annotator_id=who, image_id=ids[rel], position=pos,
                                 is_overlap=rel in queues[luis]))
    d = lambda who, rel, v, **kw: record_decision(engine, who, ids[rel], v, **kw)  # noqa: E731
    d(ana, "000001.jpg", "accept")
    d(ana, "000002.jpg", "accept")
    d(luis, "000002.jpg", "accept")
    d(ana, "000003.jpg", "accept")
    d(luis, "000003.jpg", "reject", rule="too_young")
    d(ana, "000004.jpg", "reject", rule="looks_young")
    adjudicate(engine, admin, ids["000004.jpg"], "accept")
    d(ana, "000005.jpg", "accept")
    adjudicate(engine, admin, ids["000005.jpg"], "reject", rule="not_facing")
    d(ana, "000006.jpg", "accept", tags=["two_faces"])
    d(ana, "000007.jpg", "accept")
    undo(engine, ana, ids["000007.jpg"])
    d(ana, "000008.jpg", "skip")
    return ids
