"""Atomic file and folder writes: a crash leaves either the old content or the new, never half.

Every temp name carries its owner, `.NAME.HOST-PID.RANDOM.partial` (a folder being written),
`.NAME.HOST-PID.old` (the earlier folder while it is swapped out) and `.NAME.HOST-PID.RANDOM.tmp`
(a file being written), so `clean_leftovers` can tell the leftovers of a dead process (a
`kill -9`, a power cut) from the work of one still running, which it never touches. HOST is
this machine's name, so that on a folder shared between machines another machine's temp
files are left alone: their pids mean nothing here.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<host>\w+)-(?P<pid>\d+)\."
                       r"(?:(?P<old>old)|\w+\.(?P<ext>partial|tmp))$")


def _host() -> str:
    # Only [A-Za-z0-9_]: the name must parse back (no dots, no dashes).
    return re.sub(r"\W", "_", socket.gethostname(), flags=re.ASCII) or "host"


def owner_tag() -> str:
    """HOST-PID of this process, as temp names carry it."""
    return f"{_host()}-{os.getpid()}"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{owner_tag()}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """atomic_write_bytes of `text` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success it replaces `final`.

    On any exception (Ctrl-C included) the temp folder is removed and an earlier `final`
    is left untouched. Replacing takes two renames (final → `.NAME.HOST-PID.old`, temp →
    final); a process killed between them leaves `final` missing and the `.old` folder,
    which clean_leftovers() renames back. Deciding whether `final` may be replaced is the
    caller's (see curate.export.records.check_destination).
    """
    final = Path(final).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    tag = owner_tag()
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{tag}.", suffix=".partial",
                                dir=final.parent))
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.{tag}.old")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def chmod_tree(root: str | os.PathLike, dir_mode: int = 0o750, file_mode: int = 0o640) -> None:
    """Set every folder under `root` (itself included) to dir_mode and every file to file_mode
    (defaults: the group may read, others nothing). Symlinks are not followed."""
    os.chmod(root, dir_mode)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, dir_mode)
        for f in filenames:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                os.chmod(p, file_mode)


@dataclass(frozen=True)
class Leftover:
    """A temp file or folder named by atomic_dir / atomic_write_bytes."""

    path: Path
    name: str  # the final name it was written for
    host: str
    pid: int
    old: bool  # an earlier folder swapped out, not a half-written one

    @property
    def ours(self) -> bool:
        """Written on this machine, so its pid can be checked here."""
        return self.host == _host()

    @property
    def dead(self) -> bool:
        """Its owner is known to be gone: written here by a process that no longer runs."""
        return self.ours and not pid_alive(self.pid)


def leftover(path: str | os.PathLike) -> Leftover | None:
    """The Leftover a path names, or None when it is not one of our temp names."""
    path = Path(path)
    m = _LEFTOVER.match(path.name)
    if m is None:
        return None
    return Leftover(path, m["name"], m["host"], int(m["pid"]), m["old"] is not None)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (a zombie counts as dead)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # "pid (comm) S ...": the state follows the last ')' (comm may hold one).
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def leftovers(folder: str | os.PathLike) -> list[Leftover]:
    """Our temp names directly inside `folder` (none when it is missing), sorted by path."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = (leftover(Path(folder) / n) for n in sorted(names) if n.startswith("."))
    return [x for x in found if x is not None]


def clean_leftovers(folder: str | os.PathLike) -> list[str]:
    """Remove what dead processes left in `folder`; returns what was done, one line each.

    A `.partial` folder or `.tmp` file of a dead owner is removed. A dead owner's `.old`
    folder is renamed back to its name when that is missing (the process died between the two
    renames of atomic_dir), else removed. Anything of a live process, or of another machine,
    is left alone.
    """
    done: list[str] = []
    for x in leftovers(folder):
        if not x.dead:
            continue
        final = x.path.with_name(x.name)
        try:
            if x.old and not os.path.lexists(final):
                os.replace(x.path, final)
                done.append(f"restored {final} (its replacement was interrupted)")
                continue
            if x.path.is_dir() and not x.path.is_symlink():
                shutil.rmtree(x.path)
            else:
                x.path.unlink()
            done.append(f"removed {x.path} (left by dead process {x.pid})")
        except FileNotFoundError:
            pass  # another command cleaned it first
        except OSError as e:
            done.append(f"could not remove {x.path}: {e.strerror or e}")
    return done
