"""Dashboard (admin): progress, pace, agreement on the overlap, rule and tag use, the target.

The key figures come first (and the target), the charts below them. Everything below the
Refresh button — figures, progress bar, headings, charts, tables — is server-built HTML in one
`st.html` block (`curate/app/html_charts.py`): a fresh browser then loads no chart or grid
JavaScript and draws one element instead of forty. With `st.vega_lite_chart` and
`st.dataframe` the first view fetched and ran 4.8 MB of JavaScript, 2.7 MB of it for them
(Vega's embed, the data grid, Arrow formatting): issue 20, 2.1 s on the demo. Each chart is a
titled table with axis titles, a bar per row and its value written beside it.
"""
import streamlit as st

from curate import dashboard
from curate.app import html_charts as hc
from curate.app.common import db_call, engine, require_admin
from curate.rules import RULES, TAGS

CACHE_S = 15
STATUSES = ("accepted", "rejected", "skipped", "left")  # stacked in this order, left to right
STATUS_COLOURS = ("#2e7d32", "#c62828", "#f9a825", "#b0bec5")
PERCENT_TICKS = (0, 25, 50, 75, 100)


@st.cache_data(ttl=CACHE_S, show_spinner="Counting every decision…")
def _figures(database: str) -> dashboard.Dashboard:
    # Computed at most every 15 s per database, however many admins look; the page says when.
    return db_call(dashboard.dashboard, engine())


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def _looks(database: str):
    from curate.triage import rounds, store
    return db_call(rounds.looks_report, engine()), db_call(store.latest_model, engine())


def _fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def _kappa(kappa: float | None) -> str:
    # A kappa of −0.001 reads 0.00, not "-0.00".
    return "—" if kappa is None else format(kappa, ".2f").replace("-0.00", "0.00")


def _kappa_label(kappa: float | None, n: int) -> str:
    return f"{'undefined' if kappa is None else _kappa(kappa)} (n={n:,})"


def key_figures(dash: dashboard.Dashboard) -> str:
    shown = hc.figures([
        hc.Figure("Accepted so far (final verdict)", f"{dash.accepted_final:,}",
                  f"target {dash.target:,} for old_celebA"),
        hc.Figure("Decided (all queues)", f"{sum(a.decided for a in dash.annotators):,}",
                  f"of {sum(a.queue for a in dash.annotators):,} queue items"),
        hc.Figure("Fleiss' kappa (overlap)", _kappa(dash.fleiss), f"{dash.fleiss_items:,} images"),
        hc.Figure("Open disagreements", f"{dash.disputed:,}", "settled on the Review page")])
    target = f"{dash.accepted_final:,} of {dash.target:,} accepted for old_celebA"
    return shown + hc.progress(dash.accepted_final / dash.target if dash.target else 0.0, target)


def progress_section(people) -> str:
    if not people:
        return hc.heading("Progress per annotator") + hc.note(
            "No annotators yet: add some on the Admin page.")
    rate = [None if a.accept_rate is None else 100 * a.accept_rate for a in people]
    return hc.heading("Progress per annotator") + hc.stacked_chart(
        "Queue progress: accepted, rejected, skipped, left",
        [(a.name, (a.accepted, a.rejected, a.skipped, a.left), f"{100 * a.done:.0f} % done")
         for a in people],
        list(zip(STATUSES, STATUS_COLOURS)), category_title="Annotator",
        value_title="Images in the queue") + hc.columns(
        hc.bar_chart(
            "Accept rate per annotator",
            [hc.Bar(a.name, r, _fmt(r, ".1f") + " %") for a, r in zip(people, rate)],
            category_title="Annotator", value_title="Accepted of accepted + rejected (%)",
            ticks=PERCENT_TICKS),
        hc.bar_chart(
            "Pace: median seconds per decision",
            [hc.Bar(a.name, a.median_seconds, _fmt(a.median_seconds, ".1f") + " s")
             for a in people],
            category_title="Annotator", value_title="Seconds per decision")) + hc.table(
        ["annotator", "queue", "decided", "accepted", "rejected", "skipped", "left", "done %",
         "accept rate %", "median s / decision"],
        [[a.name, f"{a.queue:,}", f"{a.decided:,}", f"{a.accepted:,}", f"{a.rejected:,}",
          f"{a.skipped:,}", f"{a.left:,}", f"{100 * a.done:.1f}", _fmt(r, ".1f"),
          _fmt(a.median_seconds)] for a, r in zip(people, rate)])


def agreement_section(dash: dashboard.Dashboard) -> str:
    out = hc.heading("Agreement on the overlap")
    if not dash.cohen:
        out += hc.note("No overlap image decided by two annotators yet.")
    else:
        pairs = [(f"{a} – {b}", k, n) for (a, b), (k, n) in dash.cohen.items()]
        cohen = hc.kappa_chart(
            "Cohen's kappa per pair of annotators",
            [hc.Bar(pair, k, _kappa_label(k, n)) for pair, k, n in pairs],
            category_title="Pair of annotators", value_title="Cohen's kappa")
        if dash.fleiss_groups:
            fleiss = hc.kappa_chart(
                "Fleiss' kappa per overlap group",
                [hc.Bar(" + ".join(g), k, _kappa_label(k, n))
                 for g, (k, n) in dash.fleiss_groups.items()],
                category_title="Overlap group", value_title="Fleiss' kappa")
        else:
            fleiss = hc.note("No overlap group has every member's decision on an image yet.")
        out += hc.columns(cohen, fleiss) + hc.table(
            ["Pair", "Cohen's kappa", "Images both decided"],
            [[pair, _kappa(k), f"{n:,}"] for pair, k, n in pairs])
        out += hc.note("A kappa is undefined (— in the table) when everyone compared gave one "
                       "and the same answer throughout: agreement beyond chance cannot be "
                       "measured then.")
    if sum(v.decisions for v in dash.views.values()):
        out += hc.note("Grid and single decisions apart", strong=True) + hc.table(
            ["Decided in", "Standing accepts + rejects", "Accept rate",
             "Agrees with the other annotator", "Decisions compared"],
            [[via, f"{v.decisions:,}",
              None if v.accept_rate is None else f"{100 * v.accept_rate:.1f} %",
              None if v.agreement is None else f"{100 * v.agreement:.1f} %", f"{v.compared:,}"]
             for via, v in dash.views.items()]) + hc.note(
            "Agreement: of the decisions on images another annotator also accepted or rejected, "
            "how many gave the same verdict. Grid decisions are accepts confirmed a page at a "
            "time (V on the Label page).")
    return out


def rules_section(dash: dashboard.Dashboard) -> str:
    return hc.heading("Rules failed and tags used") + hc.columns(
        hc.bar_chart(
            "Rejections per failed rule",
            [hc.Bar(r.short, dash.rules[r.key], f"{dash.rules[r.key]:,}") for r in RULES],
            category_title="Rule failed", value_title="Standing rejections", counts=True),
        hc.bar_chart(
            "Tags used",
            [hc.Bar(t.short, dash.tags[t.key], f"{dash.tags[t.key]:,}") for t in TAGS],
            category_title="Tag", value_title="Standing decisions with the tag", counts=True))


def triage_section(looks, model) -> str:
    left_looks = looks.projected_looks_left
    out = hc.heading("Triage: looks per accepted face") + hc.figures([
        hc.Figure("Looks per accept: model", _fmt(looks.per_accept(True)),
                  "standing accepts and rejects per image accepted, over the rounds the "
                  "triage model ordered; the limit is 1.00"),
        hc.Figure("Looks per accept: before", _fmt(looks.per_accept(False)),
                  "the same over the rounds in attribute or random order"),
        hc.Figure("Held-out AUC", _fmt(model.auc if model else None, ".3f"),
                  "no model yet" if model is None else
                  f"model {model.version}, trained {model.trained_at:%Y-%m-%d %H:%M} UTC on "
                  f"{model.decisions_used:,} decided images"),
        hc.Figure(f"Looks left to {looks.target:,}",
                  "—" if left_looks is None else f"{left_looks:,}",
                  "at the newest round's looks per accepted face")])
    if not looks.rounds:
        return out + hc.note("No assignment rounds yet.")
    return out + hc.bar_chart(
        "Looks per accepted face, per round",
        [hc.Bar(r.label, r.looks_per_accept, _fmt(r.looks_per_accept)) for r in looks.rounds],
        category_title="Assignment round", value_title="Looks per accepted face") + hc.table(
        ["round", "order", "queue places", "looks", "accepted", "looks per accepted"],
        [[r.label, r.order, f"{r.assigned:,}", f"{r.looks:,}", f"{r.accepted:,}",
          _fmt(r.looks_per_accept)] for r in looks.rounds], text_columns=2)


require_admin()
st.title("Dashboard", anchor=False)
st.html(hc.CSS)  # the charts' styles (style only: Streamlit puts it aside, it takes no space)
if st.button("Refresh", icon=":material/refresh:", key="dash_refresh"):
    _figures.clear()
    _looks.clear()
database = engine().url.render_as_string(hide_password=True)
dash = _figures(database)
# Everything below the button in one st.html block: see curate/app/html_charts.py for why.
st.html(hc.page(
    hc.note(f"Figures as of {dash.as_of:%H:%M:%S} — kept for up to {CACHE_S} s; press Refresh to "
            "count again now."),
    key_figures(dash), progress_section(dash.annotators), agreement_section(dash),
    rules_section(dash), triage_section(*_looks(database))))
