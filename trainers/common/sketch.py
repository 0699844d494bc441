"""The seed's sketch effect: Photoshop's Photocopy (detail 15, darkness 3), then Posterize (10 levels).

Photoshop's code is closed. GIMP's photocopy plug-in describes the same effect openly and is what
this follows, written afresh in numpy:

1. Work on the luminance ``L = (max + min) / 2`` of the RGB pixel (GIMP's "lightness").
2. ``b`` = L lightly blurred (sigma from the sharpness), ``a`` = L averaged over a wider
   neighbourhood (sigma from the mask radius), ``d = b / a``.
3. Where ``d`` is below the threshold (0.75) the pixel is darker than its surroundings: it ramps
   towards black, and the ramp is chosen so that ``black share`` of those pixels end fully black.
   Above the threshold it ramps towards white so that ``white share`` of those end fully white.

Photoshop's two knobs are mapped to GIMP's ones by a mapping that looked right on real portraits::

    sharpness   = detail / 24
    mask radius = (4 + 8 * (1 - detail / 24)) * size / 256   px
    black share = darkness / 50
    white share = 0.2

The blur radius is scaled by ``size / 256`` as well (at 256 px it is exactly GIMP's), so a face
sketched at 64 px looks like the same face sketched at 512 px, only smaller. ``size`` defaults to
the image's short side.

Below MIN_VISIBLE_SIZE (64 px) the effect leaves a blank white image: the neighbourhoods are
then a few pixels wide and every pixel ends on the light side. Pages that show a sketch say so
in words instead of showing white (`too_small`).

Functions are pure, ndarray in and ndarray out; only numpy is used.
"""
from __future__ import annotations

import math

import numpy as np

THRESHOLD = 0.75  # GIMP's relative-darkness threshold (d below it darkens)
MIN_VISIBLE_SIZE = 64  # px: below this side the sketch is blank white
WHITE_SHARE = 0.2  # share of the brightening pixels that end fully white
_EPSILON = 2 / 255  # GIMP: a local average at or below 2/255 gives black (no ratio to speak of)
# GIMP turns a radius into a Gaussian sigma so that the kernel falls to 1/255 at the radius.
_RADIUS_TO_SIGMA = 1 / math.sqrt(2 * math.log(255))


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    if not (low <= value <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(math.ceil(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float array with mirrored borders; sigma in pixels."""
    if sigma <= 0:
        return x.astype(np.float64, copy=True)
    k = _gaussian_kernel(sigma)
    r = len(k) // 2
    out = x.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        # "symmetric" keeps working when the kernel is wider than the image (tiny inputs).
        padded = np.pad(out, pad, mode="symmetric")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for i, w in enumerate(k):
            acc += w * (padded[i:i + n, :] if axis == 0 else padded[:, i:i + n])
        out = acc
    return out


def _ramp_down(d_dark: np.ndarray, black_share: float) -> float:
    """Distance below the threshold at which a pixel is fully black (GIMP's compute_ramp)."""
    if black_share <= 0 or d_dark.size == 0:
        return 1.0
    return float(THRESHOLD - np.quantile(d_dark, black_share))


def _ramp_up(d_light: np.ndarray, white_share: float) -> float:
    """Distance above the threshold at which a pixel is fully white (GIMP's compute_ramp)."""
    if white_share >= 1 or d_light.size == 0:
        return 0.0
    return float(np.quantile(d_light, 1 - white_share) - THRESHOLD)


def photocopy(lum: np.ndarray, detail: float = 15, darkness: float = 3,
              size: float | None = None) -> np.ndarray:
    """Photoshop-like Photocopy of a luminance image.

    lum: float HxW in [0, 1]. detail: 1..24 (default 15; higher keeps finer lines).
    darkness: 1..50 (default 3; higher turns more of the dark pixels fully black).
    size: reference size in px the radii scale with (default: the short side of ``lum``).
    Returns float32 HxW in [0, 1]: white paper with dark lines where the image has edges.
    """
    lum = np.asarray(lum)
    if lum.ndim != 2:
        raise ValueError(f"lum must be a 2-D HxW array, got shape {lum.shape}")
    if lum.size == 0:
        raise ValueError("lum is empty")
    if not np.issubdtype(lum.dtype, np.floating):
        raise ValueError(f"lum must be float in [0, 1], got dtype {lum.dtype}")
    if not np.all(np.isfinite(lum)):
        raise ValueError("lum contains NaN or infinity")
    if lum.min() < 0 or lum.max() > 1:
        raise ValueError(f"lum must be in [0, 1], got [{lum.min():.3g}, {lum.max():.3g}]")
    _check_range("detail", detail, 1, 24)
    _check_range("darkness", darkness, 1, 50)
    if size is None:
        size = min(lum.shape)
    _check_range("size", size, 1, 1 << 16)

    scale = size / 256
    sharpness = detail / 24
    blur_radius = (max(1.0, 10 * (1 - sharpness)) + 1) * scale
    mask_radius = ((4 + 8 * (1 - sharpness)) + 1) * scale
    b = gaussian_blur(lum, blur_radius * _RADIUS_TO_SIGMA)
    a = gaussian_blur(lum, mask_radius * _RADIUS_TO_SIGMA)

    valid = a > _EPSILON
    d = np.where(valid, b / np.where(valid, a, 1.0), 0.0)
    dark = valid & (d < THRESHOLD)
    light = valid & ~dark
    down = _ramp_down(d[dark], darkness / 50)
    # GIMP ignores ratios of 2 or more when it sizes the white ramp (isolated highlights).
    up = _ramp_up(d[light & (d < 2.0)], WHITE_SHARE)

    out = np.zeros_like(b)  # invalid pixels (black surroundings) stay black, as in GIMP
    if down > 0:
        mult = (down - np.minimum(down, THRESHOLD - d[dark])) / down
    else:
        mult = np.zeros(int(dark.sum()))
    out[dark] = b[dark] * mult
    if up > 0:
        mult = np.minimum(up, d[light] - THRESHOLD) / up
    else:
        mult = np.ones(int(light.sum()))
    out[light] = 1 - (1 - mult) * (1 - b[light])
    return np.clip(out, 0, 1).astype(np.float32)


def posterize(x: np.ndarray, levels: int = 10) -> np.ndarray:
    """Snap each value of a float array in [0, 1] to the nearest of ``levels`` evenly spaced
    levels (0 and 1 included; default 10). Returns float32 of the same shape."""
    x = np.asarray(x)
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)):
        raise ValueError(f"levels must be an integer, got {type(levels).__name__}")
    if not 2 <= levels <= 256:
        raise ValueError(f"levels must be in [2, 256], got {levels}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"posterize takes floats in [0, 1], got dtype {x.dtype}")
    steps = levels - 1
    return (np.round(np.clip(x, 0, 1) * steps) / steps).astype(np.float32)


def too_small(size: int) -> bool:
    """True when a sketch made at `size` px (its side) leaves nothing to see."""
    return size < MIN_VISIBLE_SIZE


def luminance(rgb: np.ndarray) -> np.ndarray:
    """GIMP's lightness (max + min) / 2 of an HWC uint8 RGB image, float32 HxW in [0, 1]."""
    rgb = rgb.astype(np.float32) / 255
    return (rgb.max(axis=2) + rgb.min(axis=2)) / 2


def sketch(rgb: np.ndarray, detail: float = 15, darkness: float = 3,
           levels: int = 10) -> np.ndarray:
    """The seed's sketch of a photo: Photocopy (detail 15, darkness 3) then Posterize (10 levels).

    rgb: HWC uint8 RGB. Returns HWC uint8 RGB of the same height and width, grey (the three
    channels equal) with at most ``levels`` distinct values.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"sketch takes an HxWx3 RGB image, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"sketch takes uint8 RGB, got dtype {rgb.dtype}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"sketch got an empty image of shape {rgb.shape}")
    grey = posterize(photocopy(luminance(rgb), detail=detail, darkness=darkness), levels)
    grey8 = np.round(grey * 255).astype(np.uint8)
    return np.repeat(grey8[:, :, None], 3, axis=2)
