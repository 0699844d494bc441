"""Fixtures for the pix2pix tests; TensorFlow kept quiet."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.helpers.pix2pix_pairs import write_pairs  # noqa: E402


@pytest.fixture(scope="session")
def pairs_dir(tmp_path_factory) -> Path:
    """train/ (6 pairs) and val/ (2 pairs) at 32 px."""
    root = tmp_path_factory.mktemp("pairs")
    write_pairs(root / "train", 6, 32, seed=1)
    write_pairs(root / "val", 2, 32, seed=2)
    return root
