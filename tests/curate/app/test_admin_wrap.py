"""The Admin page's workspace status (long paths, long counts) wraps instead of being cut off."""
from __future__ import annotations

from tests.helpers.app import admin_page


def test_admin_status_lines_wrap(engine, db_url, tmp_path, monkeypatch):
    at, *_ = admin_page("curate/app/admin.py", engine, db_url, tmp_path, monkeypatch)
    status = at.code[0]
    assert "images" in status.value.lower()
    assert status.proto.wrap_lines  # long lines wrap in the page, none runs off to the right
