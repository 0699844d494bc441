"""`curate export old-celeba`: the CelebA images whose verdict is accept, copied as they are.

Verdict (curate.decisions.final_verdicts): the admin's adjudication when there is one, else the
decisions made — an accept with no reject beside it (a queue still to decide changes nothing). Images carrying an
excluded tag are left out. When more qualify than --count, a seeded sample is taken; the
manifest lists the chosen images by image id, named 000001.jpg, … in that order.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from curate.decisions import FinalVerdict, final_verdicts
from curate.export import ExportError
from curate.export.common import Item, copy_items, items_by_id, output_name
from curate.export.folder import ExportResult, export_folder
from curate.export.records import check_destination
from curate.export.registry import OldCeleba
from curate.progress import Progress
from curate.rules import TAG_KEYS


def accepted(engine, exclude_tags: Iterable[str] = ()) -> list[Item]:
    """Every image whose final verdict is accept and that carries no excluded tag, by image id."""
    exclude = set(exclude_tags)
    unknown = exclude - TAG_KEYS
    if unknown:
        raise ExportError(f"unknown tag(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(TAG_KEYS))}")
    verdicts: dict[int, FinalVerdict] = final_verdicts(engine)
    ids = sorted(i for i, v in verdicts.items()
                 if v.verdict == "accept" and not exclude.intersection(v.tags))
    by_id = items_by_id(engine, ids)
    return [replace(by_id[i], provenance=verdicts[i].provenance) for i in ids if i in by_id]


def sample(items: list[Item], count: int, rng: np.random.Generator) -> list[Item]:
    """`count` of the items chosen by rng, kept in their given order (all when count ≥ len)."""
    if count >= len(items):
        return list(items)
    chosen = sorted(rng.choice(len(items), size=count, replace=False).tolist())
    return [items[i] for i in chosen]


def export_old_celeba(engine, out: str | os.PathLike, *, progress: Progress = True,
                      **options) -> ExportResult:
    """Copy `count` accepted images into `out`, a sample picked by `seed`.

    options: the fields of registry.OldCeleba, where their defaults live (count 2500,
    exclude_tags none, allow_fewer False, seed 0). Refuses when fewer qualify, saying how
    many do, unless allow_fewer (then all are taken).
    """
    p = OldCeleba(**options)
    exclude = sorted(set(p.exclude_tags))
    final = check_destination(out, engine, p.kind)
    pool = accepted(engine, exclude)
    if len(pool) < p.count and not p.allow_fewer:
        tagged = f" without the tags {', '.join(exclude)}" if exclude else ""
        raise ExportError(f"only {len(pool)} image(s) are accepted{tagged}, fewer than --count "
                          f"{p.count}; pass --allow-fewer to export those {len(pool)}, or lower --count")
    if not pool:
        raise ExportError("no image is accepted yet: nothing to export")
    chosen = sample(pool, p.count, np.random.default_rng(p.seed))
    items = [replace(it, name=output_name(k, it)) for k, it in enumerate(chosen)]
    params = {"count": p.count, "exclude_tags": exclude, "allow_fewer": p.allow_fewer}
    counts = {"images": len(items), "qualifying": len(pool)}
    with export_folder(engine, final, p.kind, params, p.seed, reads=items) as w:
        copy_items(w.tmp, items, desc="old-celeba", progress=progress)
        w.done(items, counts)
    return w.result
