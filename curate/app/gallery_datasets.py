"""Datasets (admin): a paged thumbnail grid of the labeled images or of an export, filtered by
verdict, annotator, failed rule, tag and source; "Open" shows an image with its decisions and
attributes. Admins only: it shows everyone's decisions. Paging and filtering are done by
curate.gallery.datasets (SQL LIMIT/OFFSET, cached verdicts); thumbnails are cached on disk.
"""
import pandas as pd
import streamlit as st

from curate.app.common import db_call, engine, require_admin, workspace
from curate.app.text import plain
from curate.export import ExportError
from curate.gallery import datasets as gd
from curate.gallery import thumbs as gt
from trainers.common.sketch import MIN_VISIBLE_SIZE, too_small

COLUMNS = 6  # thumbnails per row; a page is gd.PAGE_SIZE (60) = 10 rows
ANY = "(any)"
DETAIL_PX = 512

require_admin()
st.title("Datasets", anchor=False)
eng, ws = engine(), workspace()

sets = {d.label: d for d in db_call(gd.datasets, eng)}
dataset = sets[st.selectbox("Dataset", list(sets), key="ds_set")]
if dataset.kind == "sketch_pairs" and dataset.size and too_small(dataset.size):
    st.warning(f"These pairs were made at {dataset.size} px: below {MIN_VISIBLE_SIZE} px the "
               "sketch effect leaves nothing to see, so each pair's sketch half is blank white.")
options = db_call(gd.filter_options, eng)
cols = st.columns(5)
chosen = {name: cols[i].selectbox(name.capitalize(), [ANY, *options[name]], key=f"ds_f_{name}")
          for i, name in enumerate(("verdict", "annotator", "rule", "tag", "source"))}
filters = gd.Filters(**{k: ("" if v == ANY else v) for k, v in chosen.items()})

signature = (dataset.id, filters)
if st.session_state.get("ds_sig") != signature:  # new filters: back to page 1, detail closed
    st.session_state["ds_sig"] = signature
    st.session_state["ds_page"] = 1
    st.session_state.pop("ds_open", None)


def _move(delta: int) -> None:
    st.session_state["ds_page"] = max(1, st.session_state.get("ds_page", 1) + delta)


def _open(tile) -> None:
    st.session_state["ds_open"] = tile


if filters.needs_verdicts and dataset.id == gd.LABELED:
    spinner = "Working out every image's verdict (once per change of the decisions)…"
else:
    spinner = "Loading…"
with st.spinner(spinner):
    try:
        page = db_call(gd.page_of, eng, dataset, filters, st.session_state.get("ds_page", 1))
    except (ExportError, OSError) as e:  # a crafted or unreadable manifest: nothing of it shown
        st.error(f"This export cannot be shown: {plain(e)}")
        st.stop()
st.session_state["ds_page"] = page.number

nav = st.columns([1, 1, 2, 6], vertical_alignment="center")
nav[0].button("Previous", icon=":material/chevron_left:", on_click=_move, args=(-1,),
              disabled=page.number <= 1, key="ds_prev")
nav[1].button("Next", icon=":material/chevron_right:", on_click=_move, args=(1,),
              disabled=page.number >= page.pages, key="ds_next")
nav[2].number_input("Page", 1, page.pages, key="ds_page", label_visibility="collapsed")
nav[3].caption(f"Page {page.number:,} of {page.pages:,} — items {page.first:,}–"
               f"{page.first + len(page.tiles) - 1 if page.tiles else 0:,} of {page.total:,}")

opened = st.session_state.get("ds_open")
if opened is not None:
    with st.container(border=True):
        left, right = st.columns([1, 2])
        left.image(gt.thumbnail(ws.thumbs_dir, opened.path, DETAIL_PX, opened.key),
                   caption=plain(opened.name), width="stretch")
        detail = db_call(gd.image_detail, eng, opened.image_id) if opened.image_id is not None else None
        with right:
            st.button("Close", icon=":material/close:", key="ds_close",
                      on_click=lambda: st.session_state.pop("ds_open", None))
            if detail is None:
                st.markdown(f"**{plain(opened.name)}** — source {plain(opened.source)} "
                            "(not in the database)")
            else:
                st.markdown(f"**#{detail['id']}** {plain(detail['source'] + '/' + detail['relpath'])} — "
                            f"{detail['size']} {detail['mode']}, {detail['file_size']:,} bytes"
                            + (" — **file missing**" if detail["missing"] else ""))
                verdict = detail["verdict"] + (f" ({detail['rule']})" if detail["rule"] else "")
                st.markdown(f"Verdict: **{plain(verdict)}** {plain(detail['provenance'])}"
                            + (f" — tags: {plain(', '.join(detail['tags']))}"
                               if detail["tags"] else ""))
                if detail["history"]:
                    st.dataframe(pd.DataFrame(detail["history"]), hide_index=True)
                else:
                    st.caption("No decisions yet.")
                if detail["attributes"]:
                    st.caption("Attributes: " + plain(", ".join(detail["attributes"])))

if not page.tiles:
    st.info("Nothing matches these filters.")
    st.stop()

verdicts = db_call(gd.verdict_captions, eng, page.tiles)
images = gt.thumbnails(ws.thumbs_dir, [(t.path, t.key) for t in page.tiles])
grid = st.columns(COLUMNS)
for i, (tile, image) in enumerate(zip(page.tiles, images)):
    with grid[i % COLUMNS]:
        label = tile.name if tile.image_id not in verdicts else f"{tile.name} · {verdicts[tile.image_id]}"
        st.image(image, caption=plain(label), width="stretch")
        st.button("Open", key=f"ds_open_{i}", on_click=_open, args=(tile,), width="stretch")
