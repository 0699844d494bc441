"""Dashboard (admin): progress, pace, agreement on the overlap, rule and tag use, the target.

Every chart is a Vega-Lite spec written as a plain dict (`st.vega_lite_chart`), with a title
and axis titles: building them with Altair cost about 0.2 s per page run (its schema
validation and channel wrapping), more than the figures themselves. Data fields have plain names
(`cohen_kappa`, not "Cohen's kappa"): Vega-Lite reads a field name as an access path, and an
apostrophe in one leaves the chart blank. People's wording goes in titles and in the tables'
column labels.
"""
import pandas as pd
import streamlit as st

from curate import dashboard
from curate.app.common import db_call, engine, require_admin
from curate.rules import RULES, TAGS

CACHE_S = 15
STATUSES = ("accepted", "rejected", "skipped", "left")  # stacked in this order, left to right
STATUS_COLOURS = ("#2e7d32", "#c62828", "#f9a825", "#b0bec5")
HEIGHT = 250
KAPPA_INSIDE = 0.75  # a kappa from here up has its label inside the bar
KAPPA_LABEL_GAP = 0.1  # between a bar's end and its label, in kappa units

require_admin()
st.title("Dashboard", anchor=False)


@st.cache_data(ttl=CACHE_S, show_spinner="Counting every decision…")
def _figures(database: str) -> dashboard.Dashboard:
    # Computed at most every 15 s per database, however many admins look; the page says when.
    return db_call(dashboard.dashboard, engine())


def _fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def _kappa_label(kappa: float | None, n: int) -> str:
    return f"{'undefined' if kappa is None else format(kappa, '.2f')} (n={n})"


def _chart(spec: dict, data: pd.DataFrame, title: str, height: int = HEIGHT) -> None:
    # fit-x: the plot fills the width and is `height` px tall, with the title, axes and legend
    # around it (Streamlit's default, fit, squeezes all of them into `height`: a short chart
    # lost its bars and legend, and a long axis title pushed the chart title out).
    st.vega_lite_chart(data, spec=dict(spec, title=title, height=height,
                                       autosize={"type": "fit-x", "contains": "padding"}),
                       width="stretch")


def _bars(where, data: pd.DataFrame, category: str, value: str, *, title: str,
          category_title: str, value_title: str, label: str | None = None,
          horizontal: bool = False) -> None:
    """A titled bar chart in `where`, one bar per row, with its value written beside each bar."""
    cat = {"field": category, "type": "nominal", "title": category_title, "sort": None}
    if not horizontal:
        cat["axis"] = {"labelAngle": 0}
    val = {"field": value, "type": "quantitative", "title": value_title}
    text = {"type": "text", "align": "left" if horizontal else "center",
            "dx": 4 if horizontal else 0, "dy": 0 if horizontal else -6, "color": "#37474f"}
    spec = {"encoding": {"y" if horizontal else "x": cat, "x" if horizontal else "y": val,
                         "tooltip": [{"field": category}, {"field": value}]},
            "layer": [{"mark": {"type": "bar"}},
                      {"mark": text, "encoding": {"text": {"field": label or value,
                                                           "type": "nominal"}}}]}
    with where:
        _chart(spec, data, title)


def _kappa_bars(where, data: pd.DataFrame, category: str, value: str, *, title: str,
                category_title: str, value_title: str) -> None:
    """Kappa bars on the fixed scale −1…1 (chance is 0, a line across), so a −0.03 looks small
    and a 0.00 still shows its axis. Each bar's label sits just above the bar's end (above the
    zero line for a negative kappa), or inside a long bar in white, never on its edge."""
    inside = f"datum.{value} >= {KAPPA_INSIDE}"
    val = {"field": value, "type": "quantitative", "title": value_title,
           "scale": {"domain": [-1, 1]},
           "axis": {"values": [-1, -0.5, 0, 0.5, 1], "format": ".1f"}}
    spec = {"encoding": {"x": {"field": category, "type": "nominal", "title": category_title,
                               "sort": None, "axis": {"labelAngle": 0}},
                         "y": val,
                         "tooltip": [{"field": category}, {"field": value, "format": ".3f"}]},
            "transform": [{"calculate": f"{inside} ? datum.{value} - {KAPPA_LABEL_GAP} : "
                                        f"max(datum.{value}, 0) + {KAPPA_LABEL_GAP}",
                           "as": "label_at"}],
            "layer": [{"mark": {"type": "bar"}},
                      {"mark": {"type": "rule", "color": "#37474f"}, "encoding": {"y": {"datum": 0}}},
                      {"mark": {"type": "text", "baseline": "middle", "fontWeight": "bold"},
                       "encoding": {"y": {"field": "label_at", "type": "quantitative"},
                                    "text": {"field": "label", "type": "nominal"},
                                    "color": {"condition": {"test": inside, "value": "white"},
                                              "value": "#37474f"}}}]}
    with where:
        _chart(spec, data, title)


if st.button("Refresh", icon=":material/refresh:", key="dash_refresh"):
    _figures.clear()
dash = _figures(engine().url.render_as_string(hide_password=True))
st.caption(f"Figures as of {dash.as_of:%H:%M:%S} — kept for up to {CACHE_S} s; press Refresh "
           "to count again now.")

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
    "rejected": a.rejected, "skipped": a.skipped, "left": a.left,
    "done %": round(100 * a.done, 1),
    "accept rate %": None if a.accept_rate is None else round(100 * a.accept_rate, 1),
    "median s / decision": None if a.median_seconds is None else round(a.median_seconds, 2),
} for a in dash.annotators])

st.subheader("Progress per annotator", anchor=False)
if people.empty:
    st.info("No annotators yet: add some on the Admin page.")
else:
    stacked = people.melt("annotator", list(STATUSES), var_name="status", value_name="images")
    stacked["rank"] = stacked["status"].map(STATUSES.index)
    _chart({"mark": {"type": "bar"}, "encoding": {
        "y": {"field": "annotator", "type": "nominal", "title": "Annotator",
              "sort": list(people["annotator"])},
        "x": {"field": "images", "type": "quantitative", "title": "Images in the queue",
              "stack": "zero"},
        "color": {"field": "status", "type": "nominal", "title": "Status", "sort": list(STATUSES),
                  "scale": {"domain": list(STATUSES), "range": list(STATUS_COLOURS)}},
        "order": {"field": "rank", "type": "quantitative"},
        "tooltip": [{"field": "annotator"}, {"field": "status"}, {"field": "images"}]}},
        stacked, "Queue progress: accepted, rejected, skipped, left",
        height=max(120, 32 * len(people)))
    pace = pd.DataFrame({"annotator": people["annotator"],
                         "accept_rate": people["accept rate %"],
                         "median_seconds": people["median s / decision"]})
    pace["rate_label"] = pace["accept_rate"].map(lambda x: _fmt(x, ".1f") + " %")
    pace["seconds_label"] = pace["median_seconds"].map(lambda x: _fmt(x, ".1f") + " s")
    left, right = st.columns(2)
    _bars(left, pace, "annotator", "accept_rate", label="rate_label",
          title="Accept rate per annotator", category_title="Annotator",
          value_title="Accepted of accepted + rejected (%)")
    _bars(right, pace, "annotator", "median_seconds", label="seconds_label",
          title="Pace: median seconds per decision", category_title="Annotator",
          value_title="Seconds per decision")
    st.dataframe(people, hide_index=True, width="stretch")

st.subheader("Agreement on the overlap", anchor=False)
if dash.cohen:
    pairs = pd.DataFrame([{"pair": f"{a} – {b}", "cohen_kappa": k, "shared_images": n,
                           "label": _kappa_label(k, n)} for (a, b), (k, n) in dash.cohen.items()])
    groups = pd.DataFrame([{"group": " + ".join(g), "fleiss_kappa": k, "images": n,
                            "label": _kappa_label(k, n)}
                           for g, (k, n) in dash.fleiss_groups.items()])
    # An undefined kappa is drawn at 0 with its label saying so: a chart is never left blank.
    left, right = st.columns(2)
    _kappa_bars(left, pairs.fillna({"cohen_kappa": 0.0}), "pair", "cohen_kappa",
                title="Cohen's kappa per pair of annotators", category_title="Pair of annotators",
                value_title="Cohen's kappa")
    if not groups.empty:
        _kappa_bars(right, groups.fillna({"fleiss_kappa": 0.0}), "group", "fleiss_kappa",
                    title="Fleiss' kappa per overlap group", category_title="Overlap group",
                    value_title="Fleiss' kappa")
    else:
        right.caption("No overlap group has every member's decision on an image yet.")
    st.dataframe(pairs.drop(columns="label"), hide_index=True, width="stretch", column_config={
        "pair": "Pair", "cohen_kappa": st.column_config.NumberColumn("Cohen's kappa", format="%.2f"),
        "shared_images": "Images both decided"})
    st.caption("A kappa is undefined (blank in the table) when everyone compared gave one and "
               "the same answer throughout: agreement beyond chance cannot be measured then.")
else:
    st.caption("No overlap image decided by two annotators yet.")

views = pd.DataFrame([{"view": via, "decisions": v.decisions,
                       "accept_rate": None if v.accept_rate is None else 100 * v.accept_rate,
                       "agreement": None if v.agreement is None else 100 * v.agreement,
                       "compared": v.compared} for via, v in dash.views.items()])
if not views.empty and views["decisions"].sum():
    st.markdown("**Grid and single decisions apart**")
    st.dataframe(views, hide_index=True, width="stretch", column_config={
        "view": "Decided in", "decisions": "Standing accepts + rejects",
        "accept_rate": st.column_config.NumberColumn("Accept rate", format="%.1f %%"),
        "agreement": st.column_config.NumberColumn("Agrees with the other annotator",
                                                   format="%.1f %%"),
        "compared": "Decisions compared"})
    st.caption("Agreement: of the decisions on images another annotator also accepted or "
               "rejected, how many gave the same verdict. Grid decisions are accepts confirmed "
               "a page at a time (V on the Label page).")

st.subheader("Rules failed and tags used", anchor=False)
left, right = st.columns(2)
rules = pd.DataFrame({"rule": [r.short for r in RULES], "rejections": [dash.rules[r.key] for r in RULES]})
tags = pd.DataFrame({"tag": [t.short for t in TAGS], "uses": [dash.tags[t.key] for t in TAGS]})
_bars(left, rules, "rule", "rejections", title="Rejections per failed rule",
      category_title="Rule failed", value_title="Standing rejections", horizontal=True)
_bars(right, tags, "tag", "uses", title="Tags used", category_title="Tag",
      value_title="Standing decisions with the tag", horizontal=True)

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
    per_round = pd.DataFrame([{
        "round": r.label, "order": r.order, "queue places": r.assigned, "looks": r.looks,
        "accepted": r.accepted,
        "looks per accepted": None if r.looks_per_accept is None else round(r.looks_per_accept, 2),
    } for r in looks.rounds])
    per_round["label"] = per_round["looks per accepted"].map(lambda x: _fmt(x))
    _bars(st.container(), per_round.fillna({"looks per accepted": 0.0}), "round",
          "looks per accepted", label="label", title="Looks per accepted face, per round",
          category_title="Assignment round", value_title="Looks per accepted face")
    st.dataframe(per_round.drop(columns="label"), hide_index=True, width="stretch")
else:
    st.caption("No assignment rounds yet.")
