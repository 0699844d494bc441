"""Reading files from folders someone else may have filled: regular files only, below a size
cap, inside their folder; and a folder walk that survives loops and very deep trees.

`read_regular` opens the file's real path with O_NOFOLLOW and O_NONBLOCK and checks it with
fstat *after* opening, so a FIFO (which would block the reader forever), a device node (which
never ends: /dev/zero), a socket or a folder named `x.jpg` is refused, and a file swapped for a
symlink between the check and the read is not followed. Files larger than the cap are refused
before their bytes are read. The cap is a setting: `$ROSTRO_MAX_FILE_BYTES` (default
MAX_FILE_BYTES, 64 MiB: a CelebA image is 10–300 KB, the largest in-the-wild photo of the set a
few MB).

`walk` is `os.walk` without its recursion (Python 3.11's recurses once per level, so a tree
30,000 folders deep raised RecursionError) and without following symlinked folders; a folder
reached twice (a bind mount looping back) is listed once.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator

MAX_FILE_BYTES = 64 * 1024 * 1024  # default cap on one input file (64 MiB)
MAX_FILE_ENV = "ROSTRO_MAX_FILE_BYTES"
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder", stat.S_IFLNK: "a symlink"}


class RefusedFile(OSError):
    """A file that is not read: not a regular file, too large, or outside its folder. str() is
    the reason (an OSError, so callers that report unreadable files report it the same way)."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "refused"

    @property
    def strerror(self) -> str:  # what callers that print e.strerror show
        return str(self)


def max_file_bytes() -> int:
    """The size cap: $ROSTRO_MAX_FILE_BYTES when set to a positive integer, else MAX_FILE_BYTES."""
    raw = os.environ.get(MAX_FILE_ENV, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return MAX_FILE_BYTES
    return value if value > 0 else MAX_FILE_BYTES


def inside(path: str | os.PathLike, root: str | os.PathLike) -> str | None:
    """The real path of `path` (symlinks followed) when it lies inside the real `root`, else None.
    Never raises on a symlink loop (the loop's path is simply not inside)."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real if real == top or real.startswith(top.rstrip(os.sep) + os.sep) else None


def read_regular(path: str | os.PathLike, *, root: str | os.PathLike | None = None,
                 max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file (see the module doc); `root`: it must also resolve inside
    that folder. Raises FileNotFoundError when it is missing, RefusedFile when it may not be
    read, OSError otherwise."""
    cap = max_file_bytes() if max_bytes is None else max_bytes
    if root is not None:
        real = inside(path, root)
        if real is None:
            raise RefusedFile(f"{os.fspath(path)} leaves its folder {os.fspath(root)}")
    else:
        real = os.path.realpath(path)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as e:
        if e.errno == 40:  # ELOOP: swapped for a symlink since it was resolved
            raise RefusedFile(f"{os.fspath(path)} is a symlink that changed while being read") \
                from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise RefusedFile(f"{os.fspath(path)} is {what}, not a regular file")
        if st.st_size > cap:
            raise RefusedFile(f"{os.fspath(path)} is {st.st_size:,} bytes, over the cap of "
                              f"{cap:,} (${MAX_FILE_ENV})")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:  # it grew while being read
                raise RefusedFile(f"{os.fspath(path)} grew past the cap of {cap:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def open_regular(path: str | os.PathLike):
    """A binary file object of a regular file (opened as `read_regular` opens it, no size cap:
    for files read piece by piece, such as a growing metrics.jsonl). Raises as read_regular."""
    real = os.path.realpath(path)
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise RefusedFile(f"{os.fspath(path)} is {what}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def walk(top: str | os.PathLike) -> Iterator[tuple[str, list[str], list[str]]]:
    """(dirpath, dirnames, filenames) like os.walk(top) top-down, iteratively; symlinked folders
    are listed in dirnames but not entered; the caller may prune dirnames in place. Folders that
    cannot be listed are skipped."""
    stack = [os.fspath(top)]
    seen: set[tuple[int, int]] = set()
    while stack:
        here = stack.pop()
        try:
            st = os.stat(here, follow_symlinks=False)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(here))
        except OSError:
            continue
        dirs, files, real_dirs = [], [], set()
        for e in entries:
            try:
                is_dir = e.is_dir(follow_symlinks=True)
                if is_dir and not e.is_symlink():
                    real_dirs.add(e.name)
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(e.name)
        yield here, dirs, files
        for name in reversed(dirs):  # in the order the caller left them (sorted or not)
            if name in real_dirs:
                stack.append(os.path.join(here, name))
