"""Helpers shared by several test modules, imported as ``tests.helpers.<name>``; test modules
and conftest files are never imported by other modules (tests/test_import_cycles.py checks).

- ``curate``: a seeded database (images, annotators, queues), recorded decisions, text checks;
- ``stylegan``: tiny LMDBs and the tiny training options; ``reference_layout``: a StyleGAN in
  the reference's key layout, the trainer's equivalence baseline;
- ``pix2pix_pairs``: tiny sketch-pair folders.
"""
