"""Real browser: runs land where the app looks (issue 20). On a workspace without runs, the
Runs page names the folder it searches and the commands that put a run there; a trainer
started as the page says (ROSTRO_WORKSPACE set, no --out) picks a run folder inside it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_runs_page_names_its_folder_and_the_trainers_default_lands_there(tmp_path,
                                                                         artifacts_dir):
    root = harness.demo_workspace(tmp_path).resolve()
    runs = root / "runs"
    with harness.serve(root) as url, harness.open_browser() as page:
        harness.log_in_as(page, url, "admin", "admin")
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Runs").click()
        page.get_by_text("No runs yet").wait_for()
        searched = page.get_by_test_id("stText").filter(has_text=str(runs)).first.inner_text()
        commands = page.get_by_test_id("stCode").first.inner_text()
        page.screenshot(path=artifacts_dir / "runs_empty.png", full_page=True)
    assert f"{runs}  (does not exist yet)" in searched
    assert f"ROSTRO_WORKSPACE={root} python -m trainers.pix2pix PAIRS_DIR" in commands
    assert f"--out {runs}/NAME" in commands

    # The command as the page gives it, from another folder: the run goes under runs/.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, ROSTRO_WORKSPACE=str(root), PYTHONPATH=str(harness.REPO))
    done = subprocess.run([sys.executable, "-m", "trainers.pix2pix", "PAIRS_DIR", "--dry-run"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = Path(json.loads(done.stdout)["out"])
    assert out.parent == runs and out.name.startswith("pix2pix-")
