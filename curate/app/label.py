"""Label: one image at a time, decided from the keyboard; the rules beside it.

Keys (shown on the buttons): A accept · 1/2/3 reject with the failed rule · 4–7 toggle a tag ·
S skip · Backspace undo · ←/→ browse. The decision panel is a fragment, so a key press reruns
only the panel. Callbacks write the decision before the panel redraws with the next image.
"""
import time

import streamlit as st

from curate import labeling
from curate.app.common import BUSY, UNREACHABLE, db_attempt, db_call, engine, require_login
from curate.decisions import DecisionError
from curate.display import display_image
from curate.imaging import BadImage
from curate.rules import NO_OTHER_FILTER_EN, NO_OTHER_FILTER_ES, RULES, TAGS

ACCEPT_KEY, SKIP_KEY, UNDO_KEY, BACK_KEY, FORWARD_KEY = "A", "S", "Backspace", "Left", "Right"
RULE_KEYS = ("1", "2", "3")  # RULES in order
TAG_KEYS = ("4", "5", "6", "7")  # TAGS in order
VERDICT_TEXT = {"accept": "accepted", "reject": "rejected", "skip": "skipped"}
FLASH_TEXT = {BUSY: "The database is busy; nothing was recorded. Press the key again.",
              UNREACHABLE: "The database could not be reached; nothing was recorded. Try again."}

user = require_login()
eng = engine()
ss = st.session_state
if "label_pos" not in ss:
    ss.label_pos = db_call(labeling.resume_position, eng, user.id)
    ss.label_tags = set()
    ss.label_item = None  # image id whose tags/timer are current
    ss.label_shown = time.monotonic()
    ss.label_flash = None
    ss.label_progress = None  # read from the database when None
    ss.label_count = 0  # decisions since the progress was read


def _moved_to(position: int) -> None:
    ss.label_pos = position
    ss.label_item = None  # tags and timer restart when the panel draws the new item


def _guarded(fn, *args):
    # A key press runs in a callback: a failure becomes the panel's message instead of
    # stopping the page (db_call would), and the cursor stays where it is.
    try:
        result, failure = db_attempt(fn, *args)
    except DecisionError as e:
        ss.label_flash = f"Not recorded: {e}"
        return None
    if failure is not None:
        ss.label_flash = FLASH_TEXT[failure]
    return result


def _decide(item: labeling.Item, verdict: str, rule: str | None = None) -> None:
    ss.label_flash = None
    seconds = round(time.monotonic() - ss.label_shown, 3)
    tags = sorted(ss.label_tags) if verdict in ("accept", "reject") else []
    if _guarded(labeling.decide, eng, user.id, item, verdict, rule, tags, seconds) is None:
        return
    _progressed(item.verdict, verdict)
    nxt = _guarded(labeling.next_position, eng, user.id, item.position)
    _moved_to(item.position + 1 if nxt is None else nxt)


def _progressed(old: str | None, new: str | None) -> None:
    ss.label_count += 1
    if ss.label_progress is not None and ss.label_count % labeling.PROGRESS_REFRESH:
        ss.label_progress = ss.label_progress.after(old, new)
    else:
        ss.label_progress = None


def _undo() -> None:
    ss.label_flash = None
    undone = _guarded(labeling.undo_last, eng, user.id)
    if undone is None:
        ss.label_flash = ss.label_flash or "Nothing to undo."
        return
    _progressed(undone.verdict, None)
    _moved_to(undone.position)


def _browse(delta: int, total: int) -> None:
    _moved_to(min(max(ss.label_pos + delta, 0), total))


def _toggle(tag: str) -> None:
    ss.label_tags ^= {tag}


def _rules_panel(spanish: bool) -> None:
    st.markdown("**Accept when all three hold**")
    for r, key in zip(RULES, RULE_KEYS):
        st.markdown(f"{r.id}. {r.text_en}", help=r.text_es)
        if spanish:
            st.caption(f"*{r.text_es}*")
    st.markdown("**Kept despite (tags, never a reason to reject)**")
    for t in TAGS:
        st.markdown(f"- {t.text_en}", help=t.text_es)
        if spanish:
            st.caption(f"*{t.text_es}*")
    st.caption(NO_OTHER_FILTER_ES if spanish else NO_OTHER_FILTER_EN)


@st.fragment
def panel() -> None:
    pos = ss.label_pos
    item, _upcoming = db_call(labeling.window, eng, user.id, pos)
    if ss.label_progress is None:
        ss.label_progress = db_call(labeling.progress, eng, user.id)
    prog = ss.label_progress
    if item is not None and ss.label_item != item.image_id:
        ss.label_item = item.image_id
        ss.label_tags = set(item.tags)
        ss.label_shown = time.monotonic()

    done = min(prog.decided, prog.total)
    st.progress(done / prog.total if prog.total else 1.0,
                text=f"**{done:,} of {prog.total:,}** decided · {prog.accepted:,} accepted"
                     + (f" · {prog.per_hour:,.0f} per hour at your pace · "
                        f"{labeling.format_duration(prog.seconds_left)} left"
                        if prog.per_hour else ""))
    if ss.label_flash:
        st.warning(ss.label_flash)

    left, right = st.columns([3, 2], gap="medium")
    with left:
        if item is None:
            if prog.total == 0:
                st.info("Your queue is empty. Ask your lead to assign you images.")
            elif prog.decided >= prog.total:
                st.success(f"Queue finished: all {prog.total:,} images decided. Thank you!")
            else:
                st.info("End of the queue. Some images are still undecided — press ← to go back, "
                        "or reload to jump to the first one left.")
        else:
            try:
                st.image(display_image(item.path), width="stretch")
            except BadImage as e:
                st.error(f"This image cannot be shown ({e}). You can still decide or skip it.")
            standing = (f" · you {VERDICT_TEXT[item.verdict]} it"
                        + (f" ({item.rule.replace('_', ' ')})" if item.rule else "")
                        if item.verdict else "")
            overlap = " · shared with another annotator" if item.is_overlap else ""
            st.caption(f"#{item.position + 1} · `{item.name}`{standing}{overlap}")

    with right:
        # No icons on these buttons: each one costs the browser a re-render on every key press.
        off = item is None
        st.button("Accept", key="accept", shortcut=ACCEPT_KEY, type="primary", disabled=off,
                  width="stretch", on_click=_decide, args=(item, "accept"))
        for r, key in zip(RULES, RULE_KEYS):
            st.button(f"Reject: {r.short}", key=f"reject_{r.key}", shortcut=key, disabled=off,
                      width="stretch", help=r.text_es, on_click=_decide,
                      args=(item, "reject", r.key))
        for t, key in zip(TAGS, TAG_KEYS):
            on = t.key in ss.label_tags
            st.button(f"{'☑' if on else '☐'} tag: {t.short}", key=f"tag_{t.key}", shortcut=key,
                      disabled=off, type="primary" if on else "secondary", width="stretch",
                      help=t.text_es, on_click=_toggle, args=(t.key,))
        st.button("Skip", key="skip", shortcut=SKIP_KEY, disabled=off, width="stretch",
                  on_click=_decide, args=(item, "skip"))
        st.button("Undo last decision", key="undo", shortcut=UNDO_KEY, width="stretch",
                  on_click=_undo)
        c3, c4 = st.columns(2)
        c3.button("Prev", key="back", shortcut=BACK_KEY, width="stretch", disabled=pos <= 0,
                  help="Show the previous image (decisions stay)", on_click=_browse,
                  args=(-1, prog.total))
        c4.button("Next", key="forward", shortcut=FORWARD_KEY, width="stretch",
                  disabled=pos >= prog.total, help="Show the next image (decisions stay)",
                  on_click=_browse, args=(1, prog.total))


main, side = st.columns([5, 2], gap="medium")
with main:
    panel()
with side:
    spanish = st.toggle("Show the Spanish originals", key="label_spanish")
    _rules_panel(spanish)
    st.caption("Keys: **A** accept · **1 2 3** reject (rule) · **4 5 6 7** tags · **S** skip · "
               "**Backspace** undo · **← →** browse")
