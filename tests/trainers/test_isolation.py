"""The TensorFlow trainer never imports torch, and the StyleGAN trainer never imports TensorFlow;
the curation CLI loads neither, and what both sides share (trainers.common) loads no framework."""
from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import importlib, sys
for m in {modules!r}:
    importlib.import_module(m)
{extra}
print(",".join(sorted(k for k in sys.modules if k.split(".")[0] in {forbidden!r})))
"""


def _loaded(modules: list[str], forbidden: set[str], extra: str = "") -> str:
    code = CHECK.format(modules=modules, forbidden=forbidden, extra=extra)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


@pytest.mark.parametrize("modules,forbidden", [
    (["trainers.pix2pix.train", "trainers.pix2pix.predict", "trainers.pix2pix.checkpoint"], "torch"),
    (["trainers.stylegan.train", "trainers.stylegan.mix", "trainers.stylegan.generate",
      "trainers.stylegan.sampling"], "tensorflow"),
])
def test_trainer_does_not_import_the_other_framework(modules, forbidden):
    assert _loaded(modules, {forbidden}) == ""


def test_curate_cli_loads_neither_framework():
    loaded = _loaded(["curate.cli", "curate.ingest", "curate.decisions"], {"torch", "tensorflow"},
                     extra="import curate.cli; curate.cli.build_parser()")
    assert loaded == ""


def test_run_layout_and_settings_load_neither_framework():
    """The galleries read runs through trainers.runs on every page view."""
    modules = ["trainers.runs", "trainers.cli_config", "trainers.stylegan.config",
               "trainers.pix2pix.config", "curate.gallery.runs", "curate.gallery.generators"]
    assert _loaded(modules, {"torch", "tensorflow"}) == ""


def test_the_shared_package_loads_neither_framework_nor_curate():
    """trainers.common is imported by both trainers and by curate: it pulls in none of them."""
    modules = ["trainers.common", "trainers.common.fsutil", "trainers.common.safefiles",
               "trainers.common.workers", "trainers.common.lmdb_format", "trainers.common.sketch"]
    assert _loaded(modules, {"torch", "tensorflow", "curate", "db", "sqlalchemy"}) == ""
