"""Log in: name and password, checked against the stored hash, throttled per name and address."""
import streamlit as st

from curate.app.common import User, client_address, db_call, engine, log_in
from curate.sessions import open_session
from curate.users import log_in as check_login

st.title("rostro")
st.caption("Curating face datasets — log in to see your queue.")
with st.form("login"):
    name = st.text_input("Name", key="login_name")
    password = st.text_input("Password", type="password", key="login_password")
    submitted = st.form_submit_button("Log in", type="primary")
if submitted:
    eng = engine()
    client = client_address()
    result = db_call(check_login, eng, name or "", password or "", client)
    if result.busy:
        st.error("Another log-in for this name is being checked right now. Try again in a "
                 "moment.")
    elif result.retry_after is not None:
        st.error(f"Too many failed logins for this name or from this address. "
                 f"Try again in {max(1, round(result.retry_after))} s.")
    elif result.deactivated:
        st.error("This account has been deactivated. Ask your lead to reactivate it.")
    elif result.user is None:
        st.error("Wrong name or password.")
    else:
        found = result.user
        token = db_call(open_session, eng, found.id, client)
        log_in(User(id=found.id, name=found.name, role=found.role.value, token=token))
        st.rerun()
