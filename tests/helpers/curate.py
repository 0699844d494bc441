"""Small databases with known content for the curation and app tests (no image files needed):
images, annotators and queues (`seed`), a known set of decisions (`known_decisions`), and
disagreements recorded in a workspace (`disagreements`)."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Engine, insert, select

from curate import labeling, presses
from curate.assign import assign
from curate.users import add_user
from curate.workspace import Workspace
from db.engine import reading, writing
from db.models import Annotator, Image, Source


def _fake_hash(source: str, i: int) -> str:
    # Content hashes are unique per database: images of two sources must differ.
    return hashlib.sha256(f"{source}/{i}".encode()).hexdigest()


def add_images(engine: Engine, n: int, *, root: str = "/nonexistent", source: str = "celeba") -> list[int]:
    """n synthetic image rows under one source (files need not exist); returns their ids."""
    with writing(engine) as s:
        src = Source(name=source, root=root, attribute_names=["Young"])
        s.add(src)
        s.flush()
        rows = [dict(source_id=src.id, relpath=f"{i:06d}.jpg", content_hash=_fake_hash(source, i), phash=i,
                     width=178, height=218, mode="RGB", file_size=1000, attributes=[],
                     partition=0) for i in range(1, n + 1)]
        for i in range(0, len(rows), 10_000):
            s.execute(insert(Image), rows[i:i + 10_000])
        return list(s.scalars(select(Image.id).where(Image.source_id == src.id).order_by(Image.id)))


def seed(engine: Engine, *, images: int = 20, annotators=("ana", "luis"), per_annotator: int = 10,
         overlap: float = 0.2, root: str = "/nonexistent") -> dict[str, int]:
    """Images, an admin `admin` and annotators (password = name), queues assigned in random
    order with seed 0; returns name → user id."""
    add_images(engine, images, root=root)
    add_user(engine, "admin", "admin", admin=True)
    for name in annotators:
        add_user(engine, name, name)
    assign(engine, per_annotator=per_annotator, overlap=overlap, order="random", seed=0)
    with reading(engine) as s:
        return dict(s.execute(select(Annotator.name, Annotator.id)).all())


def unescaped(markdown: str) -> str:
    """What a reader sees of a message whose outside text went through
    curate.app.text.plain: the Markdown backslash escapes taken off."""
    import re
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def decide(engine: Engine, annotator_id: int, item: labeling.Item, verdict: str,
           rule: str | None = None, tags=(), seconds: float | None = None,
           note: str | None = None, via: str = "single") -> presses.Recorded:
    """Decide a queue item through the key press's write path (a fresh press id, bound to the
    item's position; no look-time floor, so `seconds` may be anything a test needs)."""
    return presses.record_pressed(engine, annotator_id, item.image_id, item.position,
                                    presses.Pressed(verdict, rule, tuple(tags), note, seconds,
                                                      press_id=secrets.token_hex(8), via=via))


def undo(engine: Engine, annotator_id: int, item: labeling.Item) -> presses.Recorded:
    """Withdraw the annotator's standing decision on a queue item, as Backspace does."""
    now = labeling.items(engine, annotator_id, item.position, 1)[0]
    return presses.undo_pressed(engine, annotator_id, now.image_id, now.position, now.row,
                                  secrets.token_hex(8))


def known_decisions(engine):
    """ana and luis share 4 overlap images: ana A A R R, luis A R R R; plus solo work."""
    users = seed(engine, images=20, per_annotator=10, overlap=0.4)
    ana, luis = users["ana"], users["luis"]
    qa = labeling.items(engine, ana, 0, 10)
    ql = labeling.items(engine, luis, 0, 10)
    shared = [i.image_id for i in qa if i.is_overlap]
    assert len(shared) == 4
    by_image = {i.image_id: i for i in ql}
    plan_a = [("accept", None), ("accept", None), ("reject", "too_young"), ("reject", "too_young")]
    plan_l = [("accept", None), ("reject", "not_facing"), ("reject", "too_young"),
              ("reject", "looks_young")]
    mine = {i.image_id: i for i in qa}
    for img, (va, ra), (vl, rl) in zip(shared, plan_a, plan_l):
        decide(engine, ana, mine[img], va, ra, tags=["two_faces"], seconds=2.0)
        decide(engine, luis, by_image[img], vl, rl, seconds=4.0)
    solo = [i for i in qa if not i.is_overlap]
    decide(engine, ana, solo[0], "accept", tags=["deformity", "two_faces"], seconds=6.0)
    decide(engine, ana, solo[1], "skip", seconds=1.0)
    decide(engine, ana, solo[2], "accept", seconds=100.0)
    undo(engine, ana, solo[2])  # solo[2] is undecided again
    return users, shared


def disagreements(root, n: int) -> list[int]:
    """In the workspace at `root` (a demo's): ana accepts and luis rejects the first n images
    their queues share; returns their ids."""
    engine = Workspace.resolve(root).open()
    with reading(engine) as s:
        ids = dict(s.execute(select(Annotator.name, Annotator.id)).all())
    ana = {i.image_id: i for i in labeling.items(engine, ids["ana"], 0, 1000)}
    luis = {i.image_id: i for i in labeling.items(engine, ids["luis"], 0, 1000)}
    shared = sorted(set(ana) & set(luis))[:n]
    assert len(shared) == n, "the demo shares enough images between ana and luis"
    for k, image in enumerate(shared):
        decide(engine, ids["ana"], ana[image], "accept", note=f"ana {k}", seconds=2.0)
        decide(engine, ids["luis"], luis[image], "reject", "too_young", tags=["two_faces"],
               seconds=3.0)
    engine.dispose()
    return shared
