"""Login and navigation: refusals, roles, what each role sees."""
from __future__ import annotations

from tests.helpers.app import as_user, page


def _login(at, name, password):
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    return at


def test_wrong_password_and_unknown_user_are_refused(app_db):
    at = page("streamlit_app.py")
    at.run()
    _login(at, "ana", "wrong")
    assert "user" not in at.session_state
    assert [e.value for e in at.error] == ["Wrong name or password."]
    _login(at, "nobody", "ana")
    assert "user" not in at.session_state
    assert not at.exception


def test_annotator_logs_in_and_sees_the_label_page(app_db):
    at = page("streamlit_app.py")
    at.run()
    _login(at, "ana", "ana")
    assert not at.exception
    user = at.session_state["user"]
    assert (user.name, user.role) == ("ana", "annotator")
    # The Label page (its decision panel) is the annotator's default page.
    assert [e for e in at.get("bidi_component") if e.proto.component_name == "rostro_label_panel"]


def test_admin_logs_in_to_the_lead_pages(app_db):
    at = page("streamlit_app.py")
    at.run()
    _login(at, "admin", "admin")
    assert not at.exception
    assert at.session_state["user"].role == "admin"
    assert not any(b.key == "accept" for b in at.button)


def test_admin_pages_refuse_annotators_and_strangers(app_db):
    for script in ("curate/app/review.py", "curate/app/dashboard.py", "curate/app/admin.py"):
        at = page(script, as_user(app_db, "ana"))
        at.run()
        assert [e.value for e in at.error] == ["This page is for admins only."], script
        at = page(script)
        at.run()
        assert [w.value for w in at.warning] == ["Please log in first."], script


def test_label_page_refuses_strangers(app_db):
    at = page("curate/app/label.py")
    at.run()
    assert [w.value for w in at.warning] == ["Please log in first."]
    assert not at.button


def test_log_out_forgets_the_user(app_db):
    at = page("streamlit_app.py")
    at.run()
    _login(at, "ana", "ana")
    at.sidebar.button[0].click().run()
    assert "user" not in at.session_state
    assert at.text_input(key="login_name")


def test_a_deactivated_user_is_told_so_only_with_the_right_password(app_db, engine):
    from curate.users import set_active
    set_active(engine, "ana", False)
    at = page("streamlit_app.py")
    at.run()
    _login(at, "ana", "wrong")  # a wrong password: the common answer, nothing revealed
    assert [e.value for e in at.error] == ["Wrong name or password."]
    _login(at, "ana", "ana")
    assert "user" not in at.session_state
    assert [e.value for e in at.error] == [
        "This account has been deactivated. Ask your lead to reactivate it."]
    set_active(engine, "ana", True)
    _login(at, "ana", "ana")
    assert at.session_state["user"].name == "ana"
