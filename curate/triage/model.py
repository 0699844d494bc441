"""The ranker (PyTorch) and its file: a plain dict of tensors and JSON-able metadata.

A small convolutional network, trained from scratch (no downloaded weights), looks at the image
at `side`×`side` pixels; a second branch reads the CelebA attributes (zeros for a source
without them). Three heads: p(accept), which rule fails (softmax over the rules, learned from
rejections), which tags apply (one sigmoid each, learned from accepts).

The file (`save`) holds {"format", "state_dict", "meta"}: only tensors, strings, numbers, lists
and dicts, so `torch.load(weights_only=True)` reads it without running any code. `load`
refuses, in one line, anything else: another kind of file, another format, metadata out of
bounds, or tensors whose shapes differ from the network the metadata describes (checked before
the weights are copied in).
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

FORMAT = "rostro-triage/1"
SIDES = (32, 48, 64, 96, 128)  # image sides the network is built for
MAX_WIDTH = 256
MAX_FILE_BYTES = 64 * 1024 * 1024  # a triage model is about 1 MB


class TriageModelError(ValueError):
    """A file that is not a triage model this version can use; str() says why in one line."""


class Ranker(nn.Module):
    def __init__(self, *, side: int = 64, n_attributes: int = 41, n_rules: int = 3,
                 n_tags: int = 4, width: int = 16):
        super().__init__()
        chans = [3, width, width * 2, width * 4, width * 6]
        layers: list[nn.Module] = []
        for a, b in zip(chans, chans[1:]):
            layers += [nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(b),
                       nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.attributes = nn.Sequential(nn.Linear(n_attributes, 32), nn.ReLU(inplace=True))
        # The last map is kept as a 4×4 grid, not averaged: where the eyes and nose sit within
        # the head (the pose) is what separates a face that looks at the camera.
        self.trunk = nn.Sequential(nn.Linear(chans[-1] * 16 + 32, 128), nn.ReLU(inplace=True),
                                   nn.Dropout(0.2))
        self.accept = nn.Linear(128, 1)
        self.rules = nn.Linear(128, n_rules)
        self.tags = nn.Linear(128, n_tags)

    def forward(self, pixels: torch.Tensor, attributes: torch.Tensor):
        """pixels: (n, 3, side, side) uint8 or float in [0, 255]; attributes: (n, n_attributes).
        Returns logits: accept (n,), rules (n, n_rules), tags (n, n_tags)."""
        x = pixels.float() * (2.0 / 255.0) - 1.0
        x = F.adaptive_avg_pool2d(self.features(x), 4).flatten(1)
        h = self.trunk(torch.cat([x, self.attributes(attributes)], dim=1))
        return self.accept(h).squeeze(1), self.rules(h), self.tags(h)


def architecture(meta: dict) -> dict:
    """The constructor arguments the metadata describes, checked against their bounds."""
    try:
        args = {k: int(meta[k]) for k in ("side", "n_attributes", "n_rules", "n_tags", "width")}
    except (KeyError, TypeError, ValueError, OverflowError):
        raise TriageModelError("its metadata does not describe a triage network") from None
    if (args["side"] not in SIDES or not 1 <= args["width"] <= MAX_WIDTH
            or not 1 <= args["n_attributes"] <= 1024 or not 1 <= args["n_rules"] <= 64
            or not 1 <= args["n_tags"] <= 64):
        raise TriageModelError("its network sizes are out of bounds")
    return args


def save(model: Ranker, meta: dict, path: str | os.PathLike) -> None:
    """Write the model file atomically (a temp file beside it, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, "state_dict": state, "meta": meta}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike, device: str = "cpu") -> tuple[Ranker, dict]:
    """(model in eval mode, meta) from a file `save` wrote; TriageModelError otherwise."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise TriageModelError(f"{name}: no such file") from None
    if size > MAX_FILE_BYTES:
        raise TriageModelError(f"{name} is not a triage model (larger than {MAX_FILE_BYTES:,} bytes)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle refusals, zip errors, truncation: all one answer
        raise TriageModelError(f"{name} is not a triage model ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise TriageModelError(f"{name} is not a triage model (format {FORMAT} expected)")
    meta, state = blob.get("meta"), blob.get("state_dict")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise TriageModelError(f"{name} is not a triage model (no metadata or weights)")
    model = Ranker(**architecture(meta))
    expected = model.state_dict()
    if set(state) != set(expected):
        raise TriageModelError(f"{name}: its weights do not match a triage network")
    for key, want in expected.items():
        got = state[key]
        if (not isinstance(got, torch.Tensor) or got.shape != want.shape or got.dtype != want.dtype
                or (got.numel() and 0 in got.stride())):
            raise TriageModelError(f"{name}: weight {key!r} has the wrong shape or type")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise TriageModelError(f"{name}: weight {key!r} is not finite")
    model.load_state_dict(state)
    return model.to(device).eval(), meta


def predict(model: Ranker, pixels: torch.Tensor, attributes: torch.Tensor):
    """(p_accept (n,), p_rules given a rejection (n, rules), p_tags given an accept (n, tags))."""
    with torch.inference_mode():
        a, r, t = model(pixels, attributes)
        return torch.sigmoid(a), F.softmax(r, dim=1), torch.sigmoid(t)


def param_count(model: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in model.parameters())
