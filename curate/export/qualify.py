"""How many images qualify for an export now, for the Export page's forms.

The same selections the exporters make (old_celeba.accepted, peruvian_mix.peruvian_items), so
the page's figure is what an export started now would find: accepted images (and, per tag, how
many of them carry it — an excluded tag removes those), and for peruvian_mix both halves and the
largest mix each ratio allows.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine

from curate.decisions import final_verdicts
from curate.export import ExportError
from curate.export.common import items_by_id


@dataclass(frozen=True)
class Qualifying:
    accepted: int  # images whose final verdict is accept (present on disk as recorded)
    tagged: dict[str, int] = field(default_factory=dict)  # tag → accepted images carrying it
    peruvian: int | None = None  # images in the peruvian source (None: not asked, or unknown)
    peruvian_problem: str | None = None  # why the peruvian side could not be counted

    def without(self, exclude_tags) -> int:
        """Accepted images carrying none of `exclude_tags` (an upper bound when several are
        excluded: an image with two excluded tags is subtracted once per tag)."""
        return max(self.accepted - sum(self.tagged.get(t, 0) for t in set(exclude_tags)), 0)

    def largest_mix(self, ratio: float) -> int:
        """The largest peruvian_mix with this share of old_celebA that both halves allow."""
        limits = []
        if ratio > 0:
            limits.append(math.floor(self.accepted / ratio))
        if ratio < 1:
            limits.append(math.floor((self.peruvian or 0) / (1 - ratio)))
        return min(limits) if limits else 0


def qualifying(engine: Engine, peruvian: str | None = None) -> Qualifying:
    """What qualifies now: accepted images and their tags; with `peruvian` (a source name or
    folder, as the peruvian_mix form takes it) that side's image count too (default None)."""
    verdicts = [v for v in final_verdicts(engine).values() if v.verdict == "accept"]
    present = items_by_id(engine, [v.image_id for v in verdicts])
    kept = [v for v in verdicts if v.image_id in present]
    tagged = Counter(t for v in kept for t in set(v.tags))
    n_peru, problem = None, None
    if peruvian:
        from curate.export.peruvian_mix import peruvian_items
        try:
            n_peru = len(peruvian_items(engine, peruvian))
        except ExportError as e:
            n_peru, problem = 0, str(e)
    return Qualifying(len(kept), dict(tagged), n_peru, problem)
