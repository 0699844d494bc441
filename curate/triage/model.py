"""The ranker (PyTorch) and its file: a plain dict of tensors and JSON-able metadata.

A small convolutional network, trained from scratch (no downloaded weights), looks at the image
at `side`×`side` pixels; a second branch reads the CelebA attributes (zeros for a source
without them). Three heads: p(accept), which rule fails (softmax over the rules, learned from
rejections), which tags apply (one sigmoid each, learned from accepts).

A triage model is a committee (`Committee`) of such networks, each trained from its own
starting point on the same decisions; their probabilities are averaged. One network's ranking
of the faces it has not seen decided varies from one start to the next, and the average of two
ranks steadier (docs/triage.md).

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

from curate.triage.config import MAX_MEMBERS, SIDES

FORMAT = "rostro-triage/3"  # 3: a committee of networks; 2: one network (read as a committee
# of one); 1 (refused): the trunk pooled the feature map
ONE_NETWORK = "rostro-triage/2"
MAX_WIDTH = 256
MAX_FILE_BYTES = 64 * 1024 * 1024  # a triage model is about 1 MB


class TriageModelError(ValueError):
    """A file that is not a triage model this version can use; str() says why in one line."""


MAX_SHIFT = 8  # of 64 px: how far the mirrored image may slide to fit the face (scaled by side)


def mirror_residual(x: torch.Tensor) -> torch.Tensor:
    """|x − its mirror image, slid sideways to fit best|, per pixel: near zero on a face that
    looks at the camera (a face is nearly symmetric), large around the eyes and nose of a
    turned one. The slide (up to 1/8 of the side, wrapping round) absorbs a face that is off
    centre."""
    w = x.shape[-1]
    mirrored = x.flip(3)
    reach = min(w - 1, max(1, MAX_SHIFT * w // 64))
    shifts = range(-reach, reach + 1, 2 if reach > 4 else 1)
    # torch.roll(mirrored, s, dims=3)[..., j] is mirrored[..., (j - s) % w]: a slice of the
    # mirror padded round by `reach` columns on each side (a view; no copy per slide).
    padded = torch.cat([mirrored[..., w - reach:], mirrored, mirrored[..., :reach]], dim=3)
    costs = torch.stack([(x - padded[..., reach - s:reach - s + w]).abs_().mean(dim=(1, 2, 3))
                         for s in shifts], dim=1)  # (n, shifts)
    best = torch.tensor(list(shifts), device=x.device)[costs.argmin(dim=1)]  # (n,)
    cols = (torch.arange(w, device=x.device) - best[:, None]) % w  # (n, w)
    return (x - mirrored.gather(3, cols[:, None, None, :].expand_as(x))).abs_()


def residual_bytes(pixels: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """`mirror_residual` of uint8 pixels (n, 3, side, side), exactly, as uint8: the residual is
    a difference of two pixels, |p - q| × 2/255 on the network's scale, so it is stored as
    |p - q|. Training computes it once per image (a flipped image's residual is the flipped
    residual; a shifted one's, the shifted residual while the slide stays in reach)."""
    out = torch.empty_like(pixels, dtype=torch.uint8)
    for k in range(0, len(pixels), chunk):
        x = pixels[k:k + chunk].float() * (2.0 / 255.0) - 1.0
        out[k:k + chunk] = (mirror_residual(x) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
    return out


class Ranker(nn.Module):
    def __init__(self, *, side: int = 64, n_attributes: int = 41, n_rules: int = 3,
                 n_tags: int = 4, width: int = 16):
        super().__init__()
        # The network sees the image and its mirror residual (6 channels): where the face
        # differs from its own mirror image. Pose decides many verdicts among old faces, and a
        # plain network did not learn it from a few thousand of them (docs/triage.md).
        chans = [6, width, width * 2, width * 4, width * 6]
        layers: list[nn.Module] = []
        for a, b in zip(chans, chans[1:]):
            layers += [nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(b),
                       nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.attributes = nn.Sequential(nn.Linear(n_attributes, 32), nn.ReLU(inplace=True))
        # The trunk reads the last feature map whole (side/16 × side/16 places), not its mean:
        # where the eyes and nose sit against the head is what tells a turned face, and a mean
        # over the places forgets where (held-out AUC among old faces 0.981 → 0.992, see
        # docs/triage.md). Also the residual's mean over a 4×4 grid: the asymmetry by region,
        # straight to the heads, which learn which regions matter.
        places = (side // 16) ** 2
        self.trunk = nn.Sequential(nn.Linear(chans[-1] * places + 16 + 32, 128),
                                   nn.ReLU(inplace=True), nn.Dropout(0.2))
        self.accept = nn.Linear(128, 1)
        self.rules = nn.Linear(128, n_rules)
        self.tags = nn.Linear(128, n_tags)

    def forward(self, pixels: torch.Tensor, attributes: torch.Tensor, residual: torch.Tensor):
        """pixels: (n, 3, side, side) uint8 or float in [0, 255]; attributes: (n, n_attributes);
        residual: `residual_bytes` of the pixels (computed once per image by the caller).
        Returns logits: accept (n,), rules (n, n_rules), tags (n, n_tags)."""
        x = pixels.float() * (2.0 / 255.0) - 1.0
        residual = residual.float() * (2.0 / 255.0)
        image = self.features(torch.cat([x, residual], dim=1)).flatten(1)
        regions = F.adaptive_avg_pool2d(residual.mean(dim=1, keepdim=True), 4).flatten(1)
        h = self.trunk(torch.cat([image, regions, self.attributes(attributes)], dim=1))
        return self.accept(h).squeeze(1), self.rules(h), self.tags(h)


class Committee(nn.Module):
    """Networks of one architecture whose probabilities are averaged (see the module doc)."""

    def __init__(self, members: int = 2, **network):
        super().__init__()
        self.members = nn.ModuleList(Ranker(**network) for _ in range(members))

    @classmethod
    def of(cls, networks) -> "Committee":
        """The committee of these (trained) networks."""
        committee = cls(members=0)
        committee.members.extend(networks)
        return committee

    def probabilities(self, pixels: torch.Tensor, attributes: torch.Tensor):
        """(p_accept (n,), p_rules given a rejection (n, rules), p_tags given an accept
        (n, tags)), each the members' mean; the mirror residual is computed once for all."""
        residual = residual_bytes(pixels)
        sums = None
        for m in self.members:
            a, r, t = m(pixels, attributes, residual)
            ps = (torch.sigmoid(a), F.softmax(r, dim=1), torch.sigmoid(t))
            sums = ps if sums is None else tuple(x + y for x, y in zip(sums, ps))
        return tuple(x / len(self.members) for x in sums)


def architecture(meta: dict) -> dict:
    """The constructor arguments the metadata describes, checked against their bounds."""
    try:
        args = {k: int(meta[k]) for k in ("side", "n_attributes", "n_rules", "n_tags", "width")}
        args["members"] = int(meta.get("members", 1))
    except (KeyError, TypeError, ValueError, OverflowError):
        raise TriageModelError("its metadata does not describe a triage network") from None
    if (args["side"] not in SIDES or not 1 <= args["width"] <= MAX_WIDTH
            or not 1 <= args["members"] <= MAX_MEMBERS
            or not 1 <= args["n_attributes"] <= 1024 or not 1 <= args["n_rules"] <= 64
            or not 1 <= args["n_tags"] <= 64):
        raise TriageModelError("its network sizes are out of bounds")
    return args


def save(model: Committee, meta: dict, path: str | os.PathLike) -> None:
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


def load(path: str | os.PathLike, device: str = "cpu") -> tuple[Committee, dict]:
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
    if not isinstance(blob, dict) or blob.get("format") not in (FORMAT, ONE_NETWORK):
        raise TriageModelError(f"{name} is not a triage model (format {FORMAT} expected)")
    meta, state = blob.get("meta"), blob.get("state_dict")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise TriageModelError(f"{name} is not a triage model (no metadata or weights)")
    if blob["format"] == ONE_NETWORK:  # one network: a committee of one
        state = {f"members.0.{k}" if isinstance(k, str) else k: v for k, v in state.items()}
        meta = {k: v for k, v in meta.items() if k != "members"}
    try:
        model = Committee(**architecture(meta))
    except TriageModelError as e:
        raise TriageModelError(f"{name} is not a triage model this version can use: {e}") from None
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


def predict(model: Committee, pixels: torch.Tensor, attributes: torch.Tensor):
    """(p_accept (n,), p_rules given a rejection (n, rules), p_tags given an accept (n, tags))."""
    with torch.inference_mode():
        return model.probabilities(pixels, attributes)


def param_count(model: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in model.parameters())
