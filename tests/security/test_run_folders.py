"""Issue 19, points 5, 6, 9 and 10 on run folders and trainer inputs: markdown in a refused
checkpoint's global, a config.json nested 100,000 deep, a checkpoint claiming a huge model with
stride-0 tensors, metrics rows of the wrong type, run-root paths in the labels, decompression
bombs in an LMDB, and `convert` fed odd reference files — each tried as the attacker did."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from markdown_it import MarkdownIt
from PIL import Image

from curate.gallery import runs as gr
from tests.helpers.curate import unescaped
from tests.helpers.gallery import checkpoint_asking_for, run_page
from trainers import runs

LINK = "[your account is locked](https://evil.example/login)"
IMAGE = "![pixel](https://evil.example/track.png)"


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


def _no_link_no_image(markdown: str) -> None:
    html = _rendered(markdown)
    assert "<a " not in html and "<img" not in html, html
    assert "https://" not in markdown  # an autolink needs the scheme's "://" as typed


# --- point 5: text from a checkpoint is text ---------------------------------------------------
def test_markdown_in_a_refused_checkpoints_global_is_shown_as_text(app):
    # The global's name became a live phishing link plus an outside image request.
    run = app.ws.runs_dir / "evil"
    runs.write_config(run, {"trainer": "stylegan", "max_size": 8})
    checkpoint_asking_for(runs.checkpoint_path(run, 10), f"{LINK} {IMAGE}")
    at = run_page("gallery_mixing.py", app("ana"))
    assert not at.exception and at.error
    message = at.error[0].value
    assert unescaped(message).startswith("This checkpoint cannot be loaded:")
    assert LINK in unescaped(message)  # the text is there, to be read
    _no_link_no_image(message)


# --- point 6: bounded work on run folders -------------------------------------------------------
def test_a_config_json_nested_100000_deep_hides_the_run_not_the_page(app):
    deep = app.ws.runs_dir / "deep"
    deep.mkdir()
    (deep / runs.CONFIG).write_text('{"trainer": "stylegan", "x": ' + "[" * 100_000
                                    + "]" * 100_000 + "}")
    runs.write_config(app.ws.runs_dir / "fine", {"trainer": "pix2pix"})
    assert [r.name for r in gr.discover_runs([app.ws.runs_dir])] == ["fine"]
    for script in ("gallery_runs.py", "gallery_mixing.py", "gallery_sketch.py"):
        assert not run_page(script, app(f"ana{script[8:11]}")).exception, script


def test_config_values_past_what_the_trainer_can_honour_are_refused():
    from trainers.stylegan.config import Settings

    good = {"lmdb": "x", "init_size": 8, "max_size": 8}
    for bad in ({"latent_dim": 8000}, {"max_channels": 100_000}, {"mapping_layers": 10**6},
                {"sample_n": 10**9}, {"latent_dim": "512"}, {"batch": True}, {"lr": 1e400}):
        with pytest.raises(ValueError):
            Settings.from_dict({**good, **bad})


def _tiny_checkpoint(path: Path, **config) -> dict:
    from trainers.stylegan import checkpoint
    from trainers.stylegan.config import Settings
    from trainers.stylegan.model import Generator

    cfg = Settings(lmdb="x", init_size=8, max_size=8, latent_dim=16, mapping_layers=2,
                   max_channels=16)
    G = Generator(8, 16, 2, 16)
    ckpt = {"G_ema": G.state_dict(), "config": {**cfg.to_dict(), **config}, "iteration": 10,
            "size": 8, "step": 1, "alpha": 1.0}
    checkpoint.save(ckpt, path)
    return ckpt


def test_a_stride_0_tensor_in_a_checkpoint_is_refused_before_a_model_is_built(tmp_path):
    # 7 KB checkpoints of stride-0 tensors made the worker hold 5 GB.
    from trainers.stylegan import checkpoint, sampling

    ckpt = _tiny_checkpoint(tmp_path / "ok.pt")
    sampling.load_generator(tmp_path / "ok.pt")  # the honest one loads
    name = next(k for k, v in ckpt["G_ema"].items() if v.dim() == 2)
    ckpt["G_ema"][name] = torch.zeros(1).expand(*ckpt["G_ema"][name].shape)  # stride 0
    checkpoint.save(ckpt, tmp_path / "crafted.pt")
    assert (tmp_path / "crafted.pt").stat().st_size < (tmp_path / "ok.pt").stat().st_size
    with pytest.raises(ValueError, match="stride-0"):
        sampling.load_generator(tmp_path / "crafted.pt")
    huge = dict(ckpt, config={**ckpt["config"], "latent_dim": 8000})
    checkpoint.save(huge, tmp_path / "huge.pt")
    with pytest.raises(ValueError, match="latent_dim"):
        sampling.load_generator(tmp_path / "huge.pt")


def test_metrics_rows_with_strings_or_1e400_are_skipped_and_counted(app):
    run = app.ws.runs_dir / "odd"
    runs.write_config(run, {"trainer": "stylegan"})
    (run / runs.METRICS).write_text("\n".join([
        json.dumps({"iteration": 1, "loss_d": 0.5, "images_per_s": 3.0}),
        '{"iteration": 2, "loss_d": "a lot", "images_per_s": 3.0}',
        '{"iteration": 1e400, "loss_d": 0.4, "images_per_s": 3.0}',
        '{"iteration": 4, "loss_d": true}',
    ]) + "\n")
    at = run_page("gallery_runs.py", app("ana"))
    assert not at.exception
    assert [m.value for m in at.metric][1] == "1"  # the last good row
    assert any("3 line(s) of metrics.jsonl skipped" in c.value for c in at.caption)


# --- point 10: annotators see run names only ----------------------------------------------------
def test_annotators_see_run_names_not_run_root_paths(app, tmp_path):
    helpers_run = app.ws.runs_dir / "tiny"
    _tiny_checkpoint(runs.checkpoint_path(helpers_run, 10))
    runs.write_config(helpers_run, {"trainer": "stylegan", "max_size": 8})
    root = str(app.ws.runs_dir.resolve())
    ana = app("ana")
    runs_page = run_page("gallery_runs.py", ana)
    assert not any(root in o for o in runs_page.selectbox(key="runs_run").options)
    mixing = run_page("gallery_mixing.py", ana)
    labels = mixing.selectbox(key="mix_ckpt").options
    assert labels and not any(root in o for o in labels), labels


# --- point 9: decompression bombs in an LMDB ----------------------------------------------------
def _claiming(jpeg: bytes, w: int, h: int) -> bytes:
    """The JPEG's headers saying w×h, cut after the start of its scan: nothing to decode, so
    a reader that decodes first fails on the missing data instead of on the size."""
    at = jpeg.index(b"\xff\xc0")
    head = jpeg[:at + 5] + h.to_bytes(2, "big") + w.to_bytes(2, "big") + jpeg[at + 9:]
    sos = head.index(b"\xff\xda")
    return head[:sos + 2 + int.from_bytes(head[sos + 2:sos + 4], "big") + 16]


def test_an_lmdb_image_larger_than_its_key_is_refused_before_decoding(tmp_path):
    # Four 10000x10000 JPEGs of 1.1 MB pushed the trainer to 4.5 GB before it said "expected".
    import lmdb as lmdb_module

    from trainers.stylegan.data import LMDBError, load_images

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, "JPEG", quality=100)
    path = tmp_path / "bomb.lmdb"
    env = lmdb_module.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"length", b"4")
        for i in range(4):
            txn.put(f"16-{i:05d}".encode(), _claiming(buf.getvalue(), 10_000, 10_000))
    env.close()
    with pytest.raises(LMDBError, match=r"10000x10000, expected 16x16"):
        load_images(path, 16, workers=1)
    # Said before decoding: the reader's peak memory stays far below one decoded image each.
    code = ("import sys\nfrom trainers.stylegan.data import LMDBError, load_images\n"
            f"try:\n    load_images({str(path)!r}, 16, workers=4)\n"
            "except LMDBError as e:\n    print(e)\n    sys.exit(2)\n")
    out, peak_kib = _peak(code)
    assert "expected 16x16" in out and peak_kib < 900_000, f"peak {peak_kib / 1e6:.1f} GB"


def _peak(code: str) -> tuple[str, int]:
    """Run Python `code` in a child; (its output, its peak resident memory in KiB).

    The peak is the child's own VmHWM, read at its exit: wait4's ru_maxrss also counts the
    pages the child shared with this process between fork and exec, so in a long pytest run
    (torch and TensorFlow loaded here) it reported this process's size, not the child's."""
    import re
    import subprocess
    import sys

    from tests.security.clirun import env

    probe = ("import atexit\n"
             "def _hwm():\n"
             "    for line in open('/proc/self/status'):\n"
             "        if line.startswith('VmHWM:'):\n"
             "            print('VMHWM', line.split()[1], flush=True)\n"
             "atexit.register(_hwm)\n")
    proc = subprocess.run([sys.executable, "-c", probe + code], env=env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    out = proc.stdout.decode(errors="replace")
    found = re.findall(r"VMHWM (\d+)", out)
    assert found, out[-2000:]
    return out, int(found[-1])


# --- point 10 (and 9 of "what to build"): convert says one line -----------------------------------
def _reference_file(tmp_path: Path, mapping: int = 2, **replace) -> Path:
    from tests.helpers import reference_layout as ref

    G = ref.StyledGenerator(16, mapping, 16)
    state = {"generator": G.state_dict(), "g_running": G.state_dict(), **replace}
    path = tmp_path / "train_step-3.model"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("g_running", ["a tensor", "a list"])
def test_convert_with_an_odd_g_running_says_one_line(tmp_path, capsys, g_running):
    from trainers.stylegan import convert

    odd = torch.zeros(3) if g_running == "a tensor" else [torch.zeros(3), 1]
    src = _reference_file(tmp_path, g_running=odd)
    assert convert.main([str(src), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(src) in err[0], err
    assert not (tmp_path / "run").exists()


def test_convert_refuses_a_small_file_claiming_latent_4000(tmp_path):
    # A 16 KB file claiming latent_dim 4000 became a 1.4 GB peak: the converter built the
    # networks its shapes claim before anything was checked. Run as a user would, its peak
    # memory read from the kernel (wait4), not timed.
    import subprocess
    import sys

    from tests.security.clirun import env

    src = _reference_file(tmp_path, mapping=8)
    state = torch.load(src, weights_only=True)
    for net in ("generator", "g_running"):
        g = state[net]
        for k in [k for k in g if k.startswith("style.")]:
            g[k] = torch.zeros(1).expand(4000, 4000) if g[k].dim() == 2 else torch.zeros(1).expand(4000)
    torch.save(state, src)
    assert src.stat().st_size < 1_000_000  # far less than 4000 x 4000 floats
    # The peak is the child's own VmHWM at exit (see _peak: wait4's figure counts the pages
    # shared with this process before exec).
    code = ("import atexit, runpy, sys\n"
            "def _hwm():\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmHWM:'):\n"
            "            print('VMHWM', line.split()[1], flush=True)\n"
            "atexit.register(_hwm)\n"
            f"sys.argv = ['convert', {str(src)!r}, '--out', {str(tmp_path / 'run')!r}]\n"
            "runpy.run_module('trainers.stylegan.convert', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True,
                          text=True, errors="replace", timeout=300)
    err = proc.stderr
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    peak = int(proc.stdout.split("VMHWM")[-1].split()[0])
    assert peak < 900_000, f"peak {peak / 1e6:.1f} GB"  # KiB
    assert not (tmp_path / "run").exists()
