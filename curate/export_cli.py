"""CLI commands `export`, `prepare` and `labels` (loaded by curate.cli as a plugin).

Each calls the same function the app's Export page does; every user-facing failure becomes
a CliError ("error: …", exit status 2).
"""
from __future__ import annotations

import sys

from curate.cli import CliError, command


def _export_args(p):
    sub = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    old = sub.add_parser("old-celeba", help="the accepted CelebA images (seed: 2,500)")
    old.add_argument("out", help="destination folder (replaced when it is an earlier export)")
    old.add_argument("--count", type=int, default=2500, help="images to export (default 2500)")
    old.add_argument("--exclude-tag", action="extend", nargs="+", dest="exclude_tags", default=[],
                     metavar="TAG", help="leave out images with these tags (one or more, "
                     "repeatable), e.g. two_faces")
    old.add_argument("--allow-fewer", action="store_true",
                     help="export all that qualify when fewer than --count do")
    old.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")

    mix = sub.add_parser("peruvian-mix", help="seeded mix of peruvian_face and old_celebA")
    mix.add_argument("out", help="destination folder")
    mix.add_argument("--peruvian", required=True, metavar="SOURCE_OR_DIR",
                     help="a source name in the database, or a folder of images")
    mix.add_argument("--old", metavar="OLD_CELEBA_EXPORT",
                     help="an old-celeba export (default: every accepted image in the database)")
    mix.add_argument("--count", type=int, default=5000, help="images in the mix (default 5000)")
    mix.add_argument("--ratio", type=float, default=0.5, help="share of old_celebA (default 0.5)")
    mix.add_argument("--allow-fewer", action="store_true",
                     help="the largest mix with that ratio when a side is short")
    mix.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")

    sk = sub.add_parser("sketch-pairs", help="photo | sketch pairs for pix2pix, 80/20 train/val")
    sk.add_argument("out", help="destination folder")
    sk.add_argument("--from", dest="source", required=True, metavar="EXPORT_OR_DIR",
                    help="an export folder (its manifest order) or a folder of images (sorted)")
    sk.add_argument("--size", type=int, default=256, help="side of each half in pixels (default 256)")
    sk.add_argument("--val", type=float, default=0.2, help="share in val/ (default 0.2)")
    sk.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    sk.add_argument("--detail", type=float, default=15, help="Photocopy detail (default 15)")
    sk.add_argument("--darkness", type=float, default=3, help="Photocopy darkness (default 3)")
    sk.add_argument("--levels", type=int, default=10, help="Posterize levels (default 10)")
    sk.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


@command("export", "write a dataset folder (old-celeba, peruvian-mix, sketch-pairs)", _export_args)
def _export(a, ws):
    from curate.export.common import ExportError
    progress = sys.stderr.isatty()
    try:
        engine = ws.open()
        if a.kind == "old-celeba":
            from curate.export.old_celeba import export_old_celeba
            r = export_old_celeba(engine, a.out, count=a.count, exclude_tags=a.exclude_tags,
                                  seed=a.seed, allow_fewer=a.allow_fewer, progress=progress)
        elif a.kind == "peruvian-mix":
            from curate.export.peruvian_mix import export_peruvian_mix
            r = export_peruvian_mix(engine, a.out, peruvian=a.peruvian, old=a.old, count=a.count,
                                    ratio=a.ratio, seed=a.seed, allow_fewer=a.allow_fewer,
                                    progress=progress)
        else:
            from curate.export.sketch_pairs import export_sketch_pairs
            r = export_sketch_pairs(engine, a.out, a.source, size=a.size, val=a.val, seed=a.seed,
                                    detail=a.detail, darkness=a.darkness, levels=a.levels,
                                    workers=a.workers, progress=progress)
    except (ExportError, FileExistsError) as e:
        raise CliError(str(e)) from None
    print(r.summary())
    return 0


def _prepare_args(p):
    p.add_argument("out", metavar="LMDB_OUT", help="destination LMDB folder")
    p.add_argument("--from", dest="source", required=True, metavar="EXPORT_OR_DIR",
                   help="an export folder (its manifest order) or a folder of images (sorted)")
    p.add_argument("--sizes", default="8,16,32,64",
                   help="powers of two, comma-separated (default 8,16,32,64)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--exact", action="store_true",
                   help="resample every size from the full-resolution image (slower)")


@command("prepare", "write the multi-resolution LMDB for the StyleGAN trainer", _prepare_args)
def _prepare(a, ws):
    from curate.export.common import ExportError
    from curate.export.lmdb import prepare
    try:
        r = prepare(ws.open(), a.out, a.source, sizes=a.sizes, workers=a.workers, exact=a.exact,
                    progress=sys.stderr.isatty())
    except (ExportError, FileExistsError) as e:
        raise CliError(str(e)) from None
    print(r.summary())
    return 0


def _labels_args(p):
    p.add_argument("out", metavar="LABELS", help="LABELS.csv or LABELS.parquet")


@command("labels", "write every decision (annotator, rule, tags, times) to CSV or Parquet",
         _labels_args)
def _labels(a, ws):
    from curate.export.labels import write_labels
    try:
        n = write_labels(ws.open(), a.out)
    except ValueError as e:
        raise CliError(str(e)) from None
    print(f"{n} rows written to {a.out}")
    return 0
