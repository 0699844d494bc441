"""A deterministic synthetic face generator that stands in for CelebA and peruvian_face.

Each face is drawn from a `Truth` (age, pose, accessories, defects) that also says what the
annotation rules should decide, so tests and the demo know the right answer. The same seed and
index always give the same image bytes.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from curate.imaging import encode_jpeg

CELEBA_SIZE = (178, 218)  # width, height of img_align_celeba
PERUVIAN_SIZE = (128, 128)
POSES = ("frontal", "three_quarter", "profile")
_SS = 2  # supersampling factor: drawn at twice the size, then downscaled with Lanczos


@dataclass(frozen=True)
class Truth:
    file: str
    age: int
    male: bool
    pose: str  # frontal | three_quarter | profile
    looks_at_camera: bool
    grey_hair: bool
    bald: bool
    wrinkles: bool
    makeup_young: bool  # old, but make-up/surgery hides every elderly feature
    hat: bool
    glasses: bool
    text: bool
    two_faces: bool
    stretched: bool
    smiling: bool
    hair: str  # black | brown | blond | grey | none
    background: str

    @property
    def elderly_features(self) -> bool:
        return self.grey_hair or self.wrinkles or self.bald

    def expected(self) -> tuple[str, str | None, list[str]]:
        """What the rules of DESIGN.md decide: (verdict, failed rule, tolerance tags)."""
        if self.age <= 55:
            return "reject", "too_young", []
        if not self.looks_at_camera:
            return "reject", "not_facing", []
        if not self.elderly_features:
            return "reject", "looks_young", []
        tags = [t for t, on in (("deformity", self.stretched), ("text_on_face", self.text),
                                ("covering_accessory", self.hat), ("two_faces", self.two_faces)) if on]
        return "accept", None, tags

    def celeba_attributes(self) -> dict[str, int]:
        """CelebA's 40 attributes as 1/-1, consistent with the drawing."""
        on = {
            "Young": self.age < 40 or self.makeup_young,
            "Gray_Hair": self.grey_hair and not self.bald,
            "Bald": self.bald,
            "Eyeglasses": self.glasses,
            "Wearing_Hat": self.hat,
            "Male": self.male,
            "Smiling": self.smiling,
            "Heavy_Makeup": self.makeup_young,
            "Wearing_Lipstick": self.makeup_young or (not self.male and self.age < 40),
            "Black_Hair": self.hair == "black",
            "Brown_Hair": self.hair == "brown",
            "Blond_Hair": self.hair == "blond",
            "No_Beard": True,
            "Receding_Hairline": self.age > 60 and self.male and not self.bald,
            "Bags_Under_Eyes": self.wrinkles,
            "Mouth_Slightly_Open": self.smiling,
        }
        from curate.celeba import ATTRIBUTES
        return {a: 1 if on.get(a, False) else -1 for a in ATTRIBUTES}


OLD_SHARE = 0.35  # share of CelebA-like faces over 55: about 20 % then pass every rule


def draw_truth(rng: np.random.Generator, file: str, *, peruvian: bool = False,
               old_share: float = OLD_SHARE) -> Truth:
    """Random attributes for one face. CelebA-like: mixed ages, `old_share` of them over 55
    (default 0.35, which the rules accept about 60 % of); peruvian: young and plain."""
    if peruvian:
        age = int(rng.integers(18, 25))
        return Truth(file, age, bool(rng.random() < 0.5), "frontal", True, False, False, False,
                     False, False, False, False, False, False, bool(rng.random() < 0.4),
                     str(rng.choice(["black", "brown"])), "white")
    old = rng.random() < old_share
    age = int(rng.integers(56, 90)) if old else int(rng.integers(18, 56))
    pose = str(rng.choice(POSES, p=[0.7, 0.2, 0.1]))
    looks = pose == "frontal" or (pose == "profile" and rng.random() < 0.2)
    makeup_young = old and rng.random() < 0.15
    bald = old and not makeup_young and rng.random() < 0.2
    grey = old and not makeup_young and not bald and rng.random() < 0.85
    wrinkles = old and not makeup_young and rng.random() < 0.8
    if old and not makeup_young and not (grey or bald or wrinkles):
        wrinkles = True
    hair = "none" if bald else "grey" if grey else str(rng.choice(["black", "brown", "blond"]))
    return Truth(
        file, age, bool(rng.random() < 0.5), pose, looks, grey, bald, wrinkles, makeup_young,
        hat=bool(rng.random() < 0.12), glasses=bool(rng.random() < 0.15),
        text=bool(rng.random() < 0.06), two_faces=bool(rng.random() < 0.06),
        stretched=bool(rng.random() < 0.05), smiling=bool(rng.random() < 0.5), hair=hair,
        background=str(rng.choice(["plain", "gradient", "stripes", "noise"])),
    )


_HAIR = {"black": (30, 25, 22), "brown": (95, 60, 35), "blond": (215, 185, 120),
         "grey": (200, 200, 205), "none": (0, 0, 0)}


def _background(rng: np.random.Generator, kind: str, w: int, h: int) -> Image.Image:
    if kind == "white":
        return Image.new("RGB", (w, h), (250, 250, 250))
    c1 = rng.integers(40, 230, 3)
    c2 = rng.integers(40, 230, 3)
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    if kind == "plain":
        arr = np.broadcast_to(c1, (h, w, 3)).astype(np.float64)
    elif kind == "gradient":
        arr = c1 * (1 - y) + c2 * y + 0 * x
    elif kind == "stripes":
        arr = np.where((np.floor(x * 8 + y * 3) % 2) == 0, c1, c2) + 0 * y
    else:
        arr = c1 + rng.normal(0, 18, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _face(d: ImageDraw.ImageDraw, rng: np.random.Generator, t: Truth, cx: float, cy: float,
          rx: float, ry: float, s: float) -> None:
    """One head centred at (cx, cy) with radii (rx, ry); s is the drawing scale."""
    tone = np.array([(235, 200, 170), (200, 150, 110), (150, 100, 70), (110, 75, 50)][int(rng.integers(0, 4))])
    if t.age > 55 and not t.makeup_young:
        tone = (tone * 0.93).astype(int)
    skin = tuple(int(v) for v in tone)
    hair = _HAIR[t.hair]
    turn = {"frontal": 0.0, "three_quarter": 0.35, "profile": 0.75}[t.pose] * (1 if rng.random() < 0.5 else -1)
    if not t.bald:  # hair behind the head
        d.ellipse([cx - rx * 1.12, cy - ry * 1.15, cx + rx * 1.12, cy + ry * 0.55], fill=hair)
    d.ellipse([cx - rx * 0.22, cy + ry * 0.7, cx + rx * 0.22, cy + ry * 1.35], fill=skin)  # neck
    d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=skin)
    if not t.bald:  # fringe
        d.chord([cx - rx * 1.02, cy - ry * 1.05, cx + rx * 1.02, cy - ry * 0.1], 180, 360, fill=hair)
    fx = cx + turn * rx * 0.6  # features shift toward the turn
    ey = cy - ry * 0.12
    eyes = [fx - rx * 0.38, fx + rx * 0.38]
    if abs(turn) > 0.6:
        eyes = [fx + np.sign(turn) * rx * 0.3]
    for ex in eyes:
        d.ellipse([ex - rx * 0.16, ey - ry * 0.07, ex + rx * 0.16, ey + ry * 0.07], fill=(245, 245, 245))
        pupil = ex + (turn * rx * 0.08 if not t.looks_at_camera else 0)
        d.ellipse([pupil - rx * 0.07, ey - ry * 0.06, pupil + rx * 0.07, ey + ry * 0.06], fill=(40, 30, 25))
        brow = (200, 200, 205) if t.grey_hair else (hair if not t.bald else (90, 80, 70))
        d.line([ex - rx * 0.18, ey - ry * 0.16, ex + rx * 0.18, ey - ry * 0.18], fill=brow, width=int(3 * s))
        if t.makeup_young:
            d.line([ex - rx * 0.17, ey - ry * 0.08, ex + rx * 0.17, ey - ry * 0.08], fill=(20, 20, 20), width=int(2 * s))
    nose_x = fx + turn * rx * 0.45
    d.line([nose_x, ey + ry * 0.05, nose_x + turn * rx * 0.25 - rx * 0.04, cy + ry * 0.28,
            nose_x + rx * 0.06, cy + ry * 0.3], fill=tuple(int(v * 0.75) for v in skin), width=int(2 * s))
    mouth_col = (190, 40, 60) if t.makeup_young or (not t.male and t.age < 40) else (150, 70, 70)
    my = cy + ry * 0.52
    if t.smiling:
        d.arc([fx - rx * 0.3, my - ry * 0.15, fx + rx * 0.3, my + ry * 0.1], 20, 160, fill=mouth_col, width=int(3 * s))
    else:
        d.line([fx - rx * 0.25, my, fx + rx * 0.25, my], fill=mouth_col, width=int(3 * s))
    if t.wrinkles:
        line = tuple(int(v * 0.62) for v in skin)
        for k in range(3):  # forehead lines
            yy = cy - ry * (0.55 - 0.09 * k)
            d.arc([fx - rx * 0.45, yy - ry * 0.05, fx + rx * 0.45, yy + ry * 0.05], 190, 350, fill=line, width=max(1, int(s)))
        for ex in eyes:  # crow's feet and cheek folds
            side = 1 if ex > fx else -1
            for k in (-1, 0, 1):
                d.line([ex + side * rx * 0.2, ey, ex + side * rx * 0.32, ey + k * ry * 0.06], fill=line, width=max(1, int(s)))
        for side in (-1, 1):
            d.line([fx + side * rx * 0.3, cy + ry * 0.25, fx + side * rx * 0.38, cy + ry * 0.6], fill=line, width=max(1, int(s)))
    if t.glasses:
        for ex in eyes:
            d.ellipse([ex - rx * 0.24, ey - ry * 0.14, ex + rx * 0.24, ey + ry * 0.14], outline=(20, 20, 20), width=int(2 * s))
        if len(eyes) == 2:
            d.line([eyes[0] + rx * 0.24, ey, eyes[1] - rx * 0.24, ey], fill=(20, 20, 20), width=int(2 * s))
    if t.hat:
        col = tuple(int(v) for v in rng.integers(20, 200, 3))
        d.rectangle([cx - rx * 1.3, cy - ry * 0.55, cx + rx * 1.3, cy - ry * 0.4], fill=col)
        d.chord([cx - rx * 0.95, cy - ry * 1.5, cx + rx * 0.95, cy - ry * 0.2], 180, 360, fill=col)
        d.rectangle([cx - rx * 0.95, cy - ry * 0.85, cx + rx * 0.95, cy - ry * 0.45], fill=col)


def render(t: Truth, seed: int, size: tuple[int, int] = CELEBA_SIZE) -> Image.Image:
    """Draw the face described by `t` (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    w, h = size[0] * _SS, size[1] * _SS
    img = _background(rng, t.background, w, h)
    d = ImageDraw.Draw(img)
    # Position and scale vary as much as in aligned CelebA crops, so faces differ at low
    # frequencies too (a perceptual hash must not call two different faces near-duplicates).
    cx = w * (0.5 + rng.uniform(-0.08, 0.08))
    cy = h * (0.53 + rng.uniform(-0.06, 0.06))
    rx = w * rng.uniform(0.22, 0.33)
    ry = h * rng.uniform(0.23, 0.33)
    if t.stretched:  # the head is stretched up to the top edge
        ry *= 1.55
        cy = ry * 0.98
    if t.two_faces:
        other = Truth(**{**asdict(t), "hat": False, "text": False, "glasses": False, "two_faces": False})
        _face(d, rng, other, w * 0.82, h * 0.3, rx * 0.45, ry * 0.45, _SS * 0.5)
        cx -= w * 0.08
    _face(d, rng, t, cx, cy, rx, ry, _SS)
    if t.text:
        font = ImageFont.load_default(size=11 * _SS)
        d.text((cx - rx * 0.55, cy + ry * 0.05), "SAMPLE", fill=(255, 255, 0), font=font)
    img = img.filter(ImageFilter.GaussianBlur(0.6 * _SS))
    return img.resize(size, Image.Resampling.LANCZOS)


def face_jpeg(t: Truth, seed: int, size: tuple[int, int] = CELEBA_SIZE, quality: int = 92) -> bytes:
    """JPEG bytes (default quality 92) of the face `t` rendered at `size` (default CelebA's)."""
    return encode_jpeg(render(t, seed, size), quality)


def _write_truth(path: Path, truths: list[Truth]) -> None:
    names = [f.name for f in fields(Truth)] + ["expected_verdict", "expected_rule", "expected_tags"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(names)
        for t in truths:
            verdict, rule, tags = t.expected()
            w.writerow([getattr(t, n) for n in names[:-3]] + [verdict, rule or "", " ".join(tags)])


def read_truth(path: str | Path) -> dict[str, dict]:
    """ground_truth.csv → {file: row}, with booleans and age parsed."""
    out = {}
    with Path(path).open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if v in ("True", "False"):
                    row[k] = v == "True"
            row["age"] = int(row["age"])
            out[row["file"]] = row
    return out


def _write_face(job: tuple[str, int, int, float]) -> Truth:
    """Draw and write face i of a CelebA-style folder (runs in worker processes)."""
    images, i, seed, old_share = job
    name = f"{i + 1:06d}.jpg"
    t = draw_truth(np.random.default_rng([seed, i]), name, old_share=old_share)
    path = Path(images) / name
    tmp = path.with_name(f".{name}.tmp")
    tmp.write_bytes(face_jpeg(t, seed * 1_000_003 + i))
    tmp.replace(path)
    return t


def write_celeba(folder: str | Path, count: int, seed: int = 0, *, old_share: float = OLD_SHARE,
                 workers: int = 1) -> list[Truth]:
    """A CelebA-style folder: img_align_celeba/NNNNNN.jpg, list_attr_celeba.txt,
    list_eval_partition.txt, and ground_truth.csv beside them. `old_share` (default 0.35) sets
    the share of faces over 55, and so the accept rate (about 0.6 × old_share); `workers`
    (default 1) draws in that many processes, with the same bytes."""
    from curate.celeba import write_attributes
    if not 0.0 <= old_share <= 1.0:
        raise ValueError("the share of old faces is a fraction between 0 and 1")
    folder = Path(folder)
    images = folder / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    jobs = [(str(images), i, seed, old_share) for i in range(count)]
    if workers > 1 and count > 64:
        from trainers.common.workers import worker_pool
        with worker_pool(workers) as pool:
            truths = list(pool.map(_write_face, jobs, chunksize=64))
    else:
        truths = [_write_face(j) for j in jobs]
    write_attributes(folder / "list_attr_celeba.txt", {t.file: t.celeba_attributes() for t in truths})
    n_train, n_val = int(count * 0.8), int(count * 0.1)
    parts = [0] * n_train + [1] * n_val + [2] * (count - n_train - n_val)
    (folder / "list_eval_partition.txt").write_text(
        "".join(f"{t.file} {p}\n" for t, p in zip(truths, parts)), encoding="utf-8")
    _write_truth(folder / "ground_truth.csv", truths)
    return truths


def write_peruvian(folder: str | Path, count: int, seed: int = 0) -> list[Truth]:
    """A peruvian_face-style folder: young frontal faces on white, no accessories."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truths = []
    for i in range(count):
        name = f"peru_{i + 1:05d}.jpg"
        t = draw_truth(np.random.default_rng([seed, 7, i]), name, peruvian=True)
        (folder / name).write_bytes(face_jpeg(t, seed * 1_000_003 + 500_000 + i, PERUVIAN_SIZE))
        truths.append(t)
    _write_truth(folder / "ground_truth.csv", truths)
    return truths
