"""What the ranker learns from and looks at, read without torch.

- **Targets** (`read_targets`): one per image, from the team's standing verdicts. An
  adjudication that is not an undo wins. Otherwise the image's standing opinions (each
  annotator's newest accept or reject; skips and undone decisions are not opinions) must agree:
  an image with an accept beside a reject is left out until the lead settles it, and counted.
  The failed rule is the first rejecting annotator's (lowest id, as the verdict's), the tags
  the first accepting annotator's.
- **Inputs** (`read_inputs`): each ingested, present image's file and its CelebA attributes.
- **Pixels** (`load_pixels`): the file read as a regular file inside its source folder, below
  the workspace's size cap (trainers.common.safefiles), decoded at a
  reduced JPEG scale and resized to `side`×`side` RGB; a file that no longer loads is None,
  and the caller skips and counts it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import Engine, select

from curate import verdict_sql
from curate.celeba import ATTRIBUTES
from curate.imaging import BadImage, read_image, to_rgb
from curate.rules import RULES, TAGS
from db.engine import reading
from db.models import Image, Source
from trainers.common.safefiles import read_regular

RULE_KEYS = tuple(r.key for r in RULES)  # the rule head's classes, in this order
TAG_KEYS = tuple(t.key for t in TAGS)  # the tag head's outputs, in this order
N_ATTRIBUTES = len(ATTRIBUTES) + 1  # the 40 CelebA attributes as ±1 (0 unknown) + "has them"


@dataclass
class Targets:
    """One row per image with an agreed verdict: accept (1/0), the failed rule's index in
    RULE_KEYS (-1 for an accept or an unknown rule), the tags as a 0/1 matrix over TAG_KEYS."""

    image_ids: np.ndarray  # int64
    accept: np.ndarray  # float32 0/1
    rule: np.ndarray  # int64, -1 where not a rejection under a known rule
    tags: np.ndarray  # float32 (n, len(TAG_KEYS))
    disputed: int = 0  # images left out: an accept beside a reject, not settled
    adjudicated: int = 0  # images whose target is the lead's adjudication

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def accepted(self) -> int:
        return int(self.accept.sum())


def _tag_row(tags) -> list[float]:
    tags = set(_tag_list(tags))
    return [1.0 if k in tags else 0.0 for k in TAG_KEYS]


def _tag_list(tags) -> list[str]:
    if isinstance(tags, str):  # standing_decisions keeps the JSON list as text
        import json
        try:
            tags = json.loads(tags)
        except ValueError:
            return []
    return [t for t in tags or [] if isinstance(t, str)]


def read_targets(engine: Engine) -> Targets:
    """The training targets (see the module doc), by image id."""
    st = verdict_sql.standing()
    adj = verdict_sql.newest_adjudications()
    with reading(engine) as s:
        opinions = s.execute(select(st.c.image_id, st.c.annotator_id, st.c.verdict, st.c.rule,
                                    st.c.tags)
                             .where(st.c.verdict.in_(verdict_sql.OPINIONS))
                             .order_by(st.c.image_id, st.c.annotator_id)).all()
        settled = s.execute(select(adj.c.image_id, adj.c.verdict, adj.c.rule, adj.c.tags)).all()
    by_image: dict[int, tuple[float, int, list[float]]] = {}
    disputed: set[int] = set()
    for image_id, _, verdict, rule, tags in opinions:
        accept = 1.0 if _value(verdict) == verdict_sql.ACCEPT else 0.0
        if image_id in disputed:
            continue
        if image_id in by_image:
            if by_image[image_id][0] != accept:
                disputed.add(image_id)
                del by_image[image_id]
            continue  # agreeing: the first (lowest id) annotator's rule and tags stand
        by_image[image_id] = (accept, _rule_index(rule, accept), _tag_row(tags))
    adjudicated = 0
    for image_id, verdict, rule, tags in settled:
        if _value(verdict) not in verdict_sql.OPINIONS:
            continue
        accept = 1.0 if _value(verdict) == verdict_sql.ACCEPT else 0.0
        by_image[image_id] = (accept, _rule_index(rule, accept), _tag_row(tags))
        disputed.discard(image_id)
        adjudicated += 1
    ids = np.array(sorted(by_image), dtype=np.int64)
    rows = [by_image[i] for i in ids]
    return Targets(
        image_ids=ids,
        accept=np.array([r[0] for r in rows], dtype=np.float32),
        rule=np.array([r[1] for r in rows], dtype=np.int64),
        tags=np.array([r[2] for r in rows], dtype=np.float32).reshape(len(rows), len(TAG_KEYS)),
        disputed=len(disputed), adjudicated=adjudicated)


def _value(verdict) -> str:
    return getattr(verdict, "value", verdict)


def _rule_index(rule, accept: float) -> int:
    if accept or rule not in RULE_KEYS:
        return -1
    return RULE_KEYS.index(rule)


@dataclass
class Inputs:
    """Every ingested image that is still present: its id, file path and attribute vector."""

    image_ids: np.ndarray  # int64, ascending
    paths: list[str]
    attributes: np.ndarray  # float32 (n, N_ATTRIBUTES)
    roots: dict[str, str] = field(default_factory=dict)  # path → its source root

    def __len__(self) -> int:
        return len(self.image_ids)

    def take(self, image_ids: np.ndarray) -> "Inputs":
        """The rows of these ids (ids not present are dropped; see `missing`)."""
        image_ids = np.asarray(image_ids, dtype=np.int64)
        if not len(self.image_ids):
            at = np.zeros(0, dtype=np.int64)
        else:
            at = np.minimum(np.searchsorted(self.image_ids, image_ids), len(self.image_ids) - 1)
            at = at[self.image_ids[at] == image_ids]
        return Inputs(self.image_ids[at], [self.paths[i] for i in at], self.attributes[at],
                      self.roots)


def attribute_vector(present: list[str] | None) -> list[float]:
    """CelebA's 40 attributes as +1/−1 (0 for a source without them), then 1 if it has them."""
    if present is None:
        return [0.0] * N_ATTRIBUTES
    on = set(present)
    return [1.0 if a in on else -1.0 for a in ATTRIBUTES] + [1.0]


def present_ids(engine: Engine) -> np.ndarray:
    """Ids of the ingested images not marked missing, ascending."""
    with reading(engine) as s:
        ids = s.scalars(select(Image.id).where(Image.missing_since.is_(None)).order_by(Image.id))
        return np.fromiter(ids, dtype=np.int64)


def read_inputs(engine: Engine, image_ids=None) -> Inputs:
    """Ingested images not marked missing (all, or those of `image_ids`), ascending by id."""
    q = (select(Image.id, Source.root, Image.relpath, Image.attributes)
         .join(Source, Source.id == Image.source_id).where(Image.missing_since.is_(None))
         .order_by(Image.id))
    with reading(engine) as s:
        rows = s.execute(q).all()
    paths, roots = [], {}
    for _, root, relpath, _ in rows:
        p = str(Path(root) / relpath)
        paths.append(p)
        roots[p] = root
    out = Inputs(np.array([r[0] for r in rows], dtype=np.int64), paths,
                 np.array([attribute_vector(r[3]) for r in rows], dtype=np.float32)
                 .reshape(len(rows), N_ATTRIBUTES), roots)
    # Filtered here, not with IN (…): a list of 50,000 ids is past SQLite's bound parameters.
    return out if image_ids is None else out.take(np.sort(np.asarray(image_ids, np.int64)))


def load_pixels(job: tuple[str, str | None, int]) -> bytes | None:
    """(path, root, side) → side×side×3 uint8 bytes, or None when the file no longer loads.
    Runs in worker processes (a plain function of plain values)."""
    path, root, side = job
    try:
        img = to_rgb(read_image(read_regular(path, root=root), os.path.basename(path),
                                draft=(side, side)))
    except (BadImage, OSError):
        return None
    img = img.resize((side, side), PILImage.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(img, dtype=np.uint8).tobytes()
