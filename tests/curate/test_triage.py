"""Triage: what it learns from, what it refuses, what it writes, and that its order pays off."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import insert, select

from curate import synth
from curate.assign import AssignError, assign, model_order
from curate.ingest import ingest
from curate.triage import data as td
from curate.triage import job, rounds, store
from curate.triage.config import TrainConfig, TriageError
from curate.triage.model import (FORMAT, ONE_NETWORK, Committee, Ranker, TriageModelError, load,
                                 predict, save)
from curate.triage.train import train, training_lock
from curate.users import add_user
from curate.workspace import Workspace
from db.engine import reading, writing, writing_connection
from db.models import (Adjudication, Assignment, AssignRound, AssignRoundSpan,
                       Decision, Image, TriageScore, Verdict)

REPO = Path(__file__).resolve().parents[2]
TINY = TrainConfig(side=32, width=8, epochs=6, workers=1)  # seconds, not minutes


def _team(engine, tmp_path, count: int, seed: int = 5, old_share: float = 0.35):
    synth.write_celeba(tmp_path / "c", count, seed=seed, old_share=old_share)
    ingest(engine, tmp_path / "c" / "img_align_celeba", "celeba", progress=False, workers=1)
    ids = {n: add_user(engine, n, f"{n}-password") for n in ("ana", "luis", "bea")}
    truth = synth.read_truth(tmp_path / "c" / "ground_truth.csv")
    return ids, truth


def _files(engine) -> dict[int, str]:
    with reading(engine) as s:
        return {i: Path(r).name for i, r in s.execute(select(Image.id, Image.relpath))}


def _decide_queue(engine, truth, annotator: int, n: int | None = None) -> list[int]:
    """The annotator decides their first n undecided queue images as the rules say."""
    files = _files(engine)
    with reading(engine) as s:
        done = set(s.scalars(select(Decision.image_id).where(Decision.annotator_id == annotator)))
        queue = [i for i in s.scalars(select(Assignment.image_id).where(
            Assignment.annotator_id == annotator).order_by(Assignment.position)) if i not in done]
    queue = queue[:n] if n is not None else queue
    rows = []
    for image in queue:
        verdict, rule, tags = _expected(truth[files[image]])
        rows.append(dict(image_id=image, annotator_id=annotator, verdict=verdict, rule=rule,
                         tags=tags, seconds=1.0))
    with writing_connection(engine) as c:
        c.execute(insert(Decision), rows)
    return queue


def _expected(t: dict):
    return t["expected_verdict"], t["expected_rule"] or None, t["expected_tags"].split()


def _accepts(engine, truth, image_ids) -> int:
    files = _files(engine)
    return sum(truth[files[i]]["expected_verdict"] == "accept" for i in image_ids)


# --- what it learns from ------------------------------------------------------------------------
def _image_rows(engine, n: int) -> list[int]:
    """n image rows (no files), one source."""
    from db.models import Source
    with writing(engine) as s:
        src = Source(name="celeba", root="/nonexistent")
        s.add(src)
        s.flush()
        s.add_all(Image(source_id=src.id, relpath=f"{i}.jpg", content_hash=f"{i:064x}", phash=i,
                        width=178, height=218, mode="RGB", file_size=1) for i in range(n))
        s.flush()
        return list(s.scalars(select(Image.id).order_by(Image.id)))


def test_targets_are_the_standing_verdicts(engine):
    ids = _image_rows(engine, 6)
    ana = add_user(engine, "ana", "ana-password")
    luis = add_user(engine, "luis", "luis-password")
    lead = add_user(engine, "lead", "lead-password", admin=True)
    A, R, S, U = Verdict.accept, Verdict.reject, Verdict.skip, Verdict.undo
    rows = [
        (ids[0], ana, A, None, ["two_faces"]),  # an accept with a tag
        (ids[1], ana, R, "too_young", []), (ids[1], luis, A, None, []),  # disputed, unsettled
        (ids[2], ana, A, None, []), (ids[2], ana, U, None, []),  # undone: no target
        (ids[3], ana, S, None, []),  # a skip: no target
        (ids[4], ana, A, None, []), (ids[4], luis, R, "not_facing", []),  # settled below
        (ids[5], ana, A, None, []), (ids[5], ana, R, "looks_young", []),  # the newest counts
    ]
    with writing(engine) as s:
        for image, who, verdict, rule, tags in rows:
            s.add(Decision(image_id=image, annotator_id=who, verdict=verdict, rule=rule, tags=tags))
        s.add(Adjudication(image_id=ids[4], admin_id=lead, verdict=R, rule="not_facing", tags=[]))
    t = td.read_targets(engine)
    got = {int(i): (float(a), int(r), list(tags)) for i, a, r, tags in
           zip(t.image_ids, t.accept, t.rule, t.tags)}
    assert set(got) == {ids[0], ids[4], ids[5]}
    assert got[ids[0]] == (1.0, -1, [0.0, 0.0, 0.0, 1.0])  # two_faces is the 4th tag
    assert got[ids[4]][:2] == (0.0, td.RULE_KEYS.index("not_facing"))  # the lead's verdict
    assert got[ids[5]][:2] == (0.0, td.RULE_KEYS.index("looks_young"))
    assert (t.disputed, t.adjudicated) == (1, 1)


def test_nothing_to_learn_from_is_refused_in_one_line(sqlite_engine, tmp_path):
    engine = sqlite_engine
    ws = Workspace.resolve(tmp_path / "ws", str(engine.url))
    ids, truth = _team(engine, tmp_path, 70)
    with pytest.raises(TriageError, match="no decisions to learn from yet"):
        train(engine, ws, TINY)
    assign(engine, per_annotator=70, overlap=0.0, order="random", annotators=["ana"])
    files = _files(engine)
    with writing(engine) as s:  # 40 decisions, all rejects
        for image in list(files)[:40]:
            s.add(Decision(image_id=image, annotator_id=ids["ana"], verdict=Verdict.reject,
                           rule="too_young", tags=[]))
    with pytest.raises(TriageError, match="only 40 images have an agreed verdict"):
        train(engine, ws, TINY)
    with writing(engine) as s:
        for image in list(files)[40:60]:
            s.add(Decision(image_id=image, annotator_id=ids["ana"], verdict=Verdict.reject,
                           rule="not_facing", tags=[]))
    with pytest.raises(TriageError, match="all 60 decided images were rejected"):
        train(engine, ws, TINY)
    out = subprocess.run([sys.executable, "-m", "curate", "--workspace", str(ws.root),
                          "--database-url", str(engine.url), "triage", "train", "--side", "32",
                          "--epochs", "2"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: all 60 decided images were rejected: the model needs both accepts and rejects "
        "to learn from"]
    with pytest.raises(AssignError, match="no triage model yet"):
        assign(engine, per_annotator=10, order="model", annotators=["luis"])


# --- what it writes -------------------------------------------------------------------------------
@pytest.fixture
def decided(sqlite_engine, tmp_path):
    """120 synthetic faces; ana decided 80 of her queue as the rules say; one file is gone bad."""
    engine = sqlite_engine
    ws = Workspace.resolve(tmp_path / "ws", str(engine.url))
    ids, truth = _team(engine, tmp_path, 120)
    assign(engine, per_annotator=90, overlap=0.0, order="random", seed=1, annotators=["ana"])
    decided_ids = _decide_queue(engine, truth, ids["ana"], 80)
    return engine, ws, ids, truth, decided_ids


def test_train_scores_every_image_and_the_same_seed_gives_the_same_model(decided, tmp_path):
    engine, ws, ids, truth, decided_ids = decided
    files = _files(engine)
    bad = tmp_path / "c" / "img_align_celeba" / files[decided_ids[0]]
    bad.write_bytes(bad.read_bytes()[:200])  # truncated after the ingest: skipped, counted
    first = train(engine, ws, TINY)
    second = train(engine, ws, TINY)
    assert (first.version, second.version) == (1, 2)
    assert first.decisions_used == 79 and first.unreadable == 1
    assert first.scored == 119  # every ingested image but the bad one
    a, _ = load(ws.root / "triage/models/0001.pt")
    b, meta = load(ws.root / "triage/models/0002.pt")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert meta["decisions_used"] == 79 and meta["seed"] == 0
    # A committee of two networks from different starts; its p(accept) is their mean.
    assert meta["members"] == 2 and len(b.members) == 2
    first_layer = [m.features[0].weight for m in b.members]
    assert not torch.equal(*first_layer)
    x = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    attrs = torch.zeros(5, td.N_ATTRIBUTES)
    one = [Committee.of([m]) for m in b.members]
    mean = (predict(one[0], x, attrs)[0] + predict(one[1], x, attrs)[0]) / 2
    assert torch.allclose(predict(b, x, attrs)[0], mean)
    assert 0.0 <= meta["figures"]["auc"] <= 1.0
    with reading(engine) as s:
        got = s.execute(select(TriageScore.model_version, TriageScore.p_accept)).all()
    assert len(got) == 119 and {v for v, _ in got} == {2}
    assert all(0.0 <= p <= 1.0 for _, p in got)
    assert not list((ws.root / "triage" / "models").glob(".*.tmp"))
    info = store.latest_model(engine)
    assert (info.version, info.scored, info.decisions_used) == (2, 119, 79)


def test_a_second_training_is_refused_while_one_runs(decided):
    engine, ws, *_ = decided
    with training_lock(ws):
        assert job.is_running(ws)
        with pytest.raises(TriageError, match="already running"):
            train(engine, ws, TINY)
        assert job.start(ws) is False
    assert not job.is_running(ws)



def test_a_worker_that_cannot_start_is_said_in_one_line(tmp_path, monkeypatch):
    ws = Workspace.resolve(tmp_path / "ws")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(TriageError, match="^the training could not start: ") as e:
        job.start(ws)
    assert "\n" not in str(e.value)
    assert not job.is_running(ws)

def _write(path: Path, obj) -> Path:
    torch.save(obj, path)
    return path


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {_Evil.marker}",))


def test_files_that_are_not_triage_models_are_refused(tmp_path):
    good = Committee(members=2, side=32, width=8)
    meta = dict(side=32, width=8, members=2, n_attributes=41, n_rules=3, n_tags=4)
    save(good, meta, tmp_path / "ok.pt")
    assert load(tmp_path / "ok.pt")[1]["side"] == 32
    # A one-network file (format 2, before committees) reads as a committee of one.
    single = Ranker(side=32, width=8)
    _write(tmp_path / "one.pt", {"format": ONE_NETWORK, "state_dict": single.state_dict(),
                                 "meta": dict(meta, members=1)})
    one, _ = load(tmp_path / "one.pt")
    assert len(one.members) == 1
    assert torch.equal(one.members[0].accept.weight, single.accept.weight)
    (tmp_path / "noise.pt").write_bytes(os.urandom(4096))
    _Evil.marker = str(tmp_path / "pwned")
    with (tmp_path / "evil.pt").open("wb") as f:
        pickle.dump({"format": FORMAT, "x": _Evil()}, f)
    state = good.state_dict()
    wrong = dict(state, **{"members.1.accept.weight": torch.zeros(1, 7)})
    stride0 = dict(state, **{"members.0.accept.weight": torch.zeros(1).expand(1, 128)})
    nan = dict(state, **{"members.1.accept.bias": torch.tensor([float("nan")])})
    cases = {
        "noise.pt": None,
        "evil.pt": None,
        "format.pt": _write(tmp_path / "format.pt", {"format": "other", "state_dict": state, "meta": meta}),
        "huge.pt": _write(tmp_path / "huge.pt", {"format": FORMAT, "state_dict": state,
                                                  "meta": dict(meta, side=4096, width=10**9)}),
        "crowd.pt": _write(tmp_path / "crowd.pt", {"format": FORMAT, "state_dict": state,
                                                    "meta": dict(meta, members=10**6)}),
        "fewer.pt": _write(tmp_path / "fewer.pt", {"format": FORMAT, "state_dict": state,
                                                    "meta": dict(meta, members=1)}),
        "shape.pt": _write(tmp_path / "shape.pt", {"format": FORMAT, "state_dict": wrong, "meta": meta}),
        "stride.pt": _write(tmp_path / "stride.pt", {"format": FORMAT, "state_dict": stride0, "meta": meta}),
        "nan.pt": _write(tmp_path / "nan.pt", {"format": FORMAT, "state_dict": nan, "meta": meta}),
        "list.pt": _write(tmp_path / "list.pt", [1, 2, 3]),
    }
    for name in cases:
        with pytest.raises(TriageModelError) as e:
            load(tmp_path / name)
        assert "\n" not in str(e.value) and name in str(e.value)
    assert not (tmp_path / "pwned").exists()


# --- ranked rounds --------------------------------------------------------------------------------
def test_model_order_keeps_its_explore_share_drawn_from_below():
    available = list(range(100))
    p = {i: i / 100 for i in available}  # higher id, higher p
    order = model_order(available, p, 0.0, 40, 0.1, seed=3)
    taken = order[:40]
    top36 = set(range(99, 63, -1))
    assert len(set(taken)) == 40 and sorted(order) == available
    drawn = [i for i in taken if i not in top36]
    assert len(drawn) == 4 and all(i < 64 for i in drawn)  # from the rest, not the top
    assert [taken.index(i) for i in drawn] == sorted(taken.index(i) for i in drawn)
    gaps = np.diff([taken.index(i) for i in drawn])
    assert gaps.min() >= 9  # spread along the round, not bunched
    assert model_order(available, p, 0.0, 40, 0.0, seed=3)[:40] == sorted(top36 | {63, 62, 61, 60},
                                                                           reverse=True)


@pytest.mark.slow
def test_a_model_ranked_round_beats_a_random_round_and_moves_no_decided_position(
        sqlite_engine, tmp_path):
    engine = sqlite_engine
    ws = Workspace.resolve(tmp_path / "ws", str(engine.url))
    ids, truth = _team(engine, tmp_path, 400, seed=9)
    assign(engine, per_annotator=150, overlap=0.0, order="random", seed=1, annotators=["ana"])
    _decide_queue(engine, truth, ids["ana"], 140)
    with reading(engine) as s:
        before = s.execute(select(Assignment.position, Assignment.image_id)
                           .where(Assignment.annotator_id == ids["ana"])).all()
    train(engine, ws, TrainConfig(side=32, width=8, epochs=30, workers=1))
    model_round = assign(engine, per_annotator=160, overlap=0.0, order="model", seed=2,
                         annotators=["ana", "luis"], explore=0.1)
    random_round = assign(engine, per_annotator=80, overlap=0.0, order="random", seed=2,
                          annotators=["bea"])
    assert model_round.added == {"ana": 10, "luis": 160} and random_round.added == {"bea": 80}
    with reading(engine) as s:
        after = s.execute(select(Assignment.position, Assignment.image_id)
                          .where(Assignment.annotator_id == ids["ana"])).all()
        luis = list(s.scalars(select(Assignment.image_id).where(
            Assignment.annotator_id == ids["luis"]).order_by(Assignment.position)))
        bea = list(s.scalars(select(Assignment.image_id).where(
            Assignment.annotator_id == ids["bea"]).order_by(Assignment.position)))
        spans = s.execute(select(AssignRound.order_name, AssignRoundSpan.annotator_id,
                                 AssignRoundSpan.first_position, AssignRoundSpan.end_position)
                          .join(AssignRoundSpan)).all()
    assert set(before) <= set(after)  # decided positions never move
    assert ("model", ids["ana"], 150, 160) in spans and ("model", ids["luis"], 0, 160) in spans
    model_hits = _accepts(engine, truth, luis[:80]) / 80
    random_hits = _accepts(engine, truth, bea) / 80
    assert model_hits > random_hits + 0.1, (model_hits, random_hits)


def test_looks_per_accepted_face_by_round(sqlite_engine, tmp_path):
    engine = sqlite_engine
    ids, truth = _team(engine, tmp_path, 60, seed=4)
    assign(engine, per_annotator=20, overlap=0.0, order="attributes", annotators=["ana"])
    assign(engine, per_annotator=30, overlap=0.0, order="random", annotators=["ana"])
    first = _decide_queue(engine, truth, ids["ana"], 25)  # all of round 1, half of round 2
    report = rounds.looks_report(engine, target=50)
    r1, r2 = report.rounds
    assert (r1.order, r1.assigned, r1.looks) == ("attributes", 20, 20)
    assert (r2.order, r2.assigned, r2.looks) == ("random", 10, 5)
    assert r1.accepted == _accepts(engine, truth, first[:20])
    assert r2.accepted == _accepts(engine, truth, first[20:])
    assert report.accepted_total == r1.accepted + r2.accepted
    if r2.accepted:
        assert report.projected_looks_left == round((50 - report.accepted_total) * 5 / r2.accepted)
    assert report.per_accept(True) is None  # no model round yet
    assert "round 1 (attributes): 20 looks" in report.summary()


# --- a kill -9, and the server process ------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_training_killed_mid_run_leaves_nothing_half_written(decided):
    engine, ws, *_ = decided
    env = dict(os.environ, ROSTRO_WORKSPACE=str(ws.root), ROSTRO_DATABASE_URL=str(engine.url))
    proc = subprocess.Popen([sys.executable, "-m", "curate.triage.worker", "--side", "32",
                             "--epochs", "200", "--workers", "2"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline:
        status = job.read_status(ws)
        workers = workers or _children(proc.pid)
        if status.state == "running" and status.phase == "train" and status.done > 0:
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.1)
    else:
        pytest.fail("the training never reached its training phase")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert job.read_status(ws).state == "stopped"
    assert not job.is_running(ws)
    assert store.latest_model(engine) is None
    assert not list((ws.root / "triage" / "models").glob("*.pt"))
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), "a decoding worker outlived the training"
    report = train(engine, ws, TINY)  # the next run works, and leaves no temp file behind
    assert report.version == 1
    assert not list((ws.root / "triage").rglob(".*.tmp"))


@pytest.mark.slow
def test_admin_trains_in_a_worker_and_the_server_never_imports_torch(decided):
    engine, ws, *_ = decided
    add_user(engine, "lead", "lead-password", admin=True)
    code = f"""
import sys, time
from streamlit.testing.v1 import AppTest
from curate.app.common import User
from curate.sessions import open_session
from curate.triage import job
from curate.workspace import Workspace
ws = Workspace.resolve()
eng = ws.open()
from sqlalchemy import select
from db.models import Annotator
from db.engine import reading
with reading(eng) as s:
    lead = s.scalar(select(Annotator.id).where(Annotator.name == "lead"))
who = User(lead, "lead", "admin", open_session(eng, lead))
def page(script):
    at = AppTest.from_file({str(REPO / 'curate' / 'app')!r} + "/" + script, default_timeout=120)
    at.session_state["user"] = who
    return at.run()
at = page("admin.py")
assert not at.exception, at.exception
at.button(key="triage_train").click().run()
assert not at.exception, at.exception
deadline = time.monotonic() + 300
while time.monotonic() < deadline and job.read_status(ws).state in ("idle", "running"):
    time.sleep(0.5)
status = job.read_status(ws)
assert status.state == "done", (status.state, status.message)
at = page("admin.py")
assert not at.exception, at.exception
text = " ".join(str(t.value) for t in at.text)
assert "Model 1, trained" in text, text
at = page("dashboard.py")
assert not at.exception, at.exception
print(sorted(m for m in ("torch", "tensorflow") if m in sys.modules))
"""
    env = dict(os.environ, ROSTRO_WORKSPACE=str(ws.root), ROSTRO_DATABASE_URL=str(engine.url),
               ROSTRO_TRIAGE_TRAIN_ARGS="--side 32 --width 8 --epochs 4 --workers 1")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=420, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert store.latest_model(engine).version == 1


def test_queues_top_themselves_up_in_model_order_once_switched_on(decided, tmp_path):
    from curate.triage import auto
    engine, ws, ids, truth, decided_ids = decided
    assert auto.top_up(engine) == []  # off by default
    cfg = auto.AutoSettings(enabled=True, retrain_every=50, top_up_below=15, top_up_by=20,
                            overlap=0.0)
    auto.save_settings(engine, cfg)
    assert auto.settings(engine) == cfg
    assert auto.retrain_due(engine, cfg)  # 80 decided, no model yet
    assert auto.top_up(engine, cfg) == []  # no model: nothing to order by
    train(engine, ws, TINY)
    assert not auto.retrain_due(engine, cfg)
    assert auto.undecided_left(engine)["ana"] == (90, 10)
    lines = auto.top_up(engine, cfg)
    assert lines == ["ana: 20 images appended in model order (10 were left undecided)"]
    assert auto.undecided_left(engine)["ana"] == (110, 30)
    assert auto.top_up(engine, cfg) == []  # 30 left: not short any more
    with reading(engine) as s:
        r = s.execute(select(AssignRound.order_name, AssignRound.model_version)
                      .order_by(AssignRound.id.desc()).limit(1)).one()
    assert tuple(r) == ("model", 1)
    # An image ingested after the model scored is still placed, and the report says so.
    synth.write_celeba(tmp_path / "late", 3, seed=77)
    ingest(engine, tmp_path / "late" / "img_align_celeba", "late", progress=False, workers=1)
    report = assign(engine, per_annotator=200, overlap=0.0, order="model", annotators=["luis"],
                    sources=["celeba", "late"])
    assert any("no triage score" in w for w in report.warnings)
    with reading(engine) as s:  # a decision on an image the scores table never saw
        late = s.scalars(select(Image.id).join(Image.source).where(
            Image.source.has(name="late"))).all()
        assert not s.scalars(select(TriageScore.image_id).where(TriageScore.image_id.in_(late))).all()
    with writing(engine) as s:
        s.add(Decision(image_id=late[0], annotator_id=ids["luis"], verdict=Verdict.reject,
                       rule="too_young", tags=[]))
    again = train(engine, ws, TINY)
    assert again.decisions_used == 81 and again.scored == 123
    auto.save_settings(engine, cfg)
    with writing(engine) as s:  # a hostile row reads as the defaults, switched off
        from db.models import Setting
        s.get(Setting, auto.SETTING).value = {"enabled": True, "top_up_by": "many"}
    assert auto.settings(engine) == auto.AutoSettings()


@pytest.mark.gpu
def test_training_and_scoring_on_cuda(decided):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    engine, ws, *_ = decided
    report = train(engine, ws, TrainConfig(side=32, width=8, epochs=4, device="cuda"))
    assert report.device == "cuda" and report.scored == 120
    assert store.latest_model(engine).device == "cuda"
