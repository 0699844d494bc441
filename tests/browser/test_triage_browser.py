"""Real browser: the lead trains a triage model from the Admin page and, without reloading,
sees the new model's figures take the place of "No model yet" once the worker is done."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAIN_TIMEOUT_MS = 180_000


def _decided_demo(tmp_path: Path) -> Path:
    """The demo workspace with ana's and luis's first 60 queue places decided as the rules say."""
    from sqlalchemy import select

    from curate import labeling, synth
    from curate.workspace import Workspace
    from db.engine import reading
    from db.models import Annotator
    from tests.helpers.curate import decide

    root = harness.demo_workspace(tmp_path, count=150)
    engine = Workspace.resolve(root).open()
    truth = synth.read_truth(root / "demo" / "celeba" / "ground_truth.csv")
    with reading(engine) as s:
        ids = dict(s.execute(select(Annotator.name, Annotator.id)).all())
    for name in ("ana", "luis"):
        for item in labeling.items(engine, ids[name], 0, 60):
            t = truth[Path(item.path).name]
            decide(engine, ids[name], item, t["expected_verdict"],
                   rule=t["expected_rule"] or None, seconds=2.0)
    engine.dispose()
    return root


def test_a_finished_training_shows_its_figures_without_a_reload(tmp_path, monkeypatch,
                                                                  artifacts_dir):
    root = _decided_demo(tmp_path)
    # The operator's extra flags for app-started trainings: a tiny network, seconds not minutes.
    monkeypatch.setenv("ROSTRO_TRIAGE_TRAIN_ARGS", "--side 32 --width 8 --epochs 4 --workers 1")
    with harness.serve(root) as url, harness.open_browser() as page:
        page.set_viewport_size({"width": 1280, "height": 800})
        harness.log_in_as(page, url, "admin", "admin")
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Admin").click()
        page.get_by_role("tab", name="Triage").click()
        page.get_by_text("No model yet.").wait_for()
        page.get_by_role("button", name="Train now").click()
        # No click, no reload: the page itself runs again once the worker has finished.
        page.get_by_text("Model 1, trained").wait_for(timeout=TRAIN_TIMEOUT_MS)
        assert page.get_by_text("No model yet.").count() == 0
        page.locator('[data-testid="stDataFrame"] >> visible=true').first.wait_for()  # figures
        page.screenshot(path=artifacts_dir / "triage_trained.png", full_page=True)
