"""Real browser: keys pressed faster than a person can look decide nothing unseen.

A double press 15 ms apart, a key held down (repeat events), and a reject then an accept 40 ms
apart each record one decision, on the image that had been on screen; `curate labels` then
shows that every recorded decision's image had been painted at least 150 ms before the
decision was recorded (paint times as the page logged them), and normal-pace keys decide.
The fast presses carry their own moments (`harness.press_keys_timed`), so a slow test machine
cannot widen their gaps into a real look."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pandas as pd
import pytest

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MIN_LOOK_MS = 150


def _labels(workspace, out) -> pd.DataFrame:
    subprocess.run([sys.executable, "-m", "curate", "--workspace", str(workspace), "labels",
                    str(out)], check=True, cwd=harness.REPO, capture_output=True)
    return pd.read_csv(out)


def _epoch_ms(created_at: str) -> float:  # stored as naive UTC
    t = dt.datetime.fromisoformat(created_at).replace(tzinfo=dt.timezone.utc)
    return t.timestamp() * 1000


def test_keys_faster_than_a_person_can_look_decide_only_what_was_seen(demo, tmp_path):
    with harness.serve(demo) as url, harness.open_browser() as page:
        try:
            harness.login(page, url, "ana", "ana")
            harness.wait_until_looked(page, 0)
            harness.press_keys_timed(page, [("a", 0), ("a", 15)])  # a double press, 15 ms apart
            harness.wait_until_looked(page, 1)
            page.keyboard.down("a")  # held down: the browser repeats the key
            for _ in range(8):
                page.wait_for_timeout(35)
                page.keyboard.down("a")
            page.keyboard.up("a")
            harness.wait_until_looked(page, 2)
            harness.press_keys_timed(page, [("1", 0), ("a", 40)])  # reject, then accept 40 ms on
            hint = page.locator(".rp-hint").inner_text()
            for pos in (3, 4, 5):  # a person's pace
                harness.wait_until_looked(page, pos)
                page.keyboard.press("S" if pos == 4 else "A")  # upper case counts too
            harness.wait_for_position(page, 6)
            harness.wait_confirmed(page)
            paints = page.evaluate("window.__rostro.paints")
        except Exception as e:  # what the panel showed, to tell why
            raise AssertionError(harness.explain(page)) from e

    assert "Too quick" in hint or "not on screen yet" in hint
    df = _labels(demo, tmp_path / "labels.csv")
    df = df[df["kind"] == "decision"]
    assert [(r.relpath, r.verdict) for r in df.itertuples()] == [
        (p["name"].split("/", 1)[1], v) for p, v in zip(
            sorted({p["position"]: p for p in paints}.values(), key=lambda p: p["position"]),
            ["accept", "accept", "reject", "accept", "skip", "accept"])]
    for r in df.itertuples():
        name = f"{r.source}/{r.relpath}"
        recorded = _epoch_ms(r.created_at)
        shown = [p["at"] for p in paints if p["name"] == name and p["at"] <= recorded]
        assert shown, f"{name} was recorded but never painted"
        assert recorded - max(shown) >= MIN_LOOK_MS, (name, recorded - max(shown))
        assert r.seconds >= MIN_LOOK_MS / 1000
