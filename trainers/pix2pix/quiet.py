"""Keep TensorFlow's harmless start-up lines off the terminal of the pix2pix commands.

TensorFlow 2.21 writes some lines from C++ before its logging is set up (``WARNING: All log
messages before absl::InitializeLog() is called are written to STDERR``); those ignore
``TF_CPP_MIN_LOG_LEVEL`` and go straight to file descriptor 2:

- ``I… port.cc] oneDNN custom operations are on …`` and ``I… cudart_stub.cc] Could not find
  cuda drivers on your machine`` (info lines, twice: once per shared library that loads);
- ``E… cuda_platform.cc] failed call to cuInit: … (303)`` on a machine with no NVIDIA driver,
  an error-level line about a GPU that was never there.

:func:`tensorflow_output` filters file descriptor 2 for the life of the command: it applies
``TF_CPP_MIN_LOG_LEVEL`` (default 2) to those lines by their glog prefix (``I``/``W``/``E``
then ``MMDD``), drops the cuInit line only where no NVIDIA driver is loaded (on a GPU machine
it is a real fault and stays), and passes every other byte through in order: Python's own
messages, tracebacks and tqdm bars are untouched. Python's ``absl`` logger (``Sharding callback
duration``, info) is held at warnings.

Entry points only (:mod:`trainers.pix2pix.__main__`, :mod:`.predict`): library code never
touches the process's stderr. Imports neither TensorFlow nor torch.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

_GLOG = re.compile(rb"^([IWEF])\d{4} ")
_LEVELS = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_CUINIT = re.compile(rb"failed call to cuInit: .*(303|CUDA_ERROR_NO_DEVICE|UNKNOWN ERROR)")
_PIECES = re.compile(rb"(?<=[\r\n])")
NVIDIA_DRIVER = Path("/proc/driver/nvidia")  # present whenever the NVIDIA kernel driver is loaded


def min_level() -> int:
    """TF_CPP_MIN_LOG_LEVEL as TensorFlow reads it (0 = all, 1 = no info, 2 = no warnings,
    3 = no errors); 2 when unset, as the pix2pix commands set it."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    except ValueError:
        return 2


def harmless(line: bytes, level: int, gpu_driver: bool) -> bool:
    """Whether one stderr line is TensorFlow noise that ``level`` says to hide."""
    if line.rstrip(b"\r\n") == _BANNER:
        return level >= 1
    m = _GLOG.match(line)
    if m is None:
        return False
    severity = _LEVELS[m.group(1)]
    if severity < level:
        return True
    return severity == 2 and not gpu_driver and bool(_CUINIT.search(line))


@contextlib.contextmanager
def filtered_stderr(drop) -> Iterator[None]:
    """File descriptor 2 through a pipe whose lines ``drop(line)`` rejects are discarded.

    A reader thread forwards the rest to the original stderr as they come (whole lines, or
    pieces ended by a carriage return; a partial line waits for its end). On exit fd 2 is restored and the
    thread drains what is left."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                # "\r" ends a piece too: a progress bar redraws its line without a newline.
                *lines, pending = _PIECES.split(pending + chunk)
                kept = b"".join(line for line in lines if not drop(line))
                if kept:
                    os.write(saved, kept)
        if pending and not drop(pending):
            os.write(saved, pending)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer closes: the reader sees its end
        thread.join(timeout=5)
        os.close(saved)


@contextlib.contextmanager
def tensorflow_output() -> Iterator[None]:
    """The pix2pix commands' stderr without TensorFlow's harmless lines (module docstring)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level, gpu_driver = min_level(), NVIDIA_DRIVER.exists()
    absl = logging.getLogger("absl")
    absl.setLevel(max(absl.level, logging.WARNING))
    with filtered_stderr(lambda line: harmless(line, level, gpu_driver)):
        yield
