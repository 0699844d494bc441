"""`curate demo`: the synthetic workspace — data, users and queues — ready to label."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from dataclasses import dataclass

from sqlalchemy import Engine, select

from curate import synth
from curate.assign import assign
from curate.ingest import ingest
from curate.settings import set_setting
from curate.users import DEMO_SETTING, add_user, is_demo
from curate.workspace import Workspace
from db.engine import reading
from db.models import Annotator, Source

log = logging.getLogger(__name__)

# The demo's logins (name, password, admin). Printed by `make run`; never use them for real data.
DEMO_USERS = (("admin", "admin", True), ("ana", "ana", False), ("luis", "luis", False))
DEMO_OVERLAP = 0.1


class DemoError(ValueError):
    """The workspace holds real data or users: the demo (with its admin/admin login) is refused."""


def _is_demo_workspace(ws: Workspace, engine: Engine) -> bool:
    """True for a new workspace or one the demo built; marks an older demo (built before the
    setting existed: only the demo's users and sources under demo/) as one."""
    if is_demo(engine):
        return True
    demo_names = {name for name, *_ in DEMO_USERS}
    with reading(engine) as s:
        names = set(s.scalars(select(Annotator.name)))
        roots = list(s.scalars(select(Source.root)))
    demo_root = ws.demo_dir.resolve()
    if not names <= demo_names or any(not Path(r).resolve().is_relative_to(demo_root)
                                      for r in roots):
        return False
    set_setting(engine, DEMO_SETTING, True)
    return True


@dataclass
class DemoReport:
    celeba_dir: str
    peruvian_dir: str
    celeba: int
    peruvian: int
    built: bool  # False when --if-missing found a demo already

    def summary(self) -> str:
        head = "demo workspace built" if self.built else "demo workspace already there"
        logins = ", ".join(f"{n}/{p}{' (admin)' if a else ''}" for n, p, a in DEMO_USERS)
        return (f"{head}: {self.celeba} CelebA-style images in {self.celeba_dir}, "
                f"{self.peruvian} peruvian_face-style images in {self.peruvian_dir}\n"
                f"logins (name/password): {logins}")


def build_demo(ws: Workspace, engine: Engine, *, count: int = 200, peruvian: int = 100,
               seed: int = 0, if_missing: bool = False, progress: bool = False,
               old_share: float = synth.OLD_SHARE, workers: int = 1) -> DemoReport:
    """Write the synthetic sets (default 200 CelebA-style + 100 peruvian), ingest them as
    sources `celeba` and `peruvian_face`, add the demo users and assign queues. `old_share`
    (default 0.35, about a 20 % accept rate) sets the share of CelebA-style faces over 55;
    0.08 gives about CelebA's 5 %. `workers` draws faces in that many processes."""
    celeba_dir = ws.demo_dir / "celeba"
    peru_dir = ws.demo_dir / "peruvian_face"
    report = DemoReport(str(celeba_dir / "img_align_celeba"), str(peru_dir), count, peruvian, True)
    if not _is_demo_workspace(ws, engine):
        raise DemoError(f"{ws.root} already holds users or images that are not the demo's; the "
                        "demo (with its admin/admin login) only goes into a new workspace")
    with reading(engine) as s:
        have_users = s.scalar(select(Annotator.id).limit(1)) is not None
    if if_missing and have_users and (celeba_dir / "list_attr_celeba.txt").exists():
        report.built = False
        return report
    synth.write_celeba(celeba_dir, count, seed=seed, old_share=old_share, workers=workers)
    synth.write_peruvian(peru_dir, peruvian, seed=seed)
    ingest(engine, celeba_dir / "img_align_celeba", "celeba", progress=progress)
    ingest(engine, peru_dir, "peruvian_face", progress=progress)
    with reading(engine) as s:
        existing = set(s.scalars(select(Annotator.name)))
    for name, password, admin in DEMO_USERS:
        if name not in existing:
            add_user(engine, name, password, admin=admin)
    n_annotators = sum(1 for *_, admin in DEMO_USERS if not admin)
    # Every image in some queue: k queues of N, each sharing overlap·N, use k·N·(1 − overlap/2).
    per = math.floor(count / (n_annotators * (1 - DEMO_OVERLAP / 2)))
    assign(engine, per_annotator=per, overlap=DEMO_OVERLAP, order="attributes", seed=seed,
           sources=["celeba"])
    return report
