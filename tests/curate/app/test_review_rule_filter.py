"""The Review page's rule-disagreements filter: off by default, its count in its label, and
when on, the images every annotator rejects on different rules."""
from __future__ import annotations

from tests.helpers.app import admin_page


def test_rule_disagreements_filter_is_off_by_default_and_counts(engine, db_url, tmp_path,
                                                                monkeypatch):
    at, users, shared = admin_page("curate/app/review.py", engine, db_url, tmp_path, monkeypatch)
    toggle = at.toggle(key="review_rule_split")
    assert toggle.value is False
    assert toggle.label == "Rule disagreements only (both reject, different rules): 1"
    assert not at.dataframe  # the keyboard panel shows the accept-versus-reject ones
    toggle.set_value(True).run()
    assert not at.exception
    [table] = at.dataframe
    rows = table.value.to_dict("records")
    assert len(rows) == 1 and rows[0]["decisions"] == ("ana: reject too_young · "
                                                       "luis: reject looks_young")
    assert rows[0]["settled"] == ""
