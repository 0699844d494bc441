"""Dashboard figures against a database with known decisions, and the kappa formulas."""
from __future__ import annotations

import pytest

from curate import dashboard, labeling
from curate.review import settle
from tests.helpers.curate import decide, known_decisions

WIKIPEDIA_FLEISS = [  # en.wikipedia.org/wiki/Fleiss'_kappa worked example: kappa = 0.210
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_matches_the_worked_example():
    assert dashboard.fleiss_kappa(WIKIPEDIA_FLEISS) == pytest.approx(0.2099, abs=1e-4)
    assert dashboard.fleiss_kappa([]) is None
    assert dashboard.fleiss_kappa([[2, 0], [2, 0]]) is None  # one answer only: undefined


def test_cohen_kappa():
    a = ["accept", "accept", "reject", "reject"]
    b = ["accept", "reject", "reject", "reject"]
    assert dashboard.cohen_kappa(a, b) == pytest.approx(0.5)
    assert dashboard.cohen_kappa(a, a) == pytest.approx(1.0)
    assert dashboard.cohen_kappa([], []) is None
    assert dashboard.cohen_kappa(["accept"] * 3, ["accept"] * 3) is None


def test_dashboard_figures(engine):
    users, shared = known_decisions(engine)
    d = dashboard.dashboard(engine)
    ana, luis = d.annotators
    assert (ana.name, ana.queue, ana.decided, ana.accepted, ana.rejected, ana.skipped) == (
        "ana", 10, 6, 3, 2, 1)
    assert ana.accept_rate == pytest.approx(3 / 5)
    assert ana.median_seconds == 2.0  # 2 2 2 2 6 1 100
    assert (luis.decided, luis.accepted, luis.rejected, luis.median_seconds) == (4, 1, 3, 4.0)
    k, n = d.cohen[("ana", "luis")]
    assert (k, n) == (pytest.approx(0.5), 4)
    assert d.fleiss == pytest.approx((0.75 - 34 / 64) / (1 - 34 / 64))
    assert d.fleiss_items == 4
    assert d.rules == {"too_young": 3, "not_facing": 1, "looks_young": 1}
    assert d.tags == {"deformity": 1, "text_on_face": 0, "covering_accessory": 0, "two_faces": 5}
    # final: shared[0] both accept; solo[0] ana alone accepts (a single-queue image).
    assert d.accepted_final == 2
    assert d.disputed == 1  # shared[3]: two rejects (other rules) agree
    assert d.target == 2500

    settle(engine, users["admin"], shared[1], "accept")
    d = dashboard.dashboard(engine)
    assert (d.accepted_final, d.disputed) == (3, 0)


def test_grid_and_single_decisions_apart(engine):
    users, shared = known_decisions(engine)
    d = dashboard.dashboard(engine)
    single, grid = d.views["single"], d.views["grid"]
    assert (single.decisions, single.accepted) == (9, 4)  # ana A A R R + A, luis A R R R
    assert (single.compared, single.agreed) == (8, 6)  # 4 shared images, seen from each side
    assert (grid.decisions, grid.accept_rate, grid.agreement) == (0, None, None)
    luis = {i.image_id: i for i in labeling.items(engine, users["luis"], 0, 10)}
    decide(engine, users["luis"], luis[shared[1]], "accept", seconds=0.2, via="grid")
    d = dashboard.dashboard(engine)
    assert d.views["grid"] == dashboard.ViewStats(decisions=1, accepted=1, compared=1, agreed=1)
    assert (d.views["single"].decisions, d.views["single"].compared) == (8, 7)
    assert d.views["single"].agreement == pytest.approx(7 / 7)
