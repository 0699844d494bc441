"""Log in: name and password, checked against the stored hash."""
import streamlit as st

from curate.app.common import User, db_call, engine, log_in
from curate.users import authenticate

st.title("rostro")
st.caption("Curating face datasets — log in to see your queue.")
with st.form("login"):
    name = st.text_input("Name", key="login_name")
    password = st.text_input("Password", type="password", key="login_password")
    submitted = st.form_submit_button("Log in", type="primary")
if submitted:
    found = db_call(authenticate, engine(), name or "", password or "")
    if found is None:
        st.error("Wrong name or password.")
    else:
        log_in(User(id=found.id, name=found.name, role=found.role.value))
        st.rerun()
