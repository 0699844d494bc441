"""Real browser: the admin opens the Dashboard on a small seeded workspace and every chart
draws its marks — no blank canvas, and no Vega-Lite error such as "Access path missing closing
quote" (an apostrophe in a field name once left the Cohen's kappa chart empty).

A chart counts as drawn when it holds a bar of non-zero size: an SVG bar (Streamlit renders
Vega-Lite as SVG) or, should it render to a canvas, coloured pixels (axes and text are grey).
A screenshot goes to test-artifacts/.
"""
from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from curate.dashboard import dashboard
from curate.decisions import record_decision
from curate.rules import RULES, TAGS
from curate.workspace import Workspace
from db.engine import reading
from db.models import Assignment
from tests.browser import harness
from tests.helpers.curate import seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHARTS = 8  # progress, accept rate, pace, Cohen's kappa, Fleiss' kappa, rules, tags, looks per round
CHART = '[data-testid="stVegaLiteChart"]'
# Per chart: [coloured canvas pixels, SVG marks]. A pixel is coloured when its channels differ
# by more than 60: the bars are; axes, grid lines and labels are grey or black.
MARKS = """(sel) => [...document.querySelectorAll(sel)].map(chart => {
    let coloured = 0;
    for (const c of chart.querySelectorAll('canvas')) {
        if (!c.width || !c.height) continue;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i + 3] > 0 && Math.max(d[i], d[i + 1], d[i + 2])
                              - Math.min(d[i], d[i + 1], d[i + 2]) > 60) coloured++;
        }
    }
    const svg = [...chart.querySelectorAll('svg .mark-rect path')]
        .filter(p => p.getBBox().width > 0 && p.getBBox().height > 0).length;
    return [coloured, svg];
})"""
RENDER_TIMEOUT_MS = 60_000
# Per kappa chart: its y-axis labels, how many zero lines, and per value label the distance
# (px) between its middle and the end of its bar.
KAPPA = """(sel) => [...document.querySelectorAll(sel)]
  .filter(c => /kappa per/.test(c.querySelector('svg')?.textContent || ''))
  .map(chart => {
    const svg = chart.querySelector('svg');
    const axis = [...svg.querySelectorAll('.role-axis-label text')].map(t => t.textContent);
    const rules = svg.querySelectorAll('.mark-rule.role-mark line, .mark-rule.role-mark path').length;
    const bars = [...svg.querySelectorAll('.mark-rect.role-mark path')]
      .map(p => p.getBoundingClientRect());
    const labels = [...svg.querySelectorAll('.mark-text.role-mark text')]
      .map(t => t.getBoundingClientRect());
    const gaps = labels.map((l, i) => {
      const b = bars[i]; if (!b) return -1; const mid = (l.top + l.bottom) / 2;
      return Math.min(Math.abs(mid - b.top), Math.abs(mid - b.bottom)); });
    return {axis, rules, gaps, bars: bars.length, labels: labels.length};
  })"""


def seeded_workspace(root) -> None:
    """40 images, ana and luis with 20 each (30 % shared), decisions on most of both queues:
    accepts, rejects for every rule, every tag, and some disagreement on the shared ones."""
    ws = Workspace.resolve(root)
    engine = ws.open()
    users = seed(engine, images=40, per_annotator=20, overlap=0.3)
    rng = random.Random(0)  # the seconds
    with reading(engine) as s:
        queues = s.execute(select(Assignment.annotator_id, Assignment.image_id)
                           .order_by(Assignment.annotator_id, Assignment.position)).all()
    for k, (who, image) in enumerate(queues):
        if k % 5 == 4:
            continue  # some left to do
        reject = (image + who) % 3 == 0  # ana and luis disagree on some shared images
        record_decision(engine, who, image, "reject" if reject else "accept",
                        rule=RULES[k % len(RULES)].key,
                        tags=[TAGS[k % len(TAGS)].key] if k % 3 == 0 else [],
                        seconds=1.0 + rng.random() * 4)
    kappa, shared = dashboard(engine).cohen[("ana", "luis")]
    assert kappa is not None and shared >= 3  # a bar to draw, not only its label
    engine.dispose()


@pytest.fixture
def site(tmp_path):
    why = harness.chromium_missing()
    if why:
        pytest.skip(why)
    seeded_workspace(tmp_path / "ws")
    return tmp_path / "ws"


def test_every_dashboard_chart_draws_its_marks(site, artifacts_dir):
    problems = []
    with harness.serve(site) as url, harness.open_browser() as page:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url)
        page.get_by_label("Name").fill("admin")
        page.get_by_role("textbox", name="Password").fill("admin")
        page.keyboard.press("Enter")
        page.get_by_text("Logged in as").wait_for()
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Dashboard").click()
        page.get_by_text("Figures as of").wait_for()
        # Correctness, not speed: a busy machine may take a while to draw seven charts.
        page.wait_for_function(f"document.querySelectorAll('{CHART}').length >= {CHARTS}",
                               timeout=RENDER_TIMEOUT_MS)
        for chart in page.locator(CHART).all():
            chart.scroll_into_view_if_needed()
            chart.locator("canvas, svg").first.wait_for()
        page.wait_for_function(f"({MARKS})('{CHART}').every(([c, s]) => c > 0 || s > 0)",
                               timeout=RENDER_TIMEOUT_MS)
        marks = page.evaluate(MARKS, CHART)
        kappa = page.evaluate(KAPPA, CHART)
        page.screenshot(path=artifacts_dir / "dashboard.png", full_page=True)
    assert len(marks) == CHARTS and all(c > 0 or s > 0 for c, s in marks), marks
    # Both kappa charts: the fixed −1…1 axis whatever the values, a zero line, and each value
    # label clear of its bar's end (legible: neither on the edge nor cut by it).
    assert len(kappa) == 2, kappa
    for chart in kappa:
        assert {a.replace("\u2212", "-") for a in chart["axis"]} >= {"-1.0", "0.0", "1.0"}, chart
        assert chart["rules"] >= 1 and chart["labels"] == chart["bars"] >= 1, chart
        assert all(g >= 4 for g in chart["gaps"]), chart
    assert not [p for p in problems if "Access path" in p or "closing quote" in p], problems
    assert not [p for p in problems if "vega" in p.lower() or "Error" in p], problems
