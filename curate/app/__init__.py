"""The Streamlit app's pages and shared UI helpers (thin: logic lives in `curate/*`).

`streamlit_app.py` lists the pages; `curate.app.common` holds login state, role guards and the
cached engine every page uses.
"""
