"""Export (admin): the CLI's export and prepare commands, run as background jobs.

The form is built from curate.export.registry, the table the CLI is built from: one widget per
params field that says how the page shows it (`page=`), starting at the field's default; the
fields without one keep their defaults. Above the form the page says how many images qualify
now (curate.export.qualify), and the count field starts at that figure when it is below the
target. Errors name the page's fields, not the CLI's flags (`_page_words`). A destination that
already holds files is checked first with the export layer's own rule (an earlier export of
this kind that this database recorded): anything else is refused at once, and a replaceable
export is replaced only after the admin confirms.

Export runs in a worker process (curate.jobs), not in the page run: the admin may leave the
page or close the tab and come back to its progress. Running jobs show a progress bar (done of
total, rate, time left) redrawn every second, with a Cancel; finished jobs stay listed with
their summary or error.
"""
import dataclasses
import re
from pathlib import Path

import streamlit as st

from curate import jobs
from curate.app.common import calm_errors, db_call, engine, require_admin, workspace
from curate.app.text import plain
from curate.export import ExportError
from curate.export.qualify import qualifying
from curate.export.records import check_destination, recent_exports
from curate.export.registry import KINDS, shown

QUALIFY_CACHE_S = 10
JOB_POLL_S = 1.0

user = require_admin()
eng = engine()
ws = workspace()
exports_dir = ws.exports_dir
st.title("Export", anchor=False)
st.caption(f"A relative path on this page is under **{plain(exports_dir)}** (the workspace's exports "
           "folder; the command line reads it from its current folder instead). An export runs "
           "in the background: you may leave this page and come back to its progress. It is "
           "written to a temporary folder and renamed into place when complete.")

DESCRIPTIONS = {  # the page's own wording; --help uses each kind's summary
    "old_celeba": "CelebA images accepted under the rules",
    "peruvian_mix": "seeded mix of peruvian_face and old_celebA",
    "sketch_pairs": "photo | sketch pairs, split into train/ and val/",
    "lmdb": "multi-resolution LMDB for the StyleGAN trainer",
}
BY_TITLE = {k.title: k for k in KINDS.values()}
title = st.radio("What", list(BY_TITLE), key="export_kind",
                 format_func=lambda t: f"{t} — {DESCRIPTIONS[BY_TITLE[t].name]}")
kind = BY_TITLE[title]


@st.cache_data(ttl=QUALIFY_CACHE_S, show_spinner="Counting the images that qualify…")
def _qualifying(database: str, peruvian: str | None):
    return db_call(qualifying, eng, peruvian)


DEFAULTS: dict[str, object] = {}  # field → a starting value other than the field's default
if kind.name in ("old_celeba", "peruvian_mix"):
    peru_name = (st.session_state.get("x_peruvian_mix_peruvian") or "peruvian_face").strip()
    q = _qualifying(eng.url.render_as_string(hide_password=True),
                    peru_name if kind.name == "peruvian_mix" else None)
    target = next(f.default for f in dataclasses.fields(kind.params) if f.name == "count")
    if kind.name == "old_celeba":
        tags = ", ".join(f"{t} {n:,}" for t, n in sorted(q.tagged.items()))
        st.info(f"**{q.accepted:,}** accepted images qualify now (target {target:,})."
                + (f" Of them tagged: {tags} — leaving a tag out removes those." if tags else ""))
        qualify_now = q.accepted
    else:
        qualify_now = q.largest_mix(0.5)
        st.info(f"Qualifying now: **{q.accepted:,}** accepted old_celebA images and "
                f"**{q.peruvian:,}** Peruvian images; the largest half-and-half mix is "
                f"**{qualify_now:,}** (target {target:,}).")
        if q.peruvian_problem:
            st.text(q.peruvian_problem)  # names what the admin typed: shown as text
    if 0 < qualify_now < target:
        DEFAULTS["count"] = qualify_now


def _dest(name: str) -> Path:
    p = Path(name.strip()).expanduser()
    return (p if p.is_absolute() else exports_dir / p).resolve()  # as the export layer does


def _widget(f: dataclasses.Field):
    """The widget of one params field, from its `page` settings; returns the value it holds."""
    page = dict(f.metadata["page"])
    label, key = page.pop("label"), f"x_{kind.name}_{f.name}"
    path, widget = page.pop("path", False), page.pop("widget", None)
    required = f.default is dataclasses.MISSING
    default = page.pop("value", None if required else DEFAULTS.get(f.name, f.default))
    if isinstance(default, bool):
        return st.checkbox(label, value=default, key=key)
    if "options" in page and isinstance(default, tuple):
        return tuple(st.multiselect(label, page["options"], default=list(default), key=key))
    if "options" in page:
        return st.selectbox(label, page["options"], index=page["options"].index(default), key=key)
    if widget == "slider":
        return st.slider(label, value=default, key=key, **page)
    if isinstance(default, (int, float)):
        return st.number_input(label, value=default, key=key, **page)
    text = st.text_input(label, "" if default is None else shown(default), key=key).strip()
    if path:  # relative to the exports folder; an optional folder left empty is None
        return _dest(text) if text or required else None
    return text


def _page_words(message: str) -> str:
    """An export error with each CLI flag of this kind written as the page's field label:
    "pass --allow-fewer" → tick “Take fewer when fewer qualify”; "--count 5" → “Images” (5)."""
    for f in dataclasses.fields(kind.params):
        if f.metadata["page"] is None:
            continue
        flag = f.metadata["cli"].get("flag", "--" + f.name.replace("_", "-"))
        label = f"“{f.metadata['page']['label']}”"
        message = message.replace(f"pass {flag}", f"tick {label}")
        message = re.sub(rf"{re.escape(flag)} (-?[\d.]+)\b", rf"{label} (\1)", message)
        message = re.sub(rf"{re.escape(flag)}\b", label, message)
    return message


def _run(dest: Path, values: dict) -> None:
    """Start the export as a job; its progress shows under Jobs."""
    try:
        params = kind.params(**values)
        db_call(jobs.start, eng, ws, kind.name, dest, params, user.id)
    except (ExportError, ValueError) as e:
        st.error(plain(_page_words(str(e))))
    else:
        st.success(plain(f"Started: {kind.title} into {dest}. Its progress shows under Jobs "
                         "below; you may leave this page meanwhile."))


def _confirm() -> None:
    st.session_state["export_confirmed"] = True


def _cancel() -> None:
    st.session_state.pop("export_pending", None)


out = st.text_input("Destination", kind.folder, key=f"x_{kind.name}_out",
                    help=f"A folder; a relative path is under {exports_dir}.")
dest = _dest(out)
st.caption(f"Writes to **{plain(dest)}**" + (" — it exists and will be checked before anything is "
                                       "replaced" if dest.exists() else ""))

with st.form("export"):
    values = {f.name: _widget(f) for f in dataclasses.fields(kind.params)
              if f.metadata["page"] is not None}
    go = st.form_submit_button("Export", type="primary")

if go:
    st.session_state.pop("export_pending", None)
    holds_files = dest.is_dir() and any(dest.iterdir())
    if not holds_files:
        _run(dest, values)
    else:
        try:
            db_call(check_destination, dest, eng, kind.name)  # refused: nothing to confirm
        except ExportError as e:
            st.error(plain(_page_words(str(e))))
        else:
            st.session_state["export_pending"] = (kind.name, str(dest), values)
            st.session_state.pop("export_confirmed", None)

pending = st.session_state.get("export_pending")
if pending and pending[0] == kind.name:
    if st.session_state.pop("export_confirmed", False):
        st.session_state.pop("export_pending")
        _run(Path(pending[1]), pending[2])
    else:
        with st.container(border=True):
            st.warning(f"**{plain(pending[1])}** already holds an earlier {kind.title} export of this "
                       "database. Exporting again replaces it with the new one, once that is "
                       "complete.")
            left, right, _ = st.columns([1, 1, 4])
            left.button("Replace it", type="primary", key="export_replace", on_click=_confirm)
            right.button("Cancel", key="export_cancel", on_click=_cancel)

KIND_TITLES = {k.name: k.title for k in KINDS.values()}
STATE_WORDS = {jobs.DONE: "done", jobs.FAILED: "failed", jobs.CANCELLED: "cancelled"}


def _cancel_job(job_id: int) -> None:
    db_call(jobs.cancel, eng, job_id)


def _finished_table(views: list) -> None:
    ended = [v for v in views if v.state != jobs.RUNNING]
    if ended:
        st.dataframe([{"job": v.id, "what": KIND_TITLES.get(v.kind, v.kind), "destination": v.path,
                       "state": STATE_WORDS.get(v.state, v.state),
                       "result": _page_words(v.message or ""),
                       "started (UTC)": v.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                       "took": f"{v.seconds:.0f} s"} for v in ended],
                     hide_index=True, width="stretch", key="jobs_finished")


def _jobs_panel(views: list) -> bool:
    """Running jobs with their progress and a Cancel, then finished ones; True if any runs."""
    running = [v for v in views if v.state == jobs.RUNNING]
    for v in running:
        with st.container(border=True, key=f"job_{v.id}"):
            st.text(f"Job {v.id}: {KIND_TITLES.get(v.kind, v.kind)} → {v.path}")
            st.progress(v.fraction, text=v.progress_text())
            st.button("Cancel", key=f"job_cancel_{v.id}", on_click=_cancel_job, args=(v.id,),
                      disabled=v.cancel, help="Stops it and removes what it wrote; an earlier "
                      "export at that folder stays as it was.")
    _finished_table(views)
    if not views:
        st.caption("No jobs yet.")
    return bool(running)


@st.fragment(run_every=JOB_POLL_S)
def _live_jobs() -> None:
    with calm_errors():  # a fragment run is outside the page run's own calm_errors
        if not _jobs_panel(db_call(jobs.jobs, eng)):
            st.rerun()  # the last one ended: the whole page again (Recent exports, no polling)


st.subheader("Jobs", anchor=False)
views = db_call(jobs.jobs, eng)
if any(v.state == jobs.RUNNING for v in views):
    _live_jobs()
else:
    _jobs_panel(views)


def _counts_text(counts) -> str:
    """{"images": 2, "qualifying": 5} → "images 2 · qualifying 5" (any other value as text)."""
    if not isinstance(counts, dict):
        return str(counts)
    return " · ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                      for k, v in counts.items())


st.subheader("Recent exports", anchor=False)
rows = db_call(recent_exports, eng)
if rows:
    st.dataframe([{"what": KIND_TITLES.get(r["kind"], r["kind"]), "folder": r["path"],
                   "counts": _counts_text(r["counts"]), "seed": r["seed"],
                   "written (UTC)": r["created_at"].strftime("%Y-%m-%d %H:%M:%S")}
                  for r in rows], hide_index=True, width="stretch", key="recent_exports")
else:
    st.caption("No exports yet.")
