"""Attacks on exports (issue 13, points 2, 3, 8, 9): each performs the attack through the
command line and asserts it fails safely — one `error:` line, exit 2, nothing read from
outside, nothing deleted, nothing left behind.
"""
from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from db.engine import writing
from db.models import Source
from tests.helpers.export_site import SECRET, Site, make_site, tree


@pytest.fixture
def site(tmp_path) -> Site:
    return make_site(tmp_path)


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def secret_copied(site: Site) -> bool:
    """Whether the secret's bytes reached any file outside private/."""
    return any(p.is_file() and not p.is_symlink() and p.parent != site.secret.parent
               and SECRET in p.read_bytes() for p in site.tmp.rglob("*"))


def no_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def crafted_export(site: Site, entry: str, content_hash: str = "") -> Path:
    """An old-celeba-looking export whose manifest names `entry` after one honest image."""
    evil = site.tmp / "evil"
    evil.mkdir(exist_ok=True)
    shutil.copy(min(site.faces.glob("*.jpg")), evil / "000001.jpg")
    with open(evil / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "source", "relpath", "image_id", "content_hash", "provenance"])
        w.writerow(["000001.jpg", "celeba", "a.jpg", "", "", "ana"])
        w.writerow([entry, "celeba", "b.jpg", "", content_hash, "ana"])
    (evil / "export.json").write_text(json.dumps({"kind": "old_celeba"}))
    return evil


def entry_commands(site: Site, evil: Path) -> dict[str, list]:
    out = site.tmp / "out"
    return {
        "peruvian-mix --peruvian": ["export", "peruvian-mix", out, "--peruvian", evil,
                                    "--count", "2", "--allow-fewer"],
        "peruvian-mix --old": ["export", "peruvian-mix", out, "--peruvian", site.faces,
                               "--old", evil, "--count", "4", "--allow-fewer"],
        "prepare --from": ["prepare", out, "--from", evil, "--sizes", "8", "--workers", "1"],
        "sketch-pairs --from": ["export", "sketch-pairs", out, "--from", evil, "--size", "32",
                                "--workers", "1"],
    }


COMMANDS = ["peruvian-mix --peruvian", "peruvian-mix --old", "prepare --from",
            "sketch-pairs --from"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("attack", ["dotdot", "absolute", "symlink"])
def test_manifest_entry_leaving_its_folder_is_refused(site, capsys, command, attack):
    if attack == "dotdot":
        entry = "../private/id_rsa"
    elif attack == "absolute":
        entry = str(site.secret)  # /etc/hostname in the report; ours is sure to exist
    else:
        entry = "000002.jpg"
    evil = crafted_export(site, entry)
    if attack == "symlink":
        (evil / entry).symlink_to(site.secret)
    assert site.run(*entry_commands(site, evil)[command]) == 2
    line = one_error(capsys)
    assert repr(entry) in line and "leaves the folder" in line
    assert not (site.tmp / "out").exists() and not secret_copied(site)
    assert no_leftovers(site.tmp) == [] and site.rows() == []


@pytest.mark.parametrize("command", COMMANDS)
def test_manifest_entry_with_a_wrong_hash_is_refused(site, capsys, command):
    evil = crafted_export(site, "000002.jpg", content_hash="0" * 64)
    shutil.copy(max(site.faces.glob("*.jpg")), evil / "000002.jpg")
    assert site.run(*entry_commands(site, evil)[command]) == 2
    line = capsys.readouterr().err
    assert line.startswith("error: ") and "000002.jpg" in line and "sha256 differs" in line
    assert not (site.tmp / "out").exists() and no_leftovers(site.tmp) == []


def test_plain_folder_symlink_leaving_it_is_refused(site, capsys):
    folder = site.tmp / "plain"
    shutil.copytree(site.faces, folder)
    (folder / "zz.jpg").symlink_to(site.secret)
    for argv in (["prepare", site.tmp / "out", "--from", folder, "--sizes", "8"],
                 ["export", "sketch-pairs", site.tmp / "out", "--from", folder, "--size", "32"],
                 ["export", "peruvian-mix", site.tmp / "out", "--peruvian", folder,
                  "--count", "4", "--allow-fewer"]):
        assert site.run(*argv) == 2
        line = one_error(capsys)
        assert "'zz.jpg' leaves the folder" in line and "symlink" in line
    assert not (site.tmp / "out").exists() and not secret_copied(site)
    (folder / "zz.jpg").unlink()
    (folder / "inside.jpg").symlink_to(folder / min(site.faces.glob("*.jpg")).name)
    assert site.run("prepare", site.tmp / "out", "--from", folder, "--sizes", "8") == 0


def _old_export(site: Site) -> Path:
    out = site.ws.exports_dir / "old_celebA"
    assert site.run("export", "old-celeba", out, "--count", "4") == 0
    return out


@pytest.mark.parametrize("what", ["project", "stray export.json", "copied export.json"])
def test_foreign_folder_survives_byte_for_byte(site, capsys, what):
    project = site.tmp / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('my thesis')\n")
    if what == "stray export.json":
        (project / "export.json").write_text(json.dumps({"kind": "old_celeba", "id": 1}))
        (project / "manifest.csv").write_text("name\n")
    elif what == "copied export.json":  # a real, recorded export's files, in another folder
        old = _old_export(site)
        capsys.readouterr()
        for name in ("export.json", "manifest.csv"):
            shutil.copy(old / name, project / name)
    before = tree(project)
    assert site.run("export", "old-celeba", project, "--count", "4") == 2
    assert "is not an export this database recorded" in one_error(capsys)
    assert tree(project) == before and no_leftovers(site.tmp) == []


def test_export_of_another_kind_is_not_replaced(site, capsys):
    old = _old_export(site)
    before = tree(old)
    assert site.run("export", "sketch-pairs", old, "--from", site.faces, "--size", "32") == 2
    assert "holds a old_celeba export" in one_error(capsys)
    assert tree(old) == before


def test_prepare_e_from_e_is_refused(site, capsys):
    mix = site.ws.exports_dir / "mix"
    assert site.run("export", "peruvian-mix", mix, "--peruvian", site.faces, "--count", "8") == 0
    capsys.readouterr()
    before = tree(mix)
    assert site.run("prepare", mix, "--from", mix) == 2  # another kind: refused outright
    one_error(capsys)
    # Same kind, so only the input check stands between the export and its own input.
    assert site.run("export", "peruvian-mix", mix, "--peruvian", mix, "--count", "8",
                    "--allow-fewer") == 2
    assert "is an input of this export" in one_error(capsys)
    assert tree(mix) == before


def test_recorded_export_is_replaced_and_keeps_one_row(site, capsys):
    old = _old_export(site)
    assert json.loads((old / "export.json").read_text())["id"] == 1
    assert site.run("export", "old-celeba", old, "--count", "2", "--seed", "3") == 0
    assert len(list(old.glob("*.jpg"))) == 2
    assert site.rows() == [(str(old), "done")]
    assert json.loads((old / "export.json").read_text())["id"] == 2


def test_export_folders_are_readable_by_the_group_only(site):
    old = _old_export(site)
    lmdb = site.ws.exports_dir / "faces.lmdb"
    assert site.run("prepare", lmdb, "--from", old, "--sizes", "8") == 0
    for folder in (old, lmdb):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750
        for p in folder.rglob("*"):
            assert stat.S_IMODE(p.stat().st_mode) == (0o750 if p.is_dir() else 0o640), p


def test_empty_inputs_are_refused(site, capsys):
    empty = site.tmp / "empty"
    empty.mkdir()
    with writing(site.ws.engine()) as s:  # what a failed ingest used to leave: a bare source
        s.add(Source(name="bare", root=str(site.tmp / "bare")))
    (site.tmp / "bare").mkdir()
    for argv in (["prepare", site.tmp / "out", "--from", empty],
                 ["prepare", site.tmp / "out", "--from", site.tmp / "bare"],
                 ["export", "sketch-pairs", site.tmp / "out", "--from", empty],
                 ["export", "peruvian-mix", site.tmp / "out", "--peruvian", "bare",
                  "--count", "2", "--allow-fewer"]):
        assert site.run(*argv) == 2
        assert "no images" in one_error(capsys)
    assert not (site.tmp / "out").exists() and site.rows() == []


def test_undecodable_file_name_is_skipped_and_reported(site, caplog):
    folder = site.tmp / "plain"
    shutil.copytree(site.faces, folder)
    bad = os.fsencode(folder) + b"/caf\xe9.jpg"
    with open(bad, "wb") as f:
        f.write(min(site.faces.glob("*.jpg")).read_bytes())
    out = site.tmp / "out"
    assert site.run("prepare", out, "--from", folder, "--sizes", "8", "--workers", "1") == 0
    assert "skipped 1 bad file" in caplog.text and "caf\\xe9.jpg" in caplog.text
    assert json.loads((out / "export.json").read_text())["counts"]["images"] == 12
    assert site.run("export", "sketch-pairs", site.tmp / "pairs", "--from", folder,
                    "--size", "32", "--workers", "1") == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (needs root and mount); skipped where it cannot be mounted."""
    where = tmp_path / "disk"
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {r.stderr.strip() or r.returncode}")
    yield where
    subprocess.run(["umount", str(where)], check=False)


@pytest.mark.parametrize("argv", [
    ["prepare", "{out}", "--from", "{faces}", "--sizes", "8,16,32,64,128,256", "--workers", "2"],
    ["export", "sketch-pairs", "{out}", "--from", "{faces}", "--size", "512", "--workers", "2"],
    ["export", "peruvian-mix", "{out}", "--peruvian", "{faces}", "--count", "40", "--ratio", "0"],
], ids=["prepare", "sketch-pairs", "peruvian-mix"])
def test_full_disk_removes_temp_files_and_says_so(tmp_path, small_disk, capsys, argv):
    site = make_site(tmp_path, faces=40)
    out = small_disk / "out"
    assert site.run(*(a.format(out=out, faces=site.faces) for a in argv)) == 2
    assert "disk full while writing" in one_error(capsys)
    assert list(small_disk.iterdir()) == [] and site.rows() == []


def test_full_disk_while_copying(site, capsys, monkeypatch):
    """Where no small disk can be mounted: the first copied file's write fails with ENOSPC."""
    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    out = site.ws.exports_dir / "old_celebA"
    assert site.run("export", "old-celeba", out, "--count", "4") == 2
    assert "disk full while writing" in one_error(capsys)
    assert no_leftovers(site.ws.exports_dir) == [] and site.rows() == []
