"""The sketch effect looks like the seed's: white paper, dark lines on the face's edges, 10 greys."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from trainers.common.sketch import photocopy, posterize, sketch

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def synthetic_face(size: int = 128, skin=(205, 160, 130), hair=(70, 50, 35)) -> np.ndarray:
    """A white-background cartoon face: hair, skin ellipse, dark eyes, nose line, mouth arc."""
    s = size / 128
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.ellipse([26 * s, 12 * s, 102 * s, 80 * s], fill=hair)
    d.ellipse([32 * s, 22 * s, 96 * s, 112 * s], fill=skin)
    for x0 in (44, 70):
        d.ellipse([x0 * s, 50 * s, (x0 + 14) * s, 60 * s], fill=(50, 35, 30))
    d.line([64 * s, 60 * s, 60 * s, 80 * s], fill=(120, 80, 60), width=max(1, round(2 * s)))
    d.arc([48 * s, 80 * s, 80 * s, 98 * s], 20, 160, fill=(140, 40, 40), width=max(1, round(3 * s)))
    return np.asarray(img)


def max_filter(x: np.ndarray, radius: int) -> np.ndarray:
    window = 2 * radius + 1
    padded = np.pad(x, radius, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, (window, window)).max(axis=(2, 3))


def save_artifact(tmp_path: Path, name: str, *images: np.ndarray) -> None:
    """Side-by-side picture for people to look at, in tmp_path and the git-ignored test-artifacts/."""
    out = tmp_path / name
    Image.fromarray(np.concatenate(images, axis=1)).save(out)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(out, ARTIFACTS / name)


def test_synthetic_face_is_white_paper_with_dark_features(tmp_path):
    face = synthetic_face(128)
    out = sketch(face)
    save_artifact(tmp_path, "sketch_synthetic_face.png", face, out)
    grey = out[..., 0]
    assert out.shape == face.shape and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    # The background (outside the head) is plain white.
    background = np.all(face == 255, axis=2)
    assert (grey[background] == 255).mean() > 0.97
    # The eyes are outlined in black-ish ink; the middle of a cheek stays white.
    eye_box = grey[48:63, 42:86]
    assert (eye_box <= 60).sum() >= 20
    assert grey[88:92, 38:44].min() >= 200
    # Mostly white overall, like a photocopy.
    assert (grey >= 227).mean() > 0.8


def test_real_portrait_has_lines_on_edges(tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    photo = skimage_data.astronaut()  # public-domain NASA portrait bundled with scikit-image
    out = sketch(photo)
    save_artifact(tmp_path, "sketch_astronaut.png", photo, out)
    grey = out[..., 0].astype(np.float32)
    assert out.shape == photo.shape
    assert len(np.unique(grey)) <= 10
    assert (grey >= 227).mean() > 0.5  # the paper is mostly white
    # Ink falls where the photo has edges and the paper stays white where it is flat.
    lum = photo.astype(np.float32).mean(axis=2)
    gy, gx = np.gradient(lum)
    grad = np.hypot(gx, gy)
    flat = (max_filter(grad, 3) < 4) & (lum > 20)  # no edge within 3 px, not pitch black
    strong = grad > np.quantile(grad, 0.95)  # the photo's strongest 5 % of edges
    ink_nearby = max_filter((grey <= 85).astype(np.uint8), 3).astype(bool)
    assert flat.mean() > 0.05 and (grey[flat] >= 227).mean() > 0.9
    assert ink_nearby[strong].mean() > 0.25
    assert ink_nearby[strong].mean() > 10 * ink_nearby[flat].mean()


def test_output_has_at_most_levels_greys_and_is_deterministic():
    face = synthetic_face(96)
    a = sketch(face, levels=10)
    assert np.array_equal(a, sketch(face, levels=10))
    assert len(np.unique(a)) <= 10
    assert len(np.unique(sketch(face, levels=4))) <= 4


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (5, 5), (17, 3), (37, 91), (91, 37)])
def test_any_shape_works(shape):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    out = sketch(rgb)
    assert out.shape == (*shape, 3) and out.dtype == np.uint8


def test_non_square_face_keeps_its_features():
    face = synthetic_face(128)
    wide = np.full((128, 200, 3), 255, np.uint8)
    wide[:, 36:164] = face
    out = sketch(wide)[..., 0]
    assert out.shape == (128, 200)
    assert np.array_equal(out[:, :30], np.full((128, 30), 255, np.uint8))
    assert (out[48:63, 78:122] <= 60).sum() >= 20


def test_flat_images_have_no_lines():
    assert np.all(sketch(np.full((40, 30, 3), 180, np.uint8)) == 255)
    assert np.all(photocopy(np.full((8, 8), 0.5, np.float32)) == 1.0)


def test_more_darkness_means_more_black():
    face = synthetic_face(128)
    assert (sketch(face, darkness=30) == 0).sum() > (sketch(face, darkness=3) == 0).sum()


def test_posterize_snaps_to_even_levels():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    y = posterize(x, 10)
    assert np.allclose(np.unique(y), np.arange(10) / 9)
    assert y.dtype == np.float32
    assert np.all(np.abs(y - x) <= 1 / 18 + 1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: sketch(np.zeros((8, 8), np.uint8)), "HxWx3"),
    (lambda: sketch(np.zeros((8, 8, 4), np.uint8)), "HxWx3"),
    (lambda: sketch(np.zeros((8, 8, 3), np.float32)), "uint8"),
    (lambda: sketch(np.zeros((0, 8, 3), np.uint8)), "empty"),
    (lambda: sketch(np.zeros((8, 8, 3), np.uint8), detail=0), "detail"),
    (lambda: sketch(np.zeros((8, 8, 3), np.uint8), darkness=51), "darkness"),
    (lambda: sketch(np.zeros((8, 8, 3), np.uint8), levels=1), "levels"),
    (lambda: photocopy(np.zeros((8, 8), np.uint8)), "float"),
    (lambda: photocopy(np.full((8, 8), 2.0, np.float32)), r"\[0, 1\]"),
    (lambda: photocopy(np.full((8, 8), np.nan, np.float32)), "NaN"),
    (lambda: photocopy(np.zeros((8, 8, 3), np.float32)), "2-D"),
    (lambda: photocopy(np.zeros((8, 8), np.float32), size=0), "size"),
    (lambda: posterize(np.zeros(4, np.float32), levels=2.5), "integer"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_below_64_px_the_effect_leaves_nothing_to_see():
    """What the pages' words rest on: a face sketched at 32 px is blank white, at 64 px not."""
    from curate import synth
    from trainers.common.sketch import too_small
    face = synth.render(synth.draw_truth(np.random.default_rng(1), "f.jpg"), seed=1)
    small = np.asarray(face.convert("RGB").resize((32, 32), Image.Resampling.LANCZOS))
    big = np.asarray(face.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS))
    assert too_small(32) and not too_small(64)
    assert sketch(small).min() == 255 and sketch(big).min() < 128
