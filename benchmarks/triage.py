"""Triage: how many looks a simulated team needs per accepted face, by assignment order.

A synthetic CelebA-style pool (curate.synth, `--old-share` sets the accept rate: 0.35 gives
about 20 %, 0.082 about 5 %) is ingested once; then, for each order (random, attributes,
model), a fresh copy of that database is labelled by a simulated team of two annotators who
decide from the ground truth with a 3 % error rate, in rounds of `--round` decisions appended
by the product's own `assign` (overlap 0.05). The model order starts with an attributes round
(there is no model yet) and retrains after every round (`curate triage train`, the product's
code), with the default 10 % exploration.

The figure is looks per accepted face, counted from the third round on (the model has then
learned from two rounds), up to the round that brings `--target` accepted faces (counted from
round 3), from the product's own per-round report (curate.triage.rounds). The limit is 1. The
target: model order closes at least half of the gap between attribute order and that limit.

Prints one JSON line per order, then one with the comparison. Generated pools are kept in
`--cache` (default /tmp/rostro-bench-triage) for later runs.

    python benchmarks/triage.py --images 20000 --old-share 0.35
    python benchmarks/triage.py --images 100000 --old-share 0.082 --seed 12
    python benchmarks/triage.py --images 2000 --round 200 --target 100 --epochs 5   # a smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `curate triage train` (triage/cli.py)

from sqlalchemy import insert, select  # noqa: E402

from curate import synth  # noqa: E402
from curate.assign import assign  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.rules import RULES  # noqa: E402
from curate.users import add_user  # noqa: E402
from curate.workspace import Workspace  # noqa: E402
from db.engine import reading, writing_connection  # noqa: E402
from db.models import Annotator, Assignment, AssignRoundSpan, Decision, Image  # noqa: E402

TEAM = ("ana", "luis")
OVERLAP = 0.05


def pool(cache: Path, images: int, old_share: float, seed: int) -> Path:
    """The generated, ingested pool (cached): a folder holding demo/ and rostro.db."""
    folder = cache / f"pool-{images}-{old_share}-{seed}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder / "ws", ignore_errors=True)
    ws = Workspace.resolve(folder / "ws")
    t = time.perf_counter()
    if not (folder / "celeba" / "ground_truth.csv").exists():  # written last: a whole set
        synth.write_celeba(folder / "celeba", images, seed=seed, old_share=old_share,
                           workers=os.cpu_count() or 1)
    engine = ws.open()
    ingest(engine, folder / "celeba" / "img_align_celeba", "celeba")
    for name in TEAM:
        add_user(engine, name, f"{name}-password-1")
    engine.dispose()
    (folder / "done").write_text(f"{time.perf_counter() - t:.1f}\n")
    return folder


def fresh_copy(folder: Path, arm: str) -> Workspace:
    ws_dir = folder / f"arm-{arm}"
    shutil.rmtree(ws_dir, ignore_errors=True)
    ws_dir.mkdir()
    src = sqlite3.connect(folder / "ws" / "rostro.db")
    dst = sqlite3.connect(ws_dir / "rostro.db")
    src.backup(dst)
    src.close()
    dst.close()
    return Workspace.resolve(ws_dir)


class Team:
    """Annotators who decide from the ground truth, wrong `error` of the time."""

    def __init__(self, engine, truth: dict, error: float, seed: int):
        self.engine, self.truth, self.error = engine, truth, error
        self.rng = np.random.default_rng(seed)
        with reading(engine) as s:
            self.ids = dict(s.execute(select(Annotator.name, Annotator.id)).all())
            self.files = {i: Path(r).name for i, r in s.execute(select(Image.id, Image.relpath))}

    def decide_round(self, round_id: int) -> int:
        """Decide every queue place the round appended; returns the looks."""
        with reading(self.engine) as s:
            rows = s.execute(
                select(Assignment.annotator_id, Assignment.image_id)
                .join(AssignRoundSpan, (AssignRoundSpan.annotator_id == Assignment.annotator_id)
                      & (Assignment.position >= AssignRoundSpan.first_position)
                      & (Assignment.position < AssignRoundSpan.end_position))
                .where(AssignRoundSpan.round_id == round_id).order_by(Assignment.position)).all()
        out = []
        for annotator, image in rows:
            t = self.truth[self.files[image]]
            verdict, rule = t["expected_verdict"], t["expected_rule"] or None
            tags = t["expected_tags"].split()
            if self.rng.random() < self.error:  # a mistake: the other verdict
                if verdict == "accept":
                    verdict, rule, tags = "reject", RULES[int(self.rng.integers(3))].key, []
                else:
                    verdict, rule, tags = "accept", None, []
            out.append(dict(image_id=image, annotator_id=annotator, verdict=verdict, rule=rule,
                            tags=tags, seconds=2.0))
        with writing_connection(self.engine) as c:
            for i in range(0, len(out), 5000):
                c.execute(insert(Decision), out[i:i + 5000])
        return len(out)


def run_arm(folder: Path, arm: str, a, truth: dict) -> dict:
    from curate.triage import rounds as tr
    ws = fresh_copy(folder, arm)
    engine = ws.open()
    team = Team(engine, truth, a.error, a.seed)
    per_round = []
    queue = 0
    true_accepts = sum(t["expected_verdict"] == "accept" for t in truth.values())
    room_for_2500 = true_accepts >= 2500 / 0.9  # the last tenth of a pool costs too much
    started = time.perf_counter()
    for r in range(1, a.max_rounds + 1):
        order = arm if arm != "model" or r > 1 else "attributes"
        queue += a.round // len(TEAM)
        report = assign(engine, per_annotator=queue, overlap=OVERLAP, order=order, seed=a.seed + r)
        if not report.total_added:
            break
        round_id = _newest_round(engine)
        team.decide_round(round_id)
        info = {"round": r, "order": order}
        if arm == "model":
            from curate.triage.config import TrainConfig
            from curate.triage.train import train
            rep = train(engine, ws, TrainConfig(seed=a.seed, side=a.side, epochs=a.epochs,
                                            **({} if a.pool_weight is None else {'pool_weight': a.pool_weight})))
            info.update(auc=rep.figures.get("auc"), train_s=rep.train_seconds,
                        score_s=rep.score_seconds, decisions=rep.decisions_used)
        looks = tr.looks_report(engine)
        mine = [x for x in looks.rounds if x.id is not None]
        info.update(looks=mine[-1].looks, accepted=mine[-1].accepted)
        per_round.append(info)
        later = mine[2:]
        total = sum(x.accepted for x in mine)
        if sum(x.accepted for x in later) >= a.target and (total >= 2500 or not room_for_2500):
            break
    rounds = tr.looks_report(engine).rounds
    mine = [x for x in rounds if x.id is not None]
    # From round 3 on, up to the round that brings the target (or every round run).
    later, upto = [], 0
    for x in mine[2:]:
        later.append(x)
        upto += x.accepted
        if upto >= a.target:
            break
    looks3, acc3 = sum(x.looks for x in later), sum(x.accepted for x in later)
    out = {
        "benchmark": "triage", "order": arm, "images": a.images, "old_share": a.old_share,
        "base_rate": round(float(np.mean([t["expected_verdict"] == "accept"
                                          for t in truth.values()])), 4),
        "round_size": a.round, "target": a.target, "rounds": len(mine),
        "looks_per_accept_from_round_3": round(looks3 / acc3, 3) if acc3 else None,
        "accepted_from_round_3": acc3, "looks_from_round_3": looks3,
        "target_reached_from_round_3": acc3 >= a.target,
        "looks_to_1000_accepted": _looks_to(mine, 1000),
        "looks_to_2500_accepted": _looks_to(mine, 2500),
        "seconds": round(time.perf_counter() - started, 1), "per_round": per_round,
        "device": "cpu" if not _cuda() else "cuda",
    }
    engine.dispose()
    return out


def _looks_to(rounds: list, accepted: int) -> int | None:
    """Looks from round 1 until `accepted` faces, the last round's taken pro rata; None when
    never reached."""
    looks = got = 0
    for x in rounds:
        if got + x.accepted >= accepted and x.accepted:
            return int(round(looks + x.looks * (accepted - got) / x.accepted))
        looks, got = looks + x.looks, got + x.accepted
    return None


def _cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


def _newest_round(engine) -> int:
    from db.models import AssignRound
    with reading(engine) as s:
        return int(s.scalar(select(AssignRound.id).order_by(AssignRound.id.desc()).limit(1)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=20_000)
    p.add_argument("--old-share", type=float, default=0.35,
                   help="0.35 ≈ 20 %% accepts, 0.082 ≈ 5 %% (with --images 100000: a smaller "
                        "5 %% pool runs out of accepts)")
    p.add_argument("--round", type=int, default=1000, help="decisions per round")
    p.add_argument("--target", type=int, default=1000, help="accepted faces, from round 3 on")
    p.add_argument("--orders", default="random,attributes,model")
    p.add_argument("--error", type=float, default=0.03)
    p.add_argument("--max-rounds", type=int, default=40)
    p.add_argument("--side", type=int, default=64)
    p.add_argument("--epochs", type=int, default=0, help="0: the trainer's default")
    p.add_argument("--pool-weight", type=float, default=None, help="default: the trainer's")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--cache", default="/tmp/rostro-bench-triage")
    a = p.parse_args()
    folder = pool(Path(a.cache), a.images, a.old_share, a.seed)
    truth = synth.read_truth(folder / "celeba" / "ground_truth.csv")
    results = {}
    for arm in a.orders.split(","):
        results[arm] = run_arm(folder, arm, a, truth)
        print(json.dumps(results[arm]), flush=True)
    if "attributes" in results and "model" in results:
        la = results["attributes"]["looks_per_accept_from_round_3"]
        lm = results["model"]["looks_per_accept_from_round_3"]
        closed = (la - lm) / (la - 1.0) if la and lm and la > 1 else None
        print(json.dumps({"benchmark": "triage_gap", "old_share": a.old_share,
                          "attributes": la, "model": lm, "limit": 1.0,
                          "gap_closed": None if closed is None else round(closed, 3),
                          "target_met": closed is not None and closed >= 0.5}), flush=True)


if __name__ == "__main__":
    main()
