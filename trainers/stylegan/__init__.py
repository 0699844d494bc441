"""StyleGAN (v1) trainer: ``python -m trainers.stylegan LMDB [options]`` (see docs/stylegan.md)."""
