"""A workspace to attack exports in: 4 accepted CelebA-style images (tests.helpers.labelled),
12 Peruvian faces in a plain folder, and a private file beside them that no export may copy;
`tree` reads a folder back byte for byte, to show an attack changed nothing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from curate import synth
from curate.cli import main
from curate.workspace import Workspace
from db.engine import reading
from db.models import Export
from tests.helpers.labelled import label

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- not really\n"


@dataclass
class Site:
    """A workspace with 4 accepted CelebA-style images, 12 Peruvian faces and a private file."""

    ws: Workspace
    tmp: Path
    faces: Path  # a plain folder of 12 faces
    secret: Path  # tmp/private/id_rsa: what an attacker wants copied

    def run(self, *argv: str) -> int:
        return main(["--workspace", str(self.ws.root), *map(str, argv)])

    def rows(self) -> list[tuple[str, str]]:
        with reading(self.ws.engine()) as s:
            return s.execute(select(Export.path, Export.state).order_by(Export.id)).all()


def make_site(tmp: Path, faces: int = 12) -> Site:
    """The Site in folder `tmp` (workspace tmp/ws), with `faces` Peruvian faces (default 12)."""
    ws = Workspace.resolve(tmp / "ws")
    engine = ws.open()
    synth.write_celeba(tmp / "celeba", 8, seed=5)
    label(engine, tmp / "celeba" / "img_align_celeba")
    synth.write_peruvian(tmp / "peru", faces, seed=2)
    (tmp / "private").mkdir()
    (tmp / "private" / "id_rsa").write_bytes(SECRET)
    return Site(ws, tmp, tmp / "peru", tmp / "private" / "id_rsa")


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under a folder → its bytes (None for a folder): to compare byte for byte."""
    return {p.relative_to(folder).as_posix(): (None if p.is_dir() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}
