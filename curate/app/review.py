"""Review (admin): overlap images the annotators disagree on, each decision side by side;
the admin's verdict is recorded as an adjudication (append-only)."""
import streamlit as st

from curate import review
from curate.app.common import db_call, engine, require_admin
from curate.decisions import DecisionError
from curate.display import display_image
from curate.imaging import BadImage
from curate.rules import RULES, TAGS

admin = require_admin()
eng = engine()
st.title("Review", anchor=False)

show_settled = st.toggle("Show settled ones too", key="review_settled")
items = db_call(review.disputes, eng, include_settled=show_settled)
open_count = sum(1 for d in items if d.settled is None)
st.caption(f"{open_count} open disagreement(s)" + (f", {len(items) - open_count} settled"
                                                  if show_settled else ""))
if not items:
    st.success("No disagreements to settle.")
    st.stop()

if st.session_state.get("review_pick", 0) >= len(items):
    st.session_state.review_pick = 0
labels = [f"{d.name}" + (f" — settled: {d.settled}" if d.settled else "") for d in items]
index = st.selectbox("Image", range(len(items)), format_func=lambda i: labels[i], key="review_pick")
d = items[index]

VERDICTS = {"accept": "Accept"} | {f"reject:{r.key}": f"Reject — {r.short}" for r in RULES}
pic, *cols = st.columns([2] + [1] * len(d.opinions))
with pic:
    try:
        st.image(display_image(d.path), width="content")
    except BadImage as e:
        st.error(f"This image cannot be shown ({e}).")
    st.caption(f"`{d.name}` (image #{d.image_id})")
for col, o in zip(cols, d.opinions):
    with col:
        st.subheader(o.annotator, anchor=False)
        st.markdown(f"**{o.verdict}**" + (f" — {o.rule.replace('_', ' ')}" if o.rule else ""))
        if o.tags:
            st.markdown("tags: " + ", ".join(t.replace("_", " ") for t in o.tags))
        if o.note:
            st.caption(f"note: {o.note}")
        if o.seconds is not None:
            st.caption(f"{o.seconds:.1f} s to decide")

if d.settled:
    st.info(f"Settled by {d.settled_by}: **{d.settled}**. A new verdict replaces it "
            "(the old one is kept).")
with st.form(f"settle_{d.image_id}"):
    choice = st.radio("Your verdict", list(VERDICTS), format_func=VERDICTS.get, key="review_verdict")
    tags = st.multiselect("Tags", [t.key for t in TAGS],
                          format_func=lambda k: k.replace("_", " "), key="review_tags")
    note = st.text_input("Note (optional)", key="review_note")
    if st.form_submit_button("Record verdict", type="primary"):
        verdict, _, rule = choice.partition(":")
        try:
            db_call(review.settle, eng, admin.id, d.image_id, verdict, rule or None, tags, note)
        except DecisionError as e:
            st.error(f"Not recorded: {e}")
        else:
            st.toast(f"Recorded: {VERDICTS[choice]} for {d.name}")
            st.rerun()
