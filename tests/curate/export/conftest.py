"""Fixtures for the export tests: 8 CelebA-style images labelled with every verdict rule
exercised (what each image's verdict is: tests/helpers/labelled.py), and 12 Peruvian-style faces.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from curate import synth
from tests.helpers.labelled import Labelled, label


@pytest.fixture(scope="session")
def celeba_dir(tmp_path_factory) -> Path:
    """8 CelebA-style images (178×218), written once; copy before changing them."""
    folder = tmp_path_factory.mktemp("celeba8")
    synth.write_celeba(folder, 8, seed=5)
    return folder / "img_align_celeba"


@pytest.fixture
def labelled(engine, celeba_dir, tmp_path) -> Labelled:
    import shutil
    root = tmp_path / "celeba"
    shutil.copytree(celeba_dir, root)
    return Labelled(engine, root, label(engine, root), tmp_path)


@pytest.fixture(scope="session")
def faces_dir(tmp_path_factory) -> Path:
    """12 peruvian-style faces (a plain folder, never ingested); read-only."""
    folder = tmp_path_factory.mktemp("peru12")
    synth.write_peruvian(folder, 12, seed=2)
    return folder
