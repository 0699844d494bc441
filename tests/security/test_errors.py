"""Issue 13 point 8, the database part: each bad database or workspace is one `error:` line,
exit 2, no traceback, and nothing half-written (files and folders as they were)."""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess

import numpy as np
import pytest

from curate import synth
from tests.security.clirun import assert_one_error_line, cli


def _listing(folder):
    """Every file under folder with its sha256: what "nothing written" compares."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    for i in range(3):
        synth.render(synth.draw_truth(np.random.default_rng(i), "x.jpg"), i).save(root / f"{i}.jpg")
    return root


@pytest.fixture(scope="module")
def good_db(tmp_path_factory):
    """A migrated workspace database with one user, to be broken by each test on a copy."""
    ws = tmp_path_factory.mktemp("good")
    r = cli("--workspace", ws, "users", "add", "lead", "--admin", "--password", "a-long-password")
    assert r.returncode == 0, r.stderr
    return ws / "rostro.db"


def _workspace_with(tmp_path, data: bytes):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "rostro.db").write_bytes(data)
    return ws


def test_a_file_that_is_not_a_database_is_one_line(tmp_path):
    ws = _workspace_with(tmp_path, os.urandom(8192))
    before = _listing(ws)
    for command in ("status", "serve"):  # serve checks the database before starting the app
        assert_one_error_line(cli("--workspace", ws, command), "not a usable SQLite database",
                              "rostro.db")
    assert _listing(ws) == before


def test_a_truncated_database_is_one_line(tmp_path, good_db, images):
    ws = _workspace_with(tmp_path, good_db.read_bytes()[:6000])
    before = _listing(ws)
    assert_one_error_line(cli("--workspace", ws, "ingest", images, "--source", "x"),
                          "not a usable SQLite database")
    assert _listing(ws) == before


def test_a_postgresql_server_that_does_not_answer_is_one_line_without_its_password(tmp_path):
    url = "postgresql+psycopg://lead:s3cret-pw@127.0.0.1:1/rostro"
    line = assert_one_error_line(cli("--workspace", tmp_path / "ws", "--database-url", url, "status"),
                                 "cannot connect", "lead:***@127.0.0.1:1")
    assert "s3cret-pw" not in line
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("url, says", [
    ("nosuchdb://lead:s3cret-pw@host/x", "unknown database kind"),
    ("mysql://lead:s3cret-pw@host/x", "is not installed"),  # a dialect whose driver is missing
    ("postgresql://lead:s3cret-pw@host:port/x", "not a database URL"),
])
def test_an_unknown_scheme_a_missing_driver_or_a_bad_url_is_one_line(tmp_path, url, says):
    line = assert_one_error_line(cli("--workspace", tmp_path / "ws", "--database-url", url, "status"),
                                 says)
    assert "s3cret-pw" not in line and "lead:***@" in line
    assert not (tmp_path / "ws").exists()


def test_a_sqlite_url_in_a_missing_folder_names_the_folder_and_creates_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'rostro.db'}"
    assert_one_error_line(cli("--database-url", url, "--workspace", tmp_path / "ws", "init"),
                          f"{tmp_path / 'no' / 'such'} does not exist")
    assert not (tmp_path / "no").exists()


def _can_mount_read_only() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@contextlib.contextmanager
def _read_only(folder):
    """A prefix that runs a command with `folder` read-only: a read-only bind mount in a mount
    namespace of its own when we are root (root ignores file modes), else the modes taken off."""
    if _can_mount_read_only():
        yield ("unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder))
        return
    if os.geteuid() == 0:
        pytest.skip("needs unshare -m (or a non-root user) to make a folder read-only")
    modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
    for p, m in modes.items():
        p.chmod(stat.S_IMODE(m) & ~0o222)
    try:
        yield ()
    finally:
        for p, m in modes.items():
            p.chmod(stat.S_IMODE(m))


def test_a_read_only_workspace_reads_and_refuses_writes_in_one_line(tmp_path, good_db, images):
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(good_db, ws / "rostro.db")
    before = _listing(ws)
    with _read_only(ws) as ro:
        st = cli("--workspace", ws, "status", prefix=ro)
        assert st.returncode == 0 and "users: 1 admin" in st.stdout, st.stderr
        assert_one_error_line(cli("--workspace", ws, "ingest", images, "--source", "x", prefix=ro),
                              "read-only")
        assert_one_error_line(cli("--workspace", ws, "users", "add", "ana", "--password",
                                  "a-long-password", prefix=ro), "read-only")
        # A workspace that would have to be created inside the read-only folder.
        assert_one_error_line(cli("--workspace", ws / "inner", "status", prefix=ro), "read-only",
                              str(ws / "inner"))
    assert _listing(ws) == before
