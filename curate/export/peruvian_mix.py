"""`curate export peruvian-mix`: the seed's seeded mix of peruvian_face and old_celebA.

round(count · ratio) images are drawn from old_celebA (an old-celeba export given with --old,
else every image accepted in the database) and the rest from the Peruvian set (a source name
in the database, or a folder: a registered source's root, an export, or plain images). Each
side is a seeded sample without replacement; the two are then shuffled together with the same
seed and named 000001.jpg, … (original bytes, original extension).
"""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from curate.export import ExportError
from curate.export.common import Item, copy_items, items_from, output_name, source_items
from curate.export.folder import ExportResult, export_folder
from curate.export.records import check_destination
from curate.export.old_celeba import accepted, sample
from curate.export.registry import PeruvianMix
from curate.progress import Progress


def peruvian_items(engine, where: str | os.PathLike) -> list[Item]:
    """SOURCE_OR_DIR: a database source by name, else a folder (see common.items_from)."""
    if engine is not None:
        items = source_items(engine, str(where))
        if items:
            return items
        if items is not None:
            raise ExportError(f"--peruvian {where}: the source holds no images; nothing to mix")
    folder = Path(where).expanduser().resolve()
    if not folder.is_dir():
        raise ExportError(f"--peruvian {where}: no source of that name in the database and no "
                          "such folder")
    return items_from(folder, engine)


def split_count(count: int, ratio: float, n_old: int, n_peru: int,
                allow_fewer: bool) -> tuple[int, int]:
    """(old, peruvian) to draw; raises ExportError when a side is short and not allow_fewer."""
    want_old = int(round(count * ratio))
    want_peru = count - want_old
    if want_old <= n_old and want_peru <= n_peru:
        return want_old, want_peru
    if not allow_fewer:
        raise ExportError(
            f"a mix of {count} at ratio {ratio} needs {want_old} old_celebA and {want_peru} "
            f"Peruvian images; there are {n_old} and {n_peru}. Lower --count, or pass "
            "--allow-fewer for the largest mix with that ratio")
    limits = [count]
    if ratio > 0:
        limits.append(math.floor(n_old / ratio))
    if ratio < 1:
        limits.append(math.floor(n_peru / (1 - ratio)))
    total = min(limits)
    old = min(int(round(total * ratio)), n_old)
    return old, min(total - old, n_peru)


def export_peruvian_mix(engine, out: str | os.PathLike, *, progress: Progress = True,
                        **options) -> ExportResult:
    """Write the seeded mix of `peruvian` (required) and old_celebA to `out`.

    options: the fields of registry.PeruvianMix, where their defaults live (peruvian, old
    None = every accepted image, count 5000, ratio 0.5, allow_fewer False, seed 0).
    """
    p = PeruvianMix(**options)
    final = check_destination(out, engine, p.kind)
    peru = peruvian_items(engine, p.peruvian)
    olds = items_from(p.old, engine) if p.old is not None else accepted(engine)
    n_old, n_peru = split_count(p.count, p.ratio, len(olds), len(peru), p.allow_fewer)
    if n_old + n_peru == 0:
        raise ExportError("nothing to mix: both sides are empty")
    rng = np.random.default_rng(p.seed)
    chosen = sample(olds, n_old, rng) + sample(peru, n_peru, rng)
    order = rng.permutation(len(chosen)).tolist()
    items = [replace(chosen[j], name=output_name(k, chosen[j])) for k, j in enumerate(order)]
    params = {"peruvian": str(p.peruvian),
              "old": None if p.old is None else str(Path(p.old).resolve()),
              "count": p.count, "ratio": p.ratio, "allow_fewer": p.allow_fewer}
    counts = {"images": len(items), "old_celeba": n_old, "peruvian": n_peru}
    with export_folder(engine, final, p.kind, params, p.seed, reads=items) as w:
        copy_items(w.tmp, items, desc="peruvian-mix", progress=progress)
        w.done(items, counts)
    return w.result
