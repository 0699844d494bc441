"""Domain logic of the gallery pages (curate/app/gallery_*.py are thin fronts over it).

- `curate.gallery.runs`: run discovery, config, metrics curves, sample-grid listing (cached).
- `curate.gallery.thumbs`: thumbnails made once and cached on disk, placeholders for bad files.
- `curate.gallery.datasets`: paged, filtered listings of the labeled images and of exports.
- `curate.gallery.generators`: StyleGAN mixing grids / strips and pix2pix rebuilds (lazy imports).

The run-folder layout itself is `trainers.runs` (shared with the trainers, framework-free).

Importing this package loads neither torch nor TensorFlow.
"""
