"""`curate prepare`: the multi-resolution LMDB the StyleGAN trainer reads (DESIGN.md contract).

Layout, the one rosinality/style-based-gan-pytorch's `MultiResolutionDataset` reads and its
`prepare_data.py` writes: key ``b"length"`` → the count as ASCII digits; key
``f"{size}-{index:05d}"`` → JPEG bytes (quality 100) of image `index`, its short side resized
with Lanczos to `size` (the long side to ``int(size * long / short)``, as torchvision does) and
then centre-cropped to size×size (offsets rounded as torchvision's ``center_crop``).

Why it is faster than the straightforward loop, and what that costs:
- a process pool decodes and resizes (--workers, default all cores); the LMDB is written by
  the parent in a few large write transactions;
- the crop is folded into the resize (Pillow's ``resize(box=...)``): the same filter taps on
  the same source region as resize-then-crop, without resampling the discarded margin;
  equal to the reference within 1 level;
- each image is decoded once; the sizes with at least ``REDUCE_GAP`` (2)× their size left on
  the short side after a 2×2 average (``Image.reduce(2)``) are resampled from that average. A
  Lanczos pass costs about the same for every output size (it scales with the source), so the
  small sizes cost as much as the large ones unless they start from a smaller image: from a
  178×218 CelebA face, 128 and 64 come from the full image, 32, 16 and 8 from the 89×109
  average. Reduced-scale JPEG decoding (``draft()``) was used before: each draft decode parses
  the whole file again (a half-scale decode costs ~85 % of a full one), and the DCT-scaled
  image is further from the full-size Lanczos than the 2×2 average (32 px: 7 levels at most
  against 5). 64 from the half image was measured 20 levels off (mean 0.64), so 64 and up stay
  on the full image. Against Lanczos from the full image, over 200 CelebA-size faces: 8, 16,
  64 and 128 within 1 level (8: 0.11 on average, 16: 0.14), 32 at most 5 (0.22); tests hold
  every size to 6 and 1.0. ``exact=True`` (``--exact``) turns it off: every size from the full
  image, within 1 level of the reference.
The LMDB is written into a temp folder and renamed into place at the end; manifest.csv and
export.json sit beside data.mdb (the reference reader ignores them).
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
from dataclasses import replace
from pathlib import Path

import lmdb
from PIL import Image, ImageOps

from curate.export.common import Item, check_file, fail_on_problems, items_from, run_jobs
from curate.export.folder import ExportResult, export_folder
from curate.export.records import check_destination
from curate.export.registry import Lmdb
from curate.imaging import BadImage, encode_jpeg, to_rgb
from curate.progress import Progress, bar as progress_bar
from curate.imaging import open_checked  # the header checks, without a decode
from trainers.common.lmdb_format import LENGTH_KEY, key, length_value

log = logging.getLogger(__name__)

QUALITY = 100  # the contract: JPEG quality 100
REDUCE = 2  # the small sizes start from the 2x2 average of the decoded image
REDUCE_GAP = 2.0  # ... when it keeps >= this many pixels per output pixel on the short side
BATCH = 1000  # images per LMDB write transaction
FULL_BELOW = 64 << 20  # bytes free under which an LMDB write error is taken for a full disk


def crop_box(w: int, h: int, size: int) -> tuple[float, float, float, float]:
    """The source region that torchvision's resize(size) + center_crop(size) keeps."""
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    top = int(round((nh - size) / 2.0))
    left = int(round((nw - size) / 2.0))
    sx, sy = w / nw, h / nh
    return left * sx, top * sy, (left + size) * sx, (top + size) * sy


def _decoded(img: Image.Image, name: str, turn: bool) -> Image.Image:
    try:
        img.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadImage(f"corrupt or truncated image data: {e}") from None
    return to_rgb(ImageOps.exif_transpose(img) if turn else img)


def resize_all(data: bytes, sizes: tuple[int, ...], *, exact: bool = False,
               name: str = "") -> dict[int, Image.Image]:
    """Each size's square image from encoded bytes (see the module doc); raises BadImage.

    The header is read once (with curate.imaging's checks: format, size, bombs) and the image
    decoded once; the small sizes resample its 2x2 average (``Image.reduce(2)``).
    """
    header = open_checked(data, name)
    turn = "exif" in header.info and header.getexif().get(0x0112, 1) != 1
    img = _decoded(header, name, turn)
    w, h = img.size
    half = None
    out = {}
    for size in sizes:
        l, t, r, b = crop_box(w, h, size)
        if exact or min(w, h) // REDUCE < REDUCE_GAP * size:
            out[size] = img.resize((size, size), Image.Resampling.LANCZOS, box=(l, t, r, b))
            continue
        if half is None:
            half = img.reduce(REDUCE)
        # Pixel i of the reduced image averages source pixels 2i and 2i + 1: coordinates halve
        # exactly (an odd last row or column is dropped, hence the clamp).
        box = (l / REDUCE, t / REDUCE, min(r / REDUCE, half.width), min(b / REDUCE, half.height))
        out[size] = half.resize((size, size), Image.Resampling.LANCZOS, box=box)
    return out


def _work(args: tuple[int, Item, tuple[int, ...], bool]) -> tuple[int, str, list[bytes] | str]:
    """Worker: (index, item, sizes, exact) → (index, sha256 of the file, JPEGs or why not)."""
    index, item, sizes, exact = args
    data, problem = check_file(item)
    if problem:
        return index, "", problem
    # check_file has just compared the bytes with a recorded hash; hash only what has none.
    sha = item.content_hash or hashlib.sha256(data).hexdigest()
    try:
        imgs = resize_all(data, sizes, exact=exact, name=item.path)
    except BadImage as e:
        return index, sha, f"bad image: {item.path}: {e}"
    return index, sha, [encode_jpeg(imgs[s], QUALITY) for s in sizes]


def _as_os_error(e: lmdb.Error, where: Path) -> OSError:
    """LMDB reports a full disk as a bare I/O error (no errno): call it ENOSPC when the disk
    has less than FULL_BELOW bytes left, so the export says "disk full" in one line."""
    try:
        st = os.statvfs(where)
        full = st.f_bavail * st.f_frsize < FULL_BELOW
    except OSError:
        full = False
    return OSError(errno.ENOSPC if full else errno.EIO, f"LMDB: {e}", str(where))


def _write_lmdb(folder: Path, jobs: list, workers: int, map_size: int,
                progress: Progress) -> list[str]:
    """Write every job's images and `length` into an LMDB in `folder`; returns each image's
    sha256. Raises ExportError listing the unusable files (then nothing counts: the caller's
    temp folder is dropped)."""
    problems: list[str] = []
    hashes: list[str] = [""] * len(jobs)
    env = lmdb.open(str(folder), map_size=map_size, subdir=True, readahead=False, meminit=False)
    try:
        txn = env.begin(write=True)
        bar = progress_bar(progress, total=len(jobs), desc="prepare", unit="img")
        try:
            work = run_jobs(_work, jobs, workers, inline_below=32, chunksize=16)
            for n, (i, sha, result) in enumerate(work, 1):
                hashes[i] = sha
                if isinstance(result, str):
                    problems.append(result)
                elif not problems:  # after a problem nothing more is kept: it will fail
                    for s, jpeg in zip(jobs[i][2], result):
                        txn.put(key(s, i), jpeg)
                if n % BATCH == 0:
                    txn.commit()
                    txn = env.begin(write=True)
                bar.update()
            fail_on_problems(problems)
            txn.put(LENGTH_KEY, length_value(len(jobs)))
            txn.commit()
        except BaseException:
            txn.abort()
            raise
        finally:
            bar.close()
        env.sync()
    finally:
        env.close()
    return hashes


def prepare(engine, out: str | os.PathLike, source: str | os.PathLike, *,
            progress: Progress = True, **options) -> ExportResult:
    """Write the multi-resolution LMDB of the images of `source` (an export or a folder) to `out`.

    options: the fields of registry.Lmdb, where their defaults live (sizes 8,16,32,64 as a
    tuple or "8,16"; workers None = all cores; exact False: reduced-scale decoding allowed,
    True is slower and within 1 level of the reference). engine: the database the export is
    recorded in (None: not recorded).
    """
    p = Lmdb(source=source, **options)
    sizes, exact = p.sizes, p.exact
    final = check_destination(out, engine, p.kind)
    items = items_from(p.source, engine)
    workers = p.workers or os.cpu_count() or 1
    jobs = [(i, it, sizes, exact) for i, it in enumerate(items)]
    per_image = sum(3 * s * s for s in sizes)
    map_size = max(64 << 20, 2 * per_image * len(items) + (16 << 20))
    params = {"source": str(Path(p.source).expanduser().resolve()), "sizes": list(sizes),
              "exact": exact, "quality": QUALITY}
    with export_folder(engine, final, p.kind, params, None, reads=items) as w:
        try:
            hashes = _write_lmdb(w.tmp, jobs, workers, map_size, progress)
        except lmdb.Error as e:
            raise _as_os_error(e, w.tmp) from None
        manifest = [replace(it, name=f"{i:05d}",
                            content_hash=it.content_hash or hashes[i])
                    for i, it in enumerate(items)]
        counts = {"images": len(items), "sizes": len(sizes)}
        w.done(manifest, counts)
    return w.result

