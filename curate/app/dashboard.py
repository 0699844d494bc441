"""Dashboard (admin): progress, pace, agreement on the overlap, rule and tag use, the target."""
import pandas as pd
import streamlit as st

from curate import dashboard
from curate.app.common import db_call, engine, require_admin
from curate.rules import RULES, TAGS

require_admin()
st.title("Dashboard", anchor=False)


@st.cache_data(ttl=15, show_spinner="Counting every decision…")
def _figures(database: str) -> dashboard.Dashboard:
    # Whole-database figures take seconds at CelebA scale (200,000 queue items): computed at
    # most every 15 s per database, however many admins look or click.
    return db_call(dashboard.dashboard, engine())


if st.button("Refresh", icon=":material/refresh:", key="dash_refresh"):
    _figures.clear()
dash = _figures(engine().url.render_as_string(hide_password=True))


def _fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


c1, c2, c3, c4 = st.columns(4)
c1.metric("Accepted so far (final verdict)", f"{dash.accepted_final:,}",
          help=f"target {dash.target:,} for old_celebA")
c2.metric("Decided (all queues)", f"{sum(a.decided for a in dash.annotators):,}",
          help=f"of {sum(a.queue for a in dash.annotators):,} queue items")
c3.metric("Fleiss' kappa (overlap)", _fmt(dash.fleiss), help=f"{dash.fleiss_items} images")
c4.metric("Open disagreements", f"{dash.disputed:,}")
st.progress(min(dash.accepted_final / dash.target, 1.0) if dash.target else 0.0,
            text=f"{dash.accepted_final:,} of {dash.target:,} accepted for old_celebA")

people = pd.DataFrame([{
    "annotator": a.name, "queue": a.queue, "decided": a.decided, "accepted": a.accepted,
    "rejected": a.rejected, "skipped": a.skipped, "left": a.queue - a.decided,
    "done %": round(100 * a.done, 1),
    "accept rate %": None if a.accept_rate is None else round(100 * a.accept_rate, 1),
    "median s / decision": None if a.median_seconds is None else round(a.median_seconds, 2),
} for a in dash.annotators])

st.subheader("Progress per annotator", anchor=False)
if people.empty:
    st.info("No annotators yet: add some on the Admin page.")
else:
    st.bar_chart(people.set_index("annotator")[["accepted", "rejected", "skipped", "left"]],
                 horizontal=True, stack=True)
    left, right = st.columns(2)
    left.bar_chart(people.set_index("annotator")[["accept rate %"]], height=250)
    right.bar_chart(people.set_index("annotator")[["median s / decision"]], height=250)
    st.dataframe(people, hide_index=True, width="stretch")

st.subheader("Agreement on the overlap", anchor=False)
if dash.cohen:
    pairs = pd.DataFrame([{"pair": f"{a} – {b}", "Cohen's kappa": k, "shared images": n}
                          for (a, b), (k, n) in dash.cohen.items()])
    st.bar_chart(pairs.set_index("pair")[["Cohen's kappa"]], height=250)
    st.dataframe(pairs, hide_index=True, width="stretch")
else:
    st.caption("No overlap image decided by two annotators yet.")

st.subheader("Rules failed and tags used", anchor=False)
left, right = st.columns(2)
rules = pd.DataFrame({"rule": [r.short for r in RULES], "rejections": [dash.rules[r.key] for r in RULES]})
tags = pd.DataFrame({"tag": [t.short for t in TAGS], "uses": [dash.tags[t.key] for t in TAGS]})
left.bar_chart(rules.set_index("rule"), height=250)
right.bar_chart(tags.set_index("tag"), height=250)
