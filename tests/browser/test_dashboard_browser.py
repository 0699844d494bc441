"""Real browser: the admin opens the Dashboard on a small seeded workspace and every chart
draws its bars, each with its value beside it — the values of the known decisions, on the
scale they belong to — with no console error.

The charts are server-built HTML (curate/app/html_charts.py): a chart counts as drawn when its
bars have a size on screen. Both kappa charts keep the fixed −1…1 scale with a line at 0, and
every value label sits clear of its bar (past its end, or right of the zero line for a negative
kappa) and inside the chart. Screenshots (1280×800 and the whole page) go to test-artifacts/.
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

CHARTS = 8  # progress, accept rate, pace, Cohen's and Fleiss' kappa, rules, tags, looks per round
CHART = "table.rd-chart"
RENDER_TIMEOUT_MS = 60_000  # correctness, not speed: a busy machine may take a while
# Per chart, as drawn: its title, tick texts, and per row the category, the bars' and the value
# label's boxes (px), the zero line's x (or null), and the plot's box.
DRAWN = """(sel) => [...document.querySelectorAll(sel)].map(t => {
    const box = e => { const r = e.getBoundingClientRect();
                       return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
    return {
      title: t.querySelector('caption').firstChild.textContent.trim(),
      table: box(t),
      ticks: [...t.querySelectorAll('tfoot .rd-tick')].map(s => s.textContent),
      rows: [...t.querySelectorAll('tbody tr')].map(tr => ({
        category: tr.querySelector('th').innerText.trim(),
        plot: box(tr.querySelector('.rd-plot')),
        bars: [...tr.querySelectorAll('.rd-bar')].map(box)
              .filter(b => b.right - b.left > 0 && b.bottom - b.top > 0),
        zero: (z => z ? box(z).left : null)(tr.querySelector('.rd-zero')),
        label: (v => ({text: v.firstChild.textContent.trim(), box: box(v),
                       visible: getComputedStyle(v).visibility !== 'hidden'}))(
                 tr.querySelector('.rd-val')),
      })),
    }; })"""


def seeded_workspace(root) -> None:
    """40 images, ana and luis with 20 each (30 % shared), decisions on most of both queues:
    accepts, rejects for every rule, every tag, and some disagreement on the shared ones."""
    ws = Workspace.resolve(root)
    engine = ws.open()
    seed(engine, images=40, per_annotator=20, overlap=0.3)
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


def test_every_dashboard_chart_draws_the_known_values(site, artifacts_dir):
    engine = Workspace.resolve(site).open()
    figures = dashboard(engine)
    engine.dispose()
    problems = []
    with harness.serve(site) as url, harness.open_browser() as page:
        page.set_viewport_size({"width": 1280, "height": 800})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        harness.log_in_as(page, url, "admin", "admin")
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Dashboard").click()
        page.get_by_text("Figures as of").wait_for()
        page.wait_for_function(
            f"""() => {{ const c = [...document.querySelectorAll('{CHART}')];
                 return c.length >= {CHARTS} && c.every(t => [...t.querySelectorAll('.rd-bar')]
                   .some(b => b.getBoundingClientRect().width > 0)); }}""",
            timeout=RENDER_TIMEOUT_MS)
        drawn = {c["title"]: c for c in page.evaluate(DRAWN, CHART)}
        page.screenshot(path=artifacts_dir / "dashboard.png")
        height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": 1280, "height": height + 50})
        page.screenshot(path=artifacts_dir / "dashboard_whole.png")
    assert len(drawn) == CHARTS, list(drawn)

    # The values of the known decisions, as the page's figures give them.
    rate = drawn["Accept rate per annotator"]
    for a in figures.annotators:
        row = next(r for r in rate["rows"] if r["category"] == a.name)
        assert row["label"]["text"] == f"{100 * a.accept_rate:.1f} %", row
        plot = row["plot"]["right"] - row["plot"]["left"]
        [bar] = row["bars"]  # as long as the rate, on the 0–100 scale
        assert abs(bar["right"] - bar["left"] - plot * a.accept_rate) <= 1.5, (row, a)
    cohen = drawn["Cohen's kappa per pair of annotators"]
    [(pair, (kappa, shared))] = figures.cohen.items()
    [row] = cohen["rows"]
    assert row["category"] == " – ".join(pair)
    assert row["label"]["text"] == f"{kappa:.2f} (n={shared})"

    for chart in drawn.values():
        for row in chart["rows"]:
            label, where = row["label"]["box"], (chart["title"], row)
            assert row["label"]["visible"], where
            assert label["right"] <= chart["table"]["right"] + 0.5, where  # inside the chart
            # Clear of its bar: past the bar's end, or right of the zero line below zero.
            ends = [b["right"] for b in row["bars"]
                    if row["zero"] is None or b["left"] >= row["zero"] - 0.5]
            assert label["left"] >= max(ends + [row["zero"] or row["plot"]["left"]]) + 2, where
    # Both kappa charts: the fixed −1…1 scale whatever the values, and a line at 0 in every row.
    for title in ("Cohen's kappa per pair of annotators", "Fleiss' kappa per overlap group"):
        chart = drawn[title]
        ticks = [t.replace("\u2212", "-") for t in chart["ticks"]]
        assert ticks == ["-1.0", "-0.5", "0.0", "0.5", "1.0"], chart
        for row in chart["rows"]:
            middle = (row["plot"]["left"] + row["plot"]["right"]) / 2
            assert row["zero"] is not None and abs(row["zero"] - middle) <= 1, row
    assert not problems, problems
