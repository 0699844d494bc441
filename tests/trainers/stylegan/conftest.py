"""Fixtures: a tiny LMDB and one shared tiny training run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.stylegan import TINY, write_lmdb


@pytest.fixture(scope="session")
def tiny_lmdb(tmp_path_factory) -> Path:
    return write_lmdb(tmp_path_factory.mktemp("data") / "tiny.lmdb")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_lmdb) -> Path:
    """A 20-iteration run growing 8 -> 16 px, shared by the tests that only read it."""
    from trainers.stylegan.__main__ import main

    out = tmp_path_factory.mktemp("runs") / "tiny"
    tf_before = "tensorflow" in sys.modules
    assert main([str(tiny_lmdb), *TINY, "--out", str(out), "--seed", "3"]) == 0
    assert tf_before or "tensorflow" not in sys.modules, "training imported TensorFlow"
    return out
