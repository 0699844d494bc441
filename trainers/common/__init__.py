"""What the trainers and `curate` both use, kept in one place below the trainers.

- ``fsutil``: atomic file and folder writes, and the clean-up of a dead writer's temp files;
- ``safefiles``: reading files from folders someone else may have filled (regular files only,
  under a size cap), and a folder walk without recursion;
- ``workers``: worker processes that die with the process that started them;
- ``lmdb_format``: the keys of the multi-resolution LMDB (`curate prepare` writes, StyleGAN reads);
- ``sketch``: the seed's sketch effect (the sketch-pairs export, pix2pix's inputs).

`curate` imports these; nothing here imports `curate`, `db`, torch or TensorFlow (the standard
library, numpy and nothing else), so both trainers may use them without pulling in the other's
framework (tests/test_import_cycles.py, tests/trainers/test_isolation.py).
"""
