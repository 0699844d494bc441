"""Admin → Triage: train the ranker in a worker process, watch its progress and figures, and
let queues top themselves up (curate.triage). Nothing here imports torch."""
from __future__ import annotations

import streamlit as st

from curate.app.common import db_call
from curate.triage import auto, job, store
from curate.triage.config import TriageError
from curate.workspace import Workspace


def _pct(x) -> str:
    return "—" if not isinstance(x, (int, float)) else f"{100 * x:.0f} %"


def _num(x, spec=".3f") -> str:
    return "—" if not isinstance(x, (int, float)) else format(x, spec)


def figures_table(figures: dict) -> None:
    """The held-out figures of a model as a small table, and its calibration by bin."""
    st.dataframe([
        {"figure": "held-out images (accepted)",
         "value": f"{figures.get('held_out', '—')} ({figures.get('held_out_accepts', '—')})"},
        {"figure": "AUC of p(accept)", "value": _num(figures.get("auc"))},
        {"figure": "accepted among the top-scored (as many as accepted)",
         "value": _pct(figures.get("precision_top_accepts"))},
        {"figure": "accepted among the top 10 %", "value": _pct(figures.get("precision_top_decile"))},
        {"figure": "calibration error (ECE)",
         "value": _num((figures.get("calibration") or {}).get("ece"))},
        {"figure": "training time", "value": _num(figures.get("train_seconds"), ".1f") + " s"},
    ], hide_index=True, width="stretch")
    bins = (figures.get("calibration") or {}).get("bins") or []
    if bins:
        st.caption("Calibration on the held-out images: predicted p(accept) against the share "
                   "the team accepted.")
        st.dataframe([{"predicted": f"{b.get('from', 0):.1f}–{b.get('to', 0):.1f}",
                       "images": b.get("n"), "mean p": _num(b.get("p"), ".2f"),
                       "accepted": _num(b.get("observed"), ".2f")}
                      for b in bins if isinstance(b, dict)], hide_index=True, width="stretch")


@st.fragment(run_every=1.0)
def _progress(ws: Workspace, shown_version: int) -> None:
    status = job.read_status(ws)
    if (status.state == "done" and status.version > shown_version
            and st.session_state.get("triage_shown_after") != status.version):
        # A model newer than the one the page shows: run the page again to show its figures
        # (once per model, so a model that cannot be read back never loops).
        st.session_state["triage_shown_after"] = status.version
        st.rerun()
    if status.state == "running":
        what = {"load": "loading the decided images", "train": "training",
                "score": "scoring every image"}.get(status.phase, "starting")
        st.progress(status.fraction, text=f"{what}: {status.done:,} / {status.total:,}")
    elif status.state == "done":
        st.success(f"Model {status.version} trained.")
        st.text(status.message)  # text, never markdown
    elif status.state in ("failed", "stopped"):
        st.error("The last training did not finish.")
        st.text(status.message)


def render(eng, ws: Workspace) -> None:
    st.caption("Two small networks learn from the team's standing verdicts (adjudications win; "
               "skips, undone and disputed images are left out) which faces are likely accepts, "
               "then score every image (the mean of the two). `Assign queues` with order "
               "`model` shows the likeliest first, with a share drawn at random so the model "
               "keeps seeing the whole pool. It trains in a worker process, never in the app's "
               "server.")
    info = db_call(store.latest_model, eng)
    if info is None:
        st.info("No model yet. Train one once the team has decided at least 50 images, with "
                "accepts and rejects among them.")
    else:
        st.text(f"Model {info.version}, trained {info.trained_at:%Y-%m-%d %H:%M} UTC on "
                    f"{info.decisions_used:,} decided images ({info.device}); "
                    f"{info.scored:,} images carry its scores.")
        figures_table(info.figures)
    running = job.is_running(ws)
    if st.button("Train now", type="primary", key="triage_train", disabled=running,
                 help="learn from every decision made so far, then score every image"):
        try:
            started = job.start(ws)
        except TriageError as e:
            st.error(str(e))
        else:
            if started:
                st.toast("Training started in a worker process.")
            else:
                st.warning("A training is already running.")
    _progress(ws, info.version if info else 0)

    st.subheader("Queues that top themselves up", anchor=False)
    cfg = db_call(auto.settings, eng)
    with st.form("triage_auto"):
        enabled = st.toggle("On", value=cfg.enabled, key="auto_enabled")
        c1, c2, c3 = st.columns(3)
        k = c1.number_input("Retrain after this many new decided images", 1, 1_000_000,
                            cfg.retrain_every, step=100, key="auto_k")
        m = c2.number_input("Top up a queue with fewer undecided images than", 0, 1_000_000,
                            cfg.top_up_below, step=50, key="auto_m")
        n = c3.number_input("by this many images (model order)", 1, 100_000, cfg.top_up_by,
                            step=100, key="auto_n")
        explore = st.number_input("Explore share (drawn at random)", 0.0, 1.0, cfg.explore,
                                  step=0.05, key="auto_explore")
        if st.form_submit_button("Save"):
            try:
                db_call(auto.save_settings, eng, auto.AutoSettings(
                    enabled=enabled, retrain_every=int(k), top_up_below=int(m),
                    top_up_by=int(n), overlap=cfg.overlap, explore=float(explore)))
            except ValueError as e:
                st.error(str(e))
            else:
                st.success("Saved. The server checks every 30 s.")
