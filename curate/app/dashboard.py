"""Dashboard (admin): progress, pace, agreement on the overlap, rule and tag use, the target.

The key figures come first (metrics, the target), the charts below them. Every chart and table
is server-built HTML (`curate/app/html_charts.py`, shown with `st.html`): a fresh browser then
loads no chart or grid JavaScript. With `st.vega_lite_chart` and `st.dataframe` the first view
fetched and ran 4.8 MB of JavaScript, 2.7 MB of it for them (Vega's embed, the data grid, Arrow
formatting): issue 20, 2.1 s on the demo. Each chart is a titled table with axis titles, a bar
per row and its value written beside it.
"""
import streamlit as st

from curate import dashboard
from curate.app import html_charts as hc
from curate.app.common import db_call, engine, require_admin
from curate.app.text import plain
from curate.rules import RULES, TAGS

CACHE_S = 15
STATUSES = ("accepted", "rejected", "skipped", "left")  # stacked in this order, left to right
STATUS_COLOURS = ("#2e7d32", "#c62828", "#f9a825", "#b0bec5")
PERCENT_TICKS = (0, 25, 50, 75, 100)

require_admin()
st.title("Dashboard", anchor=False)
st.html(hc.CSS)  # the charts' styles (style only: Streamlit puts it aside, it takes no space)


@st.cache_data(ttl=CACHE_S, show_spinner="Counting every decision…")
def _figures(database: str) -> dashboard.Dashboard:
    # Computed at most every 15 s per database, however many admins look; the page says when.
    return db_call(dashboard.dashboard, engine())


def _fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def _kappa(kappa: float | None) -> str:
    # A kappa of −0.001 reads 0.00, not "-0.00".
    return "—" if kappa is None else format(kappa, ".2f").replace("-0.00", "0.00")


def _kappa_label(kappa: float | None, n: int) -> str:
    return f"{'undefined' if kappa is None else _kappa(kappa)} (n={n:,})"


if st.button("Refresh", icon=":material/refresh:", key="dash_refresh"):
    _figures.clear()
dash = _figures(engine().url.render_as_string(hide_password=True))
# The time's colons escaped (`plain`): Markdown text holding ":18:" reads as an emoji code, and
# the page would first fetch Streamlit's emoji plugin (300 KB of JavaScript) to look it up.
st.caption(f"Figures as of {plain(f'{dash.as_of:%H:%M:%S}')} — kept for up to {CACHE_S} s; press "
           "Refresh to count again now.")

c1, c2, c3, c4 = st.columns(4)
c1.metric("Accepted so far (final verdict)", f"{dash.accepted_final:,}",
          help=f"target {dash.target:,} for old_celebA")
c2.metric("Decided (all queues)", f"{sum(a.decided for a in dash.annotators):,}",
          help=f"of {sum(a.queue for a in dash.annotators):,} queue items")
c3.metric("Fleiss' kappa (overlap)", _kappa(dash.fleiss), help=f"{dash.fleiss_items:,} images")
c4.metric("Open disagreements", f"{dash.disputed:,}")
st.progress(min(dash.accepted_final / dash.target, 1.0) if dash.target else 0.0,
            text=f"{dash.accepted_final:,} of {dash.target:,} accepted for old_celebA")

st.subheader("Progress per annotator", anchor=False)
people = dash.annotators
if not people:
    st.info("No annotators yet: add some on the Admin page.")
else:
    st.html(hc.stacked_chart(
        "Queue progress: accepted, rejected, skipped, left",
        [(a.name, (a.accepted, a.rejected, a.skipped, a.left), f"{100 * a.done:.0f} % done")
         for a in people],
        list(zip(STATUSES, STATUS_COLOURS)), category_title="Annotator",
        value_title="Images in the queue"))
    rate = [None if a.accept_rate is None else 100 * a.accept_rate for a in people]
    left, right = st.columns(2)
    left.html(hc.bar_chart(
        "Accept rate per annotator",
        [hc.Bar(a.name, r, _fmt(r, ".1f") + " %") for a, r in zip(people, rate)],
        category_title="Annotator", value_title="Accepted of accepted + rejected (%)",
        ticks=PERCENT_TICKS))
    right.html(hc.bar_chart(
        "Pace: median seconds per decision",
        [hc.Bar(a.name, a.median_seconds, _fmt(a.median_seconds, ".1f") + " s") for a in people],
        category_title="Annotator", value_title="Seconds per decision"))
    st.html(hc.table(
        ["annotator", "queue", "decided", "accepted", "rejected", "skipped", "left", "done %",
         "accept rate %", "median s / decision"],
        [[a.name, f"{a.queue:,}", f"{a.decided:,}", f"{a.accepted:,}", f"{a.rejected:,}",
          f"{a.skipped:,}", f"{a.left:,}", f"{100 * a.done:.1f}", _fmt(r, ".1f"),
          _fmt(a.median_seconds)] for a, r in zip(people, rate)]))

st.subheader("Agreement on the overlap", anchor=False)
if dash.cohen:
    left, right = st.columns(2)
    left.html(hc.kappa_chart(
        "Cohen's kappa per pair of annotators",
        [hc.Bar(f"{a} – {b}", k, _kappa_label(k, n)) for (a, b), (k, n) in dash.cohen.items()],
        category_title="Pair of annotators", value_title="Cohen's kappa"))
    if dash.fleiss_groups:
        right.html(hc.kappa_chart(
            "Fleiss' kappa per overlap group",
            [hc.Bar(" + ".join(g), k, _kappa_label(k, n))
             for g, (k, n) in dash.fleiss_groups.items()],
            category_title="Overlap group", value_title="Fleiss' kappa"))
    else:
        right.caption("No overlap group has every member's decision on an image yet.")
    st.html(hc.table(["Pair", "Cohen's kappa", "Images both decided"],
                     [[f"{a} – {b}", _kappa(k), f"{n:,}"]
                      for (a, b), (k, n) in dash.cohen.items()]))
    st.caption("A kappa is undefined (— in the table) when everyone compared gave one and the "
               "same answer throughout: agreement beyond chance cannot be measured then.")
else:
    st.caption("No overlap image decided by two annotators yet.")

if sum(v.decisions for v in dash.views.values()):
    st.markdown("**Grid and single decisions apart**")
    st.html(hc.table(
        ["Decided in", "Standing accepts + rejects", "Accept rate",
         "Agrees with the other annotator", "Decisions compared"],
        [[via, f"{v.decisions:,}",
          None if v.accept_rate is None else f"{100 * v.accept_rate:.1f} %",
          None if v.agreement is None else f"{100 * v.agreement:.1f} %", f"{v.compared:,}"]
         for via, v in dash.views.items()]))
    st.caption("Agreement: of the decisions on images another annotator also accepted or "
               "rejected, how many gave the same verdict. Grid decisions are accepts confirmed "
               "a page at a time (V on the Label page).")

st.subheader("Rules failed and tags used", anchor=False)
left, right = st.columns(2)
left.html(hc.bar_chart(
    "Rejections per failed rule",
    [hc.Bar(r.short, dash.rules[r.key], f"{dash.rules[r.key]:,}") for r in RULES],
    category_title="Rule failed", value_title="Standing rejections", counts=True))
right.html(hc.bar_chart(
    "Tags used", [hc.Bar(t.short, dash.tags[t.key], f"{dash.tags[t.key]:,}") for t in TAGS],
    category_title="Tag", value_title="Standing decisions with the tag", counts=True))

st.subheader("Triage: looks per accepted face", anchor=False)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def _looks(database: str):
    from curate.triage import rounds, store
    return db_call(rounds.looks_report, engine()), db_call(store.latest_model, engine())


looks, model = _looks(engine().url.render_as_string(hide_password=True))
m1, m2, m3, m4 = st.columns(4)
m1.metric("Looks per accept: model", _fmt(looks.per_accept(True)),
          help="standing accepts and rejects per image accepted, over the rounds the triage "
          "model ordered; the limit is 1.00")
m2.metric("Looks per accept: before", _fmt(looks.per_accept(False)),
          help="the same over the rounds assigned in attribute or random order")
m3.metric("Held-out AUC", _fmt(model.auc if model else None, ".3f"),
          help="no model yet" if model is None else
          f"model {model.version}, trained {model.trained_at:%Y-%m-%d %H:%M} UTC on "
          f"{model.decisions_used:,} decided images")
left_looks = looks.projected_looks_left
m4.metric(f"Looks left to {looks.target:,}", "—" if left_looks is None
          else f"{left_looks:,}", help="at the newest round's looks per accepted face")
if looks.rounds:
    st.html(hc.bar_chart(
        "Looks per accepted face, per round",
        [hc.Bar(r.label, r.looks_per_accept, _fmt(r.looks_per_accept)) for r in looks.rounds],
        category_title="Assignment round", value_title="Looks per accepted face"))
    st.html(hc.table(
        ["round", "order", "queue places", "looks", "accepted", "looks per accepted"],
        [[r.label, r.order, f"{r.assigned:,}", f"{r.looks:,}", f"{r.accepted:,}",
          _fmt(r.looks_per_accept)] for r in looks.rounds], text_columns=2))
else:
    st.caption("No assignment rounds yet.")
