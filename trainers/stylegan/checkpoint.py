"""Checkpoints: a plain dict of state_dicts, written atomically, loaded as data only.

``{"G", "D", "G_ema", "opt_G", "opt_D", "config", "iteration", "version", "size", "step",
"alpha", "rng"}``. A kill during ``save`` leaves the previous checkpoints intact
(trainers.common.fsutil's temp file + fsync + rename). Names and discovery: :mod:`trainers.runs`.

Checkpoints are data (DESIGN.md): every load is ``torch.load(..., weights_only=True)``, so a
file can hold tensors and plain containers (dict, list, tuple, str, int, float, bool, None) and
nothing that runs code. ``config`` is the run's settings as a JSON-ready dict. Version 2 keeps
the RNG states as tensors and ints (:func:`rng_state`):

    {"torch": uint8 tensor, "cuda": uint8 tensor (when CUDA was in use),
     "python": {"version": int, "state": int64 tensor (625), "gauss": float | None},
     "numpy": {"key": int64 tensor (624), "pos": int, "has_gauss": int, "cached_gaussian": float}}

Version 1 (before this format) kept Python's and numpy's states as a tuple and a numpy
array. Such a file still loads weights-only: the numpy array's three globals (and only those)
are allowed while reading it, and its state is converted to version 2 in memory. A file asking
for any other global is refused with a message naming the file and the global; nothing in it
runs. Never ``weights_only=False``.
"""

from __future__ import annotations

import io
import json
import pickle
import random
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainers import runs
from trainers.common.fsutil import atomic_write_bytes

VERSION = 2
REQUIRED = ("G_ema", "config", "iteration")
MAX_TENSOR_ELEMENTS = 2**28  # one tensor of a checkpoint holds at most this many values (1 GiB fp32)


def rng_state() -> dict[str, Any]:
    """The RNG states of torch, Python and numpy as tensors and ints (weights-only loadable)."""
    py_version, py_state, gauss = random.getstate()
    name, key, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": {"version": int(py_version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": gauss},
        "numpy": {"key": torch.from_numpy(np.asarray(key, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved (version 2; :func:`load` converts version 1).
    The tensors may come back on the GPU (``load(map_location="cuda")``): the setters want CPU."""
    torch.set_rng_state(state["torch"].cpu())
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(("MT19937", npy["key"].cpu().numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def _rng_from_v1(state: dict[str, Any]) -> dict[str, Any]:
    """Version 1's (tuple, numpy array) RNG states as version 2's tensors and ints."""
    py_version, py_state, gauss = state["python"]
    name, key, pos, has_gauss, cached = state["numpy"]
    if name != "MT19937" or not isinstance(key, np.ndarray) or key.dtype != np.uint32:
        raise ValueError("unexpected numpy RNG state")
    out = {"torch": state["torch"],
           "python": {"version": int(py_version), "state": torch.tensor(py_state, dtype=torch.int64),
                      "gauss": gauss},
           "numpy": {"key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos),
                     "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if "cuda" in state:
        out["cuda"] = state["cuda"]
    return out


def save(ckpt: dict[str, Any], path: str | Path) -> Path:
    buf = io.BytesIO()
    torch.save({**ckpt, "version": VERSION}, buf)
    atomic_write_bytes(path, buf.getbuffer())
    return Path(path)


def resolve(path: str | Path) -> Path:
    """A checkpoint file as given, or the newest one when ``path`` is a run folder."""
    path = Path(path)
    if path.is_dir():
        found = runs.newest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"no checkpoints in {path / 'checkpoints'}")
        return found
    return path


def pick_device(name: str = "auto") -> str:
    """``auto`` means CUDA when torch sees a GPU, else the CPU; other names pass through."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


def _numpy_array_globals() -> list:
    """What a version-1 file's numpy RNG array needs: the array's reconstructor, ndarray and
    the uint32 dtype (also under numpy 1's module name). Nothing that can run code."""
    try:
        from numpy._core.multiarray import _reconstruct as rebuild
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct as rebuild
    return [rebuild, (rebuild, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype,
            np.dtypes.UInt32DType]


_LEGACY_GLOBALS = {"numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct",
                   "numpy.ndarray", "numpy.dtype", "numpy.dtypes.UInt32DType"}


def _refused(path: Path, why: str, what: str = "StyleGAN checkpoint") -> ValueError:
    return ValueError(f"{path}: refused, not a data-only {what} ({why}); "
                      "checkpoints are loaded as tensors and plain values only")


def _reason(e: BaseException) -> str:
    """What torch's loader objected to, in a few words (not its advice to load unsafely)."""
    text = str(e)
    found = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(Check the documentation|$)", text, re.S)
    words = " ".join((found.group(1) if found else text).split())
    return words[:200] or type(e).__name__


def _unsafe_globals(path: Path) -> list[str]:
    """The globals a torch file asks for beyond the weights-only set, read without unpickling."""
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except (ValueError, RuntimeError, OSError, pickle.UnpicklingError, zipfile.BadZipFile):
        return []


def _read(path: Path, map_location, what: str = "StyleGAN checkpoint", legacy: bool = True) -> Any:
    """The file's content, weights-only; with ``legacy``, a version-1 file's numpy globals
    (and only those) are allowed on a second read."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        wanted = _unsafe_globals(path)
        if not wanted:
            raise _refused(path, _reason(e), what) from None
        if not legacy or not set(wanted) <= _LEGACY_GLOBALS:
            raise _refused(path, f"it asks for {', '.join(wanted)}", what) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot be read as a checkpoint ({_reason(e)})") from None
    try:  # version 1: a numpy array in the RNG state, and nothing else
        with torch.serialization.safe_globals(_numpy_array_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        raise _refused(path, _reason(e)) from None


def odd_tensor(t: torch.Tensor) -> str | None:
    """Why a loaded tensor is not a plain dense array of its own values, or None. A crafted
    file can give a tensor of any shape over a few bytes of storage with stride 0 (one value
    standing for millions), or strides that overlap or reach past the storage."""
    if t.layout != torch.strided:
        return f"a {t.layout} tensor"
    if t.numel() > MAX_TENSOR_ELEMENTS:
        return f"{t.numel():,} values, more than {MAX_TENSOR_ELEMENTS:,}"
    if t.numel() == 0:
        return None
    dims = sorted((st, n) for st, n in zip(t.stride(), t.shape) if n > 1)
    reach = 1
    for st, n in dims:
        if st < reach:
            return "stride-0 or overlapping (fewer stored values than it claims)"
        reach = st * n
    extent = t.storage_offset() + sum((n - 1) * st for st, n in zip(t.stride(), t.shape)) + 1
    if extent * t.element_size() > t.untyped_storage().nbytes():
        return "larger than its storage"
    return None


def check_tensors(path: str | Path, state: Any, expected: dict[str, tuple] | None = None,
                  name: str = "state") -> None:
    """Refuse (ValueError naming the file) a state dict that is not str → plain tensor, holds
    an odd tensor (:func:`odd_tensor`), or — given ``expected`` (the shapes the model built
    from the checkpoint's config wants, found without allocating: a "meta" model) — a key or
    shape the model does not have. Called before anything is built from the file."""
    if not isinstance(state, dict):
        raise ValueError(f"{path}: its {name} is not a dict of tensors")
    for key, t in state.items():
        if not isinstance(key, str) or not isinstance(t, torch.Tensor):
            raise ValueError(f"{path}: its {name} holds {str(key)[:60]!r}, not a named tensor")
        why = odd_tensor(t)
        if why:
            raise ValueError(f"{path}: tensor {key[:60]!r} of its {name} is {why}")
        if expected is not None and tuple(t.shape) != expected.get(key, tuple(t.shape) + (-1,)):
            raise ValueError(f"{path}: tensor {key[:60]!r} of its {name} has shape "
                             f"{tuple(t.shape)}, the model of its config wants "
                             f"{expected.get(key, 'no such tensor')}")
    if expected is not None and (missing := sorted(set(expected) - set(state))):
        raise ValueError(f"{path}: its {name} lacks {missing[0]!r} ({len(missing)} missing)")


def read_data(path: str | Path, what: str) -> Any:
    """A torch file of tensors and plain values (no version-1 allowance), on the CPU; raises
    ValueError naming the file and ``what`` it should have been when it asks for more."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    return _read(path, "cpu", what, legacy=False)


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file, or the newest one when ``path`` is a run folder, as data only.

    Raises ValueError naming the file when it is not a rostro StyleGAN checkpoint (a crafted
    pickle included: it is refused before any of it runs); FileNotFoundError when absent.
    """
    path = resolve(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = _read(path, map_location)
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in REQUIRED):
        raise ValueError(f"{path} is not a rostro StyleGAN checkpoint")
    if ckpt.get("version", 1) not in (1, VERSION):
        raise ValueError(f"{path}: checkpoint version {ckpt.get('version')!r} is not known here "
                         f"(this code reads 1 and {VERSION})")
    try:
        json.dumps(ckpt["config"])
    except (TypeError, ValueError):
        raise ValueError(f"{path}: its config is not plain JSON values") from None
    if not isinstance(ckpt["config"], dict):
        raise ValueError(f"{path}: its config is not a JSON object")
    if ckpt.get("version", 1) == 1 and isinstance(ckpt.get("rng"), dict):
        try:
            ckpt["rng"] = _rng_from_v1(ckpt["rng"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: its version-1 RNG state cannot be read") from None
        ckpt["version"] = VERSION
    return ckpt
