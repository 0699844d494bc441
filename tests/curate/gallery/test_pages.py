"""AppTest of each gallery page against the session's real runs and exports (CPU)."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import REPO
from tests.helpers.curate import unescaped
from tests.helpers.gallery import make_run, page, user

pytestmark = pytest.mark.slow  # they all need the session's tiny training runs


def images(at) -> list:
    return list(at.get("image"))


def no_errors(at) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("script", ["gallery_runs.py", "gallery_mixing.py", "gallery_sketch.py",
                                    "gallery_datasets.py"])
def test_every_gallery_page_needs_a_login(gallery_env, script):
    at = page(script, None).run()
    assert [w.value for w in at.warning] == ["Please log in first."]
    assert not images(at)


def test_datasets_is_for_admins_only(gallery_env):
    at = page("gallery_datasets.py", user(gallery_env, "ana")).run()
    assert [e.value for e in at.error] == ["This page is for admins only."]


def test_runs_page_shows_config_curves_and_the_latest_grid_first(gallery_env):
    at = page("gallery_runs.py", user(gallery_env, "ana")).run()
    no_errors(at)
    labels = at.selectbox(key="runs_run").options
    assert len(labels) == 2 and any("stylegan-tiny" in x for x in labels)
    at.selectbox(key="runs_run").select(next(x for x in labels if "stylegan-tiny" in x)).run()
    no_errors(at)
    slider = at.select_slider[0]
    assert slider.label == "Iteration" and slider.options == ["2", "4", "6"] and slider.value == 6
    assert [m.value for m in at.metric][:3] == ["stylegan", "6", "3"]
    assert "iteration 6" in images(at)[0].proto.imgs[0].caption
    assert "style mixing at the checkpoint of iteration 6" in images(at)[1].proto.imgs[0].caption
    assert not at.get("vega_lite_chart") and not at.json  # lazy tabs: only Grids ran

    slider.set_value(4).run()
    no_errors(at)
    assert "iteration 4 " in images(at)[0].proto.imgs[0].caption
    assert "iteration 3 " in images(at)[1].proto.imgs[0].caption  # the checkpoint before it

    at.toggle(key="runs_play").set_value(True).run()  # playing: each run advances one grid
    no_errors(at)
    assert at.select_slider[0].value in (6, 2)

    at.session_state["runs_tab"] = "Curves"
    at.run()
    no_errors(at)
    assert len(at.get("vega_lite_chart")) == 3  # losses, quality (SWD), images per second
    assert [h.value for h in at.subheader] == ["Losses", "Quality", "Images per second"]
    at.session_state["runs_tab"] = "Config"
    at.run()
    assert json.loads(at.json[0].proto.body)["trainer"] == "stylegan"


def test_runs_page_shows_pix2pix_epoch_comparisons(gallery_env):
    at = page("gallery_runs.py", user(gallery_env, "ana")).run()
    labels = at.selectbox(key="runs_run").options
    at.selectbox(key="runs_run").select(next(x for x in labels if "pix2pix-tiny" in x)).run()
    no_errors(at)
    assert at.select_slider[0].label == "Epoch" and at.select_slider[0].value == 2
    assert "sketch | real | generated" in images(at)[0].proto.imgs[0].caption


def test_runs_page_finds_runs_in_admin_and_env_folders(gallery_env, tmp_path, monkeypatch):
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "empty"))
    at = page("gallery_runs.py", user(gallery_env, "ana")).run()
    assert "No runs yet" in at.info[0].value
    assert not at.text_input  # an annotator has no folder to type
    at = page("gallery_runs.py", user(gallery_env, "admin")).run()
    at.text_input(key="runs_root_new").set_value(str(gallery_env.ws.runs_dir))
    at.button(key="runs_root_add").click().run()
    no_errors(at)
    assert len(at.selectbox(key="runs_run").options) == 2
    at = page("gallery_runs.py", user(gallery_env, "ana")).run()  # the admin's folder, for all
    no_errors(at)
    assert len(at.selectbox(key="runs_run").options) == 2
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "other"))
    monkeypatch.setenv("ROSTRO_RUNS", str(gallery_env.pix2pix))
    at = page("gallery_runs.py", user(gallery_env, "ana")).run()
    assert len(at.selectbox(key="runs_run").options) == 1


def test_runs_and_datasets_pages_load_neither_torch_nor_tensorflow(gallery_env):
    code = f"""
import sys
from streamlit.testing.v1 import AppTest
from curate.app.common import User
for script, who in (("gallery_runs.py", {user(gallery_env, 'ana')!r}),
                    ("gallery_datasets.py", {user(gallery_env, 'admin')!r})):
    at = AppTest.from_file({str(REPO / 'curate' / 'app')!r} + "/" + script, default_timeout=60)
    at.session_state["user"] = who
    at.run()
    assert not at.exception, at.exception
print(sorted(m for m in ("torch", "tensorflow") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_model_pages_keep_torch_and_tensorflow_out_of_the_server_process(gallery_env):
    """Style mixing and Sketch to face show results from worker processes (issue 12): the
    process that ran both pages has imported neither framework, a second view of the same
    inputs is read from the disk cache, and the workers die with the server process."""
    photo = next((gallery_env.ws.demo_dir / "peruvian_face").glob("*.jpg"))
    # Results other tests (the browser gallery test) left in the disk cache would spare the
    # workers: start without them, so this run really asks both frameworks.
    shutil.rmtree(gallery_env.ws.root / "cache" / "gallery", ignore_errors=True)
    code = f"""
import sys, time
from streamlit.testing.v1 import AppTest
from curate.app.common import User
from curate.gallery import model_worker
from curate.sessions import open_session
from curate.workspace import Workspace
ana = {gallery_env.users['ana']}
who = User(ana, "ana", "annotator", open_session(Workspace.resolve().open(), ana))
def page(script):
    at = AppTest.from_file({str(REPO / 'curate' / 'app')!r} + "/" + script, default_timeout=120)
    at.session_state["user"] = who
    return at.run()
def shown(at):  # what the page showed, for a failure's message
    return [(e.type, str(getattr(e, "value", ""))[:200]) for e in at.main if e.type != "image"]
at = page("gallery_mixing.py")
assert not at.exception and not at.error, (at.exception, at.error)
assert len(at.get("image")) == 2, shown(at)
at = page("gallery_sketch.py")
at.file_uploader[0].set_value(("face.jpg", open({str(photo)!r}, "rb").read(), "image/jpeg")).run()
assert not at.exception and not at.error, (at.exception, at.error)
assert len(at.get("image")) == 2, shown(at)  # photo and face: at 32 px the sketch is words
pids = model_worker.worker_pids()
def no_worker(*a, **k):
    raise AssertionError("a cached result went to a worker")
model_worker.ask = no_worker  # the same seeds again: answered from the disk cache alone
at = page("gallery_mixing.py")
assert not at.exception and not at.error, (at.exception, at.error)
assert len(at.get("image")) == 2, shown(at)
import json
print(json.dumps(dict(modules=sorted(m for m in ("torch", "tensorflow") if m in sys.modules),
                      pids=sorted(pids.values()))))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["modules"] == [], got
    pids = got["pids"]
    assert len(pids) == 2  # one torch worker, one TensorFlow worker
    assert list((gallery_env.ws.root / "cache" / "gallery").rglob("*.json"))
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), "a model worker outlived the server process"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_style_mixing_makes_a_grid_and_a_strip_with_downloads(gallery_env):
    at = page("gallery_mixing.py", user(gallery_env, "ana")).run()
    no_errors(at)
    assert len(at.selectbox(key="mix_ckpt").options) == 2  # iterations 6 and 3
    assert len(images(at)) == 2 and len(at.get("download_button")) == 2  # grid, strip
    at.text_input(key="mix_sources").set_value("7, 8").run()
    at.text_input(key="mix_styles").set_value("9").run()
    no_errors(at)
    assert "sources [7, 8] × styles [9]" in images(at)[0].proto.imgs[0].caption
    at.button(key="mix_random").click().run()
    no_errors(at)
    assert at.text_input(key="mix_sources").value != "7, 8"
    at.text_input(key="mix_sources").set_value("1, x").run()
    assert "whole numbers" in at.error[0].value


def test_mixing_png_has_the_documented_layout(gallery_env):
    from curate.gallery import generators as gm
    from curate.gallery.runs import read_run

    ckpt = gm.checkpoints(read_run(gallery_env.stylegan))[0][1]
    png = Image.open(io.BytesIO(gm.mixing_png(ckpt, [1, 2, 3], [4, 5], "cpu")))
    cols, rows = 2 + 1, 1 + 3 * 3
    cell_w, cell_h = png.size[0] / cols, png.size[1] / rows
    assert abs(cell_w - cell_h) < 3 and cell_w >= 16
    strip = Image.open(io.BytesIO(gm.interpolation_png(ckpt, 1, 2, 5, "cpu")))
    assert abs(strip.size[0] / strip.size[1] - 5) < 0.5


def test_sketch_to_face_shows_the_sketch_and_the_rebuilt_face(gallery_env):
    photo = next((gallery_env.ws.demo_dir / "peruvian_face").glob("*.jpg")).read_bytes()
    at = page("gallery_sketch.py", user(gallery_env, "luis")).run()
    no_errors(at)
    assert "Upload an image" in at.info[0].value
    at.file_uploader[0].set_value(("face.jpg", photo, "image/jpeg")).run()
    no_errors(at)
    captions = [i.proto.imgs[0].caption for i in images(at)]
    # At 32 px the effect leaves a blank sketch: the page says so instead of showing white.
    assert captions == ["uploaded", "rebuilt at 32 px"]
    assert "leaves nothing to see (it needs 64 px or more)" in at.warning[0].value
    at.toggle(key="sketch_is_sketch").set_value(True).run()
    no_errors(at)
    assert [i.proto.imgs[0].caption for i in images(at)][1] == "sketch" and not at.warning
    at.file_uploader[0].set_value(("notes.png", b"not an image", "image/png")).run()
    assert "cannot be used" in at.error[0].value


def test_datasets_page_pages_filters_and_opens_an_image(gallery_env):
    at = page("gallery_datasets.py", user(gallery_env, "admin")).run()
    no_errors(at)
    assert len(images(at)) == 50  # 40 CelebA-style + 10 peruvian, one page
    assert at.caption[0].value.endswith("items 1–50 of 50")
    thumbs = list((gallery_env.ws.thumbs_dir).rglob("*_160.jpg"))
    assert len(thumbs) == 50
    before = {p: p.stat().st_mtime_ns for p in thumbs}
    at.selectbox(key="ds_f_verdict").select("accept").run()
    no_errors(at)
    assert len(images(at)) == 2
    at.selectbox(key="ds_f_tag").select("two_faces").run()
    assert len(images(at)) == 1
    at.button(key="ds_open_0").click().run()
    no_errors(at)
    text = " ".join(m.value for m in at.markdown)
    assert f"#{gallery_env.decided['tagged']}" in text and "Verdict: **accept**" in text
    assert len(at.dataframe) == 1  # the decision history
    assert {p: p.stat().st_mtime_ns for p in thumbs} == before  # made once, never again

    at.selectbox(key="ds_f_tag").select("(any)").run()
    at.selectbox(key="ds_f_verdict").select("reject").run()
    assert len(images(at)) == 1 and "reject" in images(at)[0].proto.imgs[0].caption


def test_datasets_page_browses_exports(gallery_env):
    at = page("gallery_datasets.py", user(gallery_env, "admin")).run()
    options = at.selectbox(key="ds_set").options
    assert options[0].startswith("Labeled images") and len(options) == 3
    at.selectbox(key="ds_set").select(next(o for o in options if o.startswith("sketch_pairs"))).run()
    no_errors(at)
    assert "made at 32 px: below 64 px the sketch effect leaves nothing" in at.warning[0].value
    assert len(images(at)) == 10
    names = [unescaped(i.proto.imgs[0].caption) for i in images(at)]
    assert all(n.startswith(("train/", "val/")) for n in names), names
    at.button(key="ds_open_0").click().run()
    no_errors(at)
    text = " ".join(unescaped(m.value) for m in at.markdown)  # a pair links to its source photo's record
    assert "peruvian_face/" in text and "Verdict: **unlabeled**" in text


def test_folders_an_admin_adds_reach_the_model_pages(gallery_env, tmp_path, monkeypatch):
    from curate.gallery.runs import add_root
    from curate.workspace import Workspace

    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "empty"))
    for script in ("gallery_mixing.py", "gallery_sketch.py"):
        at = page(script, user(gallery_env, "ana"))
        assert "No " in at.run().info[0].value  # nothing in the (empty) workspace
    add_root(Workspace.resolve().open(), str(gallery_env.ws.runs_dir))
    for script, key in (("gallery_mixing.py", "mix_ckpt"), ("gallery_sketch.py", "sketch_ckpt")):
        at = page(script, user(gallery_env, "ana")).run()
        assert at.selectbox(key=key).options, script


def test_a_run_without_grids_or_metrics_gets_calm_messages(gallery_env, tmp_path, monkeypatch):
    run = make_run(tmp_path / "runs" / "fresh", grids=0, rows=0)
    monkeypatch.setenv("ROSTRO_RUNS", str(run.parent))
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "empty"))
    at = page("gallery_runs.py", user(gallery_env, "ana")).run()
    no_errors(at)
    assert at.info[0].value.startswith("No grids yet")
    at.session_state["runs_tab"] = "Curves"
    at.run()
    no_errors(at)
    assert at.info[0].value.startswith("No metrics yet")


def test_page_modules_stay_thin():
    """No SQL, PIL or frameworks imported by page code: it calls curate.gallery (STYLE.md). Of
    the trainers' package only trainers.common (framework-free; the sketch effect's limits)."""
    import ast

    for script in ("gallery_runs.py", "gallery_mixing.py", "gallery_sketch.py", "gallery_datasets.py"):
        tree = ast.parse((REPO / "curate" / "app" / script).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        roots = {m.split(".")[0] for m in imported
                 if m != "trainers.common" and not m.startswith("trainers.common.")}
        assert not roots & {"sqlalchemy", "PIL", "torch", "tensorflow", "db", "trainers"}, (script, roots)
