"""Safe image reading: every way a file can be bad becomes a `BadImage` with a clear reason.

Transforms elsewhere take HWC uint8 RGB ndarrays; `load_rgb` is how a file becomes one, whatever
its mode (CMYK, 16-bit, palette, alpha composited on white).
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MAX_PIXELS = 89_478_485  # Pillow's own bomb threshold (~0.25 GiB RGBA); refuse, never just warn
_HASH_SIDE = 32  # the perceptual hash works on a 32×32 luminance DCT


class BadImage(ValueError):
    """A file that cannot be used as an image; str() is the reason shown to the user."""


@dataclass(frozen=True)
class Probe:
    content_hash: str  # sha256 hex of the file bytes
    phash: int  # signed 64-bit DCT hash
    width: int
    height: int
    mode: str
    file_size: int


def open_checked(data: bytes, name: str = "") -> Image.Image:
    """Open an encoded image and check its header (format, size, bomb) without decoding pixels;
    raises BadImage with the reason."""
    if not data:
        raise BadImage("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadImage(f"decompression bomb: {e}") from None
    except UnidentifiedImageError:
        raise BadImage("not an image (format not recognised)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise BadImage(f"unreadable header: {e}") from None
    if img.format not in {"JPEG", "PNG", "WEBP", "MPO"}:
        raise BadImage(f"unsupported format {img.format} (expected JPEG, PNG or WebP)")
    w, h = img.size
    if w < 1 or h < 1:
        raise BadImage(f"invalid size {w}×{h}")
    if w * h > MAX_PIXELS:
        raise BadImage(f"decompression bomb: {w}×{h} = {w * h:,} pixels exceeds {MAX_PIXELS:,}")
    return img


def _decode(img: Image.Image) -> None:
    try:
        img.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e)
        if "truncated" in msg or isinstance(e, EOFError):
            raise BadImage(f"truncated file: {msg}") from None
        raise BadImage(f"corrupt image data: {msg}") from None


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB for any mode: alpha and palette transparency composited on white, 16-bit scaled."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float64), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def read_image(data: bytes, name: str = "", *, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode bytes fully (raises BadImage); EXIF orientation applied; not yet converted."""
    img = open_checked(data, name)
    if draft is not None and img.format == "JPEG":
        img.draft("RGB", draft)  # decode at 1/2…1/8 scale straight from the DCT: much faster
    _decode(img)
    if draft is None:
        img = ImageOps.exif_transpose(img)
    return img


def load_bytes(path: str | Path, content_hash: str | None = None) -> bytes:
    """The bytes of an image file, read only when it is a regular file below the size cap
    (`trainers.common.safefiles.read_regular`; a FIFO or a device is refused) and, given
    `content_hash`, only when they still match it; raises BadImage with the reason."""
    from trainers.common.safefiles import RefusedFile, read_regular
    try:
        data = read_regular(path)
    except FileNotFoundError:
        raise BadImage(f"missing file: {path}") from None
    except RefusedFile as e:
        raise BadImage(f"refused: {e}") from None
    except OSError as e:
        raise BadImage(f"unreadable file: {e.strerror or e}") from None
    if content_hash and hashlib.sha256(data).hexdigest() != content_hash:
        raise BadImage(f"changed file: the bytes of {path} no longer match the recorded sha256")
    return data


def load_rgb(path: str | Path, content_hash: str | None = None) -> np.ndarray:
    """The file as an HWC uint8 RGB array (read by `load_bytes`); raises BadImage."""
    return np.asarray(to_rgb(read_image(load_bytes(path, content_hash), Path(path).name)))


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT = _dct_matrix(_HASH_SIDE)


def phash(img: Image.Image) -> int:
    """64-bit DCT perceptual hash (the low 8×8 frequencies against their median), signed."""
    grey = img if img.mode == "L" else to_rgb(img).convert("L")
    grey = grey.resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BILINEAR)
    a = np.asarray(grey, dtype=np.float64)
    low = (_DCT @ a @ _DCT.T)[:8, :8].ravel()
    # The median of the 63 values past the DC term is the 32nd smallest, exactly what
    # np.median returns for an odd count; partition finds it in a tenth of the time (ingest
    # runs this once per file).
    bits = low > np.partition(low[1:], 31)[31]
    value = int(np.packbits(bits).view(">u8")[0])
    return value - (1 << 64) if value >= (1 << 63) else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


def probe_bytes(data: bytes, name: str = "") -> Probe:
    """Hashes, size and mode of an encoded image; raises BadImage. Decodes at reduced scale."""
    img = open_checked(data, name)
    w, h, mode = img.width, img.height, img.mode
    if img.format == "JPEG" and mode in ("L", "RGB"):
        # Decode straight to luminance at 1/8 scale: the whole entropy stream is still read
        # (so truncation is caught) but almost no pixels are made. The hash needs no more.
        img.draft("L", (_HASH_SIDE, _HASH_SIDE))
    _decode(img)
    return Probe(
        content_hash=hashlib.sha256(data).hexdigest(),
        phash=phash(img),
        width=w,
        height=h,
        mode=mode,
        file_size=len(data),
    )


def encode_jpeg(img: Image.Image | np.ndarray, quality: int = 95) -> bytes:
    """JPEG bytes of a PIL image or an HWC uint8 RGB array (the one JPEG encoder of the project)."""
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
