"""What the model workers do (curate.gallery.model_worker runs these, never the app server).

One handler per request op, grouped by framework: the torch worker draws StyleGAN mixing grids
and interpolation strips, the TensorFlow worker rebuilds faces with pix2pix. Each handler takes
(header, blobs) and returns (header, blobs) of PNG bytes. Loaded generators stay in memory, the
last LOADED_KEPT per worker, keyed by checkpoint and its mtime (a rewritten file is reloaded).
"""
from __future__ import annotations

import io
from collections import OrderedDict

from curate.gallery import generators as gm
from curate.gallery.worker_protocol import WorkerError
from curate.imaging import BadImage

LOADED_KEPT = 2  # generators kept loaded per worker
SHOW_PX = 256  # small model outputs are enlarged to about this many pixels for the page
PHOTO_SIDE = 512  # px: the upload as the page shows it

_loaded: OrderedDict = OrderedDict()


def _error(kind: str, message: str) -> WorkerError:
    return WorkerError(kind, message)


def _cached_load(key: tuple, load):
    if key in _loaded:
        _loaded.move_to_end(key)
        return _loaded[key]
    try:
        value = load()
    except (FileNotFoundError, ValueError) as e:  # refused or unreadable (weights-only load)
        raise _error("checkpoint", str(e)) from None
    _loaded[key] = value
    while len(_loaded) > LOADED_KEPT:
        _loaded.popitem(last=False)
    return value


def _seeds(values) -> list[int]:
    seeds = [int(v) for v in values]
    if not seeds or len(seeds) > gm.MAX_SEEDS or any(not 0 <= s <= gm.MAX_SEED for s in seeds):
        raise _error("input", f"between 1 and {gm.MAX_SEEDS} seeds from 0 to {gm.MAX_SEED}")
    return seeds


def mixing(header: dict, blobs: list) -> tuple[dict, list]:
    ckpt = header["checkpoint"]
    loaded = _cached_load(("stylegan", ckpt, gm.mtime(ckpt)), lambda: gm.load_stylegan(ckpt))
    png = gm.mixing_png(ckpt, _seeds(header["sources"]), _seeds(header["styles"]), loaded=loaded)
    return {}, [png]


def strip(header: dict, blobs: list) -> tuple[dict, list]:
    ckpt = header["checkpoint"]
    a, b = _seeds([header["a"], header["b"]])
    steps = int(header["steps"])
    if not 2 <= steps <= 32:
        raise _error("input", "between 2 and 32 steps")
    try:
        return {}, [gm.interpolation_png(ckpt, a, b, steps)]
    except (FileNotFoundError, ValueError) as e:
        raise _error("checkpoint", str(e)) from None


def sketch(header: dict, blobs: list) -> tuple[dict, list]:
    """blobs: [the uploaded file]; returns [photo, sketch, face enlarged, face at model size]."""
    from PIL import Image

    try:
        rgb = gm.decode_upload(blobs[0], header.get("name", ""))
    except BadImage as e:
        raise _error("bad_image", str(e)) from None
    ckpt = header["checkpoint"]
    generator, config = _cached_load(("pix2pix", ckpt, gm.mtime(f"{ckpt}.index")),
                                     lambda: gm.load_pix2pix(ckpt))
    drawn, face = gm.sketch_to_face(generator, rgb, bool(header.get("is_sketch")))
    photo = Image.fromarray(rgb)
    photo.thumbnail((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    photo.save(buf, format="PNG")
    return ({"size": int(config.size)},
            [buf.getvalue(), gm.png_bytes(gm.enlarge(drawn, SHOW_PX)),
             gm.png_bytes(gm.enlarge(face, SHOW_PX)), gm.png_bytes(face)])


HANDLERS = {"torch": {"mixing": mixing, "strip": strip}, "tensorflow": {"sketch": sketch}}
