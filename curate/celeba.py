"""CelebA's annotation files: list_attr_celeba.txt and list_eval_partition.txt."""
from __future__ import annotations

import os
from pathlib import Path

ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"

# The 40 columns of list_attr_celeba.txt, in the file's order.
ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
    "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard "
    "Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
    "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()


class AttributeFileError(ValueError):
    pass


def find(root: Path, name: str) -> Path | None:
    """`name` in the image folder or its parent (CelebA ships it beside img_align_celeba/)."""
    for folder in (root, root.parent):
        if (folder / name).is_file():
            return folder / name
    return None


def read_attributes(path: str | os.PathLike | None) -> tuple[list[str], dict[str, list[str]]]:
    """(column names, {file name: names of the attributes that are +1}); empty when no file."""
    if path is None:
        return [], {}
    path = Path(path)
    if not path.is_file():
        raise AttributeFileError(f"attribute file not found: {path}")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if len(lines) < 2:
        raise AttributeFileError(f"{path}: expected a count line and a header line")
    first = lines[0].split()
    body_start = 2 if len(first) == 1 and first[0].isdigit() else 1
    names = lines[body_start - 1].split()
    if not names:
        raise AttributeFileError(f"{path}: the header line names no attributes")
    out: dict[str, list[str]] = {}
    for n, line in enumerate(lines[body_start:], start=body_start + 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise AttributeFileError(
                f"{path}:{n}: expected a file name and {len(names)} values, got {len(parts) - 1}")
        try:
            values = [int(v) for v in parts[1:]]
        except ValueError:
            raise AttributeFileError(f"{path}:{n}: values must be 1 or -1") from None
        out[parts[0]] = [a for a, v in zip(names, values) if v > 0]
    return names, out


def read_partition(path: str | os.PathLike | None) -> dict[str, int]:
    """{file name: 0 train | 1 val | 2 test}; empty when no file."""
    if path is None:
        return {}
    out = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def write_attributes(path: str | os.PathLike, rows: dict[str, dict[str, int]],
                     names: tuple[str, ...] | list[str] = ATTRIBUTES) -> None:
    """Write a list_attr_celeba.txt: rows maps file name → {attribute: 1 or -1}."""
    lines = [str(len(rows)), " ".join(names)]
    for fname, values in rows.items():
        lines.append(fname + " " + " ".join(f"{values.get(a, -1):2d}" for a in names))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
