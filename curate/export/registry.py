"""The export kinds, each as kind → params dataclass → function; the CLI and the Export page
are both built from this table.

A params dataclass is the one place where an export's settings are declared: each field's
default, its help (shown by --help, with the default appended), and how the Export page shows
it (`page=`; a field without one is CLI-only). It validates in __post_init__, so a bad value is
refused before anything is read or written, whichever front made it.

Each kind has one spelling, its `kind` ("old_celeba", "peruvian_mix", "sketch_pairs", "lmdb").
It is what export.json and the database's `exports` table hold — the spelling every export
folder and row written so far already carries, so they read back unchanged. The command line
writes it with hyphens like every flag (`export old-celeba`, from `cli_name`), and the Export
page shows the dataset's name (`title`: old_celebA, …). kind_of() reads any of these spellings
back as the kind: it is the one place where other spellings are understood.

Nothing heavy is imported here: an exporter's module is imported only when it runs, so
`python -m curate --help` stays quick. (No `from __future__ import annotations`: the CLI reads
each field's type, e.g. `float` for --detail, whose default is written as 15.)
"""
import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from curate.export import ExportError
from curate.rules import TAGS

if TYPE_CHECKING:
    from curate.export.folder import ExportResult

MIN_SIZE, MAX_SIZE = 4, 2048  # LMDB sizes: powers of two in this range


def option(default: Any = dataclasses.MISSING, help: str = "", *, cli: dict | None = None,
           page: dict | None = None) -> Any:
    """A params field: its default (none given: required) and help, plus optional argparse
    settings (`cli`: flag, metavar, action, nargs, type; read by curate.cli) and Export page
    settings (`page`: label, widget and the widget's arguments; read by curate.app.export)."""
    return field(default=default, metadata={"help": help, "cli": cli or {}, "page": page})


def _seed(help: str) -> Any:
    return option(0, help, page={"label": "Seed", "min_value": 0})


def _source() -> Any:
    return option(help="an export folder (its manifest order) or a folder of images (sorted)",
                  cli={"flag": "--from", "metavar": "EXPORT_OR_DIR"},
                  page={"label": "From (an export folder or a folder of images)", "path": True})


def _workers() -> Any:
    return option(None, "processes (default: all cores)")


def _allow_fewer(help: str) -> Any:
    return option(False, help, page={"label": "Take fewer when fewer qualify"})


@dataclass(frozen=True)
class OldCeleba:
    """`export old-celeba`: a seeded sample of the CelebA images accepted under the rules."""

    kind: ClassVar[str] = "old_celeba"
    count: int = option(2500, "images to export",  # the seed's old_celebA size
                        page={"label": "Images", "min_value": 1})
    exclude_tags: tuple[str, ...] = option(
        (), "leave out images with these tags (one or more, repeatable), e.g. two_faces",
        cli={"flag": "--exclude-tag", "action": "extend", "nargs": "+", "metavar": "TAG"},
        page={"label": "Leave out images tagged", "options": [t.key for t in TAGS]})
    allow_fewer: bool = _allow_fewer("export all that qualify when fewer than --count do")
    seed: int = _seed("sampling seed")

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ExportError(f"--count must be at least 1, got {self.count}")


@dataclass(frozen=True)
class PeruvianMix:
    """`export peruvian-mix`: the seed's seeded mix of peruvian_face and old_celebA."""

    kind: ClassVar[str] = "peruvian_mix"
    peruvian: str = option(help="a source name in the database, or a folder of images",
                           cli={"metavar": "SOURCE_OR_DIR"},
                           page={"label": "peruvian_face source name or folder",
                                 "value": "peruvian_face"})
    old: str | None = option(
        None, "an old-celeba export (default: every accepted image in the database)",
        cli={"metavar": "OLD_CELEBA_EXPORT"},
        page={"label": "old_celebA export folder (empty: every accepted image)", "path": True})
    count: int = option(5000, "images in the mix",  # the seed's mix size
                        page={"label": "Images", "min_value": 2})
    ratio: float = option(0.5, "share of old_celebA",
                          page={"label": "Share of old_celebA", "widget": "slider",
                                "min_value": 0.0, "max_value": 1.0, "step": 0.05})
    allow_fewer: bool = _allow_fewer("the largest mix with that ratio when a side is short")
    seed: int = _seed("sampling seed")

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ExportError(f"--count must be at least 1, got {self.count}")
        if not 0 <= self.ratio <= 1:
            raise ExportError(f"--ratio {self.ratio} must be in [0, 1]")


@dataclass(frozen=True)
class SketchPairs:
    """`export sketch-pairs`: photo | sketch pairs for pix2pix, split into train/ and val/."""

    kind: ClassVar[str] = "sketch_pairs"
    source: str = _source()
    size: int = option(256, "side of each half in pixels",
                       page={"label": "Size", "options": [64, 128, 256, 512]})
    val: float = option(0.2, "share in val/",
                        page={"label": "Validation share", "widget": "slider",
                              "min_value": 0.0, "max_value": 0.5, "step": 0.05})
    seed: int = _seed("split seed")
    # The seed's sketch effect (trainers.common.sketch): Photocopy, then Posterize.
    detail: float = option(15, "Photocopy detail")
    darkness: float = option(3, "Photocopy darkness")
    levels: int = option(10, "Posterize levels")
    workers: int | None = _workers()

    def __post_init__(self) -> None:
        if self.size < 8 or self.size & (self.size - 1):
            raise ExportError(f"--size {self.size} is not supported: a power of two of at "
                              "least 8 (e.g. 256)")
        if not 0 <= self.val < 1:
            raise ExportError(f"--val {self.val} must be in [0, 1)")
        for name, lo, hi in (("detail", 1, 24), ("darkness", 1, 50), ("levels", 2, 255)):
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise ExportError(f"--{name} {v} must be in [{lo}, {hi}]")


@dataclass(frozen=True)
class Lmdb:
    """`prepare`: the multi-resolution LMDB the StyleGAN trainer reads."""

    kind: ClassVar[str] = "lmdb"
    source: str = _source()
    sizes: tuple[int, ...] = option((8, 16, 32, 64), "powers of two, comma-separated",
                                    cli={"type": str}, page={"label": "Sizes (powers of two)"})
    workers: int | None = _workers()
    exact: bool = option(False, "resample every size from the full-resolution image (slower)")

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", parse_sizes(self.sizes))  # "8,16" from the CLI


def parse_sizes(text: str | list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """"8,16,32" → (8, 16, 32), sorted; raises ExportError for a size not a power of two
    from MIN_SIZE (4) to MAX_SIZE (2048)."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    sizes = set()
    for p in parts:
        try:
            s = int(str(p).strip())
        except ValueError:
            raise ExportError(f"size {p!r} is not a number") from None
        if s < MIN_SIZE or s > MAX_SIZE or s & (s - 1):
            raise ExportError(f"size {s} is not supported: sizes are powers of two from "
                              f"{MIN_SIZE} to {MAX_SIZE} (e.g. 8,16,32,64)")
        sizes.add(s)
    if not sizes:
        raise ExportError("no sizes given")
    return tuple(sorted(sizes))


@dataclass(frozen=True)
class Kind:
    """One export kind: its settings, the function that writes it, and how fronts name it."""

    params: type  # the params dataclass; its `kind` is the kind's one spelling
    function: str  # "module:function", imported when it runs
    command: str  # the command that writes it: `export <cli_name>`, or "prepare"
    summary: str  # the line --help shows
    title: str  # the Export page's name for it (the dataset's name)
    folder: str  # the Export page's default destination, under the workspace's exports/
    out_help: str = ("destination folder (replaced only when it is an earlier export of this "
                     "kind recorded in this database)")
    out_metavar: str | None = None

    @property
    def name(self) -> str:
        return self.params.kind

    @property
    def cli_name(self) -> str:
        return self.name.replace("_", "-")

    def run(self, engine, out, params: Any, *, progress: bool = True) -> "ExportResult":
        """Write this kind with `params` (an instance of self.params) to `out`."""
        module, function = self.function.split(":")
        fn = getattr(importlib.import_module(module), function)
        return fn(engine, out, progress=progress, **values(params))


def shown(value: Any) -> str:
    """A default as people type it: (8, 16) → "8,16", 0.5 → "0.5", 15 → "15"."""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def values(params: Any) -> dict[str, Any]:
    """The fields of a params dataclass as keywords (not deep-copied, unlike asdict)."""
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind(OldCeleba, "curate.export.old_celeba:export_old_celeba", "export",
         "the accepted CelebA images (seed: 2,500)", "old_celebA", "old_celebA"),
    Kind(PeruvianMix, "curate.export.peruvian_mix:export_peruvian_mix", "export",
         "seeded mix of peruvian_face and old_celebA", "peruvian_mix", "peruvian_mix"),
    Kind(SketchPairs, "curate.export.sketch_pairs:export_sketch_pairs", "export",
         "photo | sketch pairs for pix2pix, 80/20 train/val", "sketch pairs", "sketch_pairs"),
    Kind(Lmdb, "curate.export.lmdb:prepare", "prepare",
         "write the multi-resolution LMDB for the StyleGAN trainer", "LMDB", "faces.lmdb",
         out_help="destination LMDB folder (replaced only when it is an earlier LMDB recorded "
                  "in this database)", out_metavar="LMDB_OUT"),
)}
PHOTO_KINDS = ("old_celeba", "peruvian_mix")  # exports of the original photos, byte for byte


def kind_of(spelling: str | None) -> str | None:
    """The kind any spelling names — the stored one, the CLI's ("old-celeba") or the page's
    ("old_celebA", "sketch pairs", "LMDB") — or None when it names none."""
    if spelling is None:
        return None
    name = spelling.strip().casefold().replace("-", "_").replace(" ", "_")
    return name if name in KINDS else None
