"""Admin (admin)."""
import streamlit as st

from curate.app.common import require_admin

require_admin()
st.title("Admin", anchor=False)
