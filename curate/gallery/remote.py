"""The gallery pages' model requests: answered from the disk cache, else by a model worker.

The pages call these from the app's server process, which never imports torch or TensorFlow:
a result is read from `<workspace>/cache/gallery/` when the same checkpoint (its files' resolved
paths, sizes and mtimes) was asked the same inputs before, else the framework's worker process
(curate.gallery.model_worker) makes it and it is written there (atomically, the index file
last, so a torn entry is never read). Results are small PNGs; delete the folder at any time.
Errors: `WorkerError` with its kind (`checkpoint`, `bad_image`, `input`, `failed`).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from curate.gallery import model_worker
from curate.gallery.generators import checkpoint_files
from curate.gallery.worker_protocol import WorkerError
from trainers.common.fsutil import atomic_write_bytes

__all__ = ["WorkerError", "cache_dir", "mixing_grid", "interpolation", "sketch_to_face", "Rebuilt"]
CACHE_VERSION = 1  # bump when what a request makes changes


def cache_dir(workspace_root: str | os.PathLike) -> Path:
    return Path(workspace_root) / "cache" / "gallery"


def _stamp(checkpoint: str) -> list:
    out = []
    for f in checkpoint_files(checkpoint):
        try:
            st = os.stat(f)
        except OSError as e:
            raise WorkerError("checkpoint", f"{Path(f).name} cannot be read ({e.strerror})") from None
        out.append([os.path.realpath(f), st.st_size, st.st_mtime_ns])
    return out


def _key(kind: str, checkpoint: str, inputs: dict) -> str:
    text = json.dumps([CACHE_VERSION, kind, _stamp(checkpoint), inputs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _read(cache: Path, key: str) -> tuple[dict, list[bytes]] | None:
    folder = cache / key[:2]
    try:
        meta = json.loads((folder / f"{key}.json").read_text())
        return meta, [(folder / f"{key}-{i}.png").read_bytes() for i in range(meta["count"])]
    except (OSError, ValueError, KeyError):
        return None


def _write(cache: Path, key: str, meta: dict, blobs: list[bytes]) -> None:
    folder = cache / key[:2]
    try:
        for i, data in enumerate(blobs):
            atomic_write_bytes(folder / f"{key}-{i}.png", data)
        # The JSON last: a result counts only once all its pictures are in place.
        atomic_write_bytes(folder / f"{key}.json", json.dumps(dict(meta, count=len(blobs))).encode())
    except OSError:
        pass  # a cache that cannot be written only costs the next request its time


def _cached(cache: Path, framework: str, op: str, checkpoint: str, inputs: dict,
            blobs=(), digest: str = "") -> tuple[dict, list[bytes]]:
    key = _key(op, checkpoint, dict(inputs, digest=digest))
    hit = _read(cache, key)
    if hit is not None:
        return hit
    meta, out = model_worker.ask(framework, op, dict(inputs, checkpoint=checkpoint), blobs)
    _write(cache, key, meta, out)
    return meta, out


def mixing_grid(cache: Path, checkpoint: str, sources: list[int], styles: list[int]) -> bytes:
    """The style-mixing grid PNG (curate.gallery.generators.mixing_png, in the torch worker)."""
    return _cached(cache, "torch", "mixing", checkpoint,
                   {"sources": list(sources), "styles": list(styles)})[1][0]


def interpolation(cache: Path, checkpoint: str, a: int, b: int, steps: int) -> bytes:
    """The interpolation strip PNG from seed a to seed b (in the torch worker)."""
    return _cached(cache, "torch", "strip", checkpoint, {"a": a, "b": b, "steps": steps})[1][0]


@dataclass(frozen=True)
class Rebuilt:
    photo: bytes  # PNG: the upload, at most 512 px
    sketch: bytes  # PNG: what the model sees, enlarged
    face: bytes  # PNG: the rebuilt face, enlarged
    face_png: bytes  # PNG: the rebuilt face at the model's size (the download)
    size: int  # the model's side in px


def sketch_to_face(cache: Path, checkpoint: str, upload: bytes, name: str,
                   is_sketch: bool) -> Rebuilt:
    """A pix2pix rebuild of an uploaded photo (sketched first) or sketch, in the TensorFlow
    worker; WorkerError kind `bad_image` when the upload is not an image."""
    digest = hashlib.sha256(upload).hexdigest()
    meta, out = _cached(cache, "tensorflow", "sketch", checkpoint,
                        {"is_sketch": bool(is_sketch), "name": Path(name).suffix.lower()},
                        [upload], digest)
    return Rebuilt(*out[:4], size=int(meta["size"]))
