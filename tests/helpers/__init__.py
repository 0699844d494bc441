"""Helpers shared by several test modules, imported as ``tests.helpers.<name>``; test modules
and conftest files are never imported by other modules (tests/test_import_cycles.py checks).

- ``REPO`` (here): the repository root;
- ``curate``: a seeded database (images, annotators, queues), recorded decisions, disagreements
  in a workspace, text checks; ``labelled``: the 8-image labelled database of the export tests;
- ``app``: AppTest pages, logged-in users, the Export page's two accepted images;
- ``gallery``: hand-made run folders, the session's gallery workspace with tiny trained runs,
  gallery pages, a checkpoint whose pickle asks for a global;
- ``export_site``: a workspace to attack exports in, with a private file beside it;
- ``stylegan``: tiny LMDBs and the tiny training options; ``reference_layout``: a StyleGAN in
  the reference's key layout, the trainer's equivalence baseline;
- ``pix2pix_pairs``: tiny sketch-pair folders.

The browser tests' own helpers (serving the app, driving Chromium) are tests/browser/harness.py.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
