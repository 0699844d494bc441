// The Label decision panel, browser side (protocol: protocol.py).
//
// Streamlit calls the default export again with every new `data`, on the same parentElement:
// the Panel object lives on that element and only takes the new data in. Keys are read on the
// window (capture phase), so they work whatever has focus except a text field. A decision is
// bound to the image painted on screen: it carries that image's id and queue position, and a
// decision key within MIN_LOOK_MS of the paint, or a key held down (event.repeat), does nothing.
// Every press waits in `outbox` (and in sessionStorage, so a reload resends it) until the
// server reports its outcome; the whole outbox is resent until then, and the server knows a
// resend by the press's id (`cid`). A press names what the tab had seen stand on the image
// (`seen`: the newest row's handle); when another tab decided there since, the server refuses
// it with what stands, and the panel shows that and asks for a second press. An idle panel
// asks again every `poll_ms`, so its images and counts follow the other tabs.
//
// `data.mode === "review"` (the Review page, review_protocol.py): the same panel over the
// disagreements — a press is an admin's verdict (no skip), carrying the item's `version` (the
// decisions shown); each annotator's opinion is drawn beside the image; `epoch` going up means
// the list changed and the panel starts again at `start`.
const RESEND_MS = 2000; // an unconfirmed press is sent again after this long
const STRIP = 8; // decisions shown in the strip
const GRID_AHEAD_IDLE_MS = 1500; // no key for this long: a grid page is read ahead
const CACHE = 120; // pictures kept in memory (the images around the cursor, two grid pages)
const STORE = "rostro.label.";
const DECISION_KEYS = new Set(["a", "1", "2", "3", "s"]);
const ALWAYS = new Set(["4", "5", "6", "7", "esc"]); // rule and tag digits come with the rules

const now = () => performance.timeOrigin + performance.now();
const newId = () => {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b); // also where crypto.randomUUID is missing (plain http)
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
};
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const words = (k) => String(k || "").replace(/_/g, " ");
const VERDICT = { accept: "accepted", reject: "rejected", skip: "skipped" };
const isTextField = (el) =>
  el && (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
    (el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit", "range", "color"]
      .includes((el.type || "text").toLowerCase())));

// Exposed for tests and the latency benchmark: when each image was painted, and each press.
window.__rostro = window.__rostro || { paints: [], presses: [], gridPaints: [], gridOpens: [] };

function keyName(e) {
  const digit = /^(?:Digit|Numpad)([1-7])$/.exec(e.code || "");
  if (digit) return digit[1];
  if (e.key === "?" || (e.code === "Slash" && e.shiftKey)) return "?";
  const k = (e.key || "").toLowerCase();
  const named = { backspace: "backspace", arrowleft: "left", arrowright: "right", escape: "esc",
    enter: "enter" };
  if (named[k]) return named[k];
  return /^[a-z]$/.test(k) ? k : null; // which letters count: the key table (and the grid's)
}

class Panel {
  constructor(root, setStateValue) {
    this.root = root;
    this.setStateValue = setStateValue;
    const q = (s) => root.querySelector(s);
    this.el = { fill: q(".rp-fill"), ptext: q(".rp-ptext"), flash: q(".rp-flash"),
      view: q(".rp-view"), grid: q(".rp-grid"), caption: q(".rp-caption"), hint: q(".rp-hint"), form: q(".rp-input"),
      opinions: q(".rp-opinions"),
      keys: q(".rp-keys"), strip: q(".rp-strip"), skipped: q(".rp-skipped"), help: q(".rp-help") };
    this.items = new Map(); // position → item, as the server last said
    this.pics = new Map(); // image id (or "full:id") → {src, img, ready, error}
    this.local = new Map(); // image id → the press not yet confirmed there (its verdict wins)
    this.decidedHere = new Set(); // image ids this tab decided (a grid page read earlier skips them)
    this.outbox = [];
    this.strip = [];
    this.cursor = null;
    this.user = null;
    this.mode = "label";
    this.epoch = null;
    this.data = null;
    this.tags = new Set();
    this.note = "";
    this.shown = null; // image id whose tags and note are current
    this.painted = { id: null, at: 0 };
    this.zoomed = false;
    this.skippedOpen = false;
    this.jump = null;
    this.seeded = false;
    this.nonce = 0;
    this.lastSent = 0;
    this.lastKey = now();
    this.onKey = (e) => this.key(e);
    window.addEventListener("keydown", this.onKey, true);
    this.timer = setInterval(() => this.resend(), 500);
    this.el.form.addEventListener("submit", (e) => { e.preventDefault(); this.submitInput(); });
    this.el.form.querySelector("input").addEventListener("keydown", (e) => {
      if (e.key === "Escape") { e.preventDefault(); this.closeInput(); }
      e.stopPropagation();
    });
  }

  destroy() {
    window.removeEventListener("keydown", this.onKey, true);
    clearInterval(this.timer);
  }

  // --- talking to the server --------------------------------------------------------------
  message() {
    return { cursor: this.cursor, outbox: this.outbox, have: [...this.pics.keys()],
      zoom: this.zoomed ? this.current()?.image_id ?? null : null, jump: this.jump,
      skipped_open: this.skippedOpen, seed: !this.seeded, grid: !!(this.gridWant || this.gridAsk),
      grid_not: this.gridWant ? [] : this.gridNot || [], nonce: this.nonce };
  }

  sendAfterPaint() {
    // A decision paints the next image first and talks to the server after that frame: the
    // message (Streamlit's state update, the socket) must not delay the paint. The outbox is
    // stored at once, so a reload in between still resends the press.
    this.persist();
    requestAnimationFrame(() => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => this.send();
      ch.port2.postMessage(0);
    });
  }

  send() {
    this.lastSent = now();
    this.persist();
    this.setStateValue("msg", this.message());
  }

  resend() {
    // Unconfirmed presses, an unanswered jump, or an image still missing at the cursor: ask
    // again (a message can be lost when the server restarts or the connection drops, and the
    // database may be away). Idle: ask every poll_ms, to hear of other tabs' decisions.
    const p = this.data?.progress;
    if (!p) return;
    const it = this.current();
    const missing = this.cursor !== null && this.cursor < p.total && !(it && this.pics.has(it.image_id));
    const since = now() - this.lastSent;
    if (this.mode === "label" && !this.gridOn && !this.gridNext && !this.gridAsk &&
        !this.outbox.length && now() - this.lastKey > GRID_AHEAD_IDLE_MS) {
      // A quiet moment (no key for a while, nothing waiting): read a grid page ahead for V,
      // where it can never delay a decision's confirmation.
      this.gridAsk = true;
      this.gridNot = [];
      this.send();
      return;
    }
    if (((this.outbox.length || this.jump || missing) && since > RESEND_MS) ||
        since > (this.data.poll_ms || 3000)) {
      this.nonce += 1;
      this.send();
    }
  }

  persist() {
    if (!this.user) return;
    try {
      sessionStorage.setItem(this.store(), JSON.stringify(
        { cursor: this.cursor, outbox: this.outbox }));
    } catch (_) { /* storage full or off: the outbox still lives in memory */ }
  }

  restore() {
    let saved = {};
    try { saved = JSON.parse(sessionStorage.getItem(this.store()) || "{}"); } catch (_) {}
    for (const m of saved.outbox || []) this.enqueue(m, m.name);
    return Number.isInteger(saved.cursor) ? saved.cursor : null;
  }

  store() {
    return STORE + (this.mode === "review" ? "review." : "") + this.user;
  }

  receive(data) {
    const first = this.data === null;
    this.data = data;
    if (first) {
      this.user = String(data.user);
      this.mode = data.mode || "label";
      this.epoch = data.epoch ?? null;
      this.buildKeys(data);
      const saved = this.restore();
      this.cursor = this.mode === "review" ? data.start : saved ?? data.start;
    } else if ((data.epoch ?? null) !== this.epoch) {
      this.epoch = data.epoch; // the list changed: start again where the server says
      this.items.clear();
      this.cursor = data.start;
    }
    for (const it of data.items || []) this.takeItem(it);
    for (const it of data.recent || []) this.takeItem(it, false);
    if (data.full?.src) this.addPic(`full:${data.full.image_id}`, data.full.src);
    if (data.grid) this.takeGrid(data.grid);
    this.settle(data.outcomes || {});
    if (data.recent && !this.seeded) {
      this.seeded = true;
      const known = new Set(this.strip.map((s) => s.image_id));
      const old = data.recent.filter((r) => !known.has(r.image_id)).map((r) => ({
        cid: null, row: r.row, kind: "decide", image_id: r.image_id, position: r.position,
        name: r.name, verdict: r.verdict, rule: r.rule, tags: r.tags, note: r.note,
        seconds: r.seconds, status: "ok" }));
      this.strip = [...old, ...this.strip].slice(-STRIP * 2);
    }
    if (data.moved && this.jump && data.moved.seq === this.jump.seq) {
      const to = this.jump.to;
      this.jump = null;
      if (data.moved.position === null) {
        this.hint(to === "skipped" ? "No skipped images." : "Nothing left undecided.");
      } else {
        this.go(data.moved.position);
      }
    }
    if (first) this.send();
    this.render();
  }

  takeItem(it, keep = true) {
    if ("src" in it || "error" in it) this.addPic(it.image_id, it.src, it.error);
    if (keep) this.items.set(it.position, it);
  }

  addPic(key, src, error) {
    if (this.pics.has(key) && !error) return;
    const pic = { src, error, ready: !!error, img: null };
    if (src) {
      pic.img = new Image();
      pic.img.decoding = "sync";
      pic.img.src = src;
      pic.img.decode().catch(() => {}).then(() => {
        pic.ready = true;
        if (this.current()?.image_id === key || key === `full:${this.current()?.image_id}`) {
          this.render();
        }
        if (this.gridOn && String(key).startsWith("tile:")) this.drawGrid();
      });
    }
    this.pics.delete(key);
    this.pics.set(key, pic);
    const near = new Set([...this.items.values()].filter((i) =>
      Math.abs(i.position - (this.cursor ?? 0)) < 20).map((i) => i.image_id));
    for (const s of this.strip) near.add(s.image_id);
    for (const t of [...(this.grid || []), ...(this.gridNext?.items || []),
      ...(this.gridIncoming?.items || [])]) {
      near.add(`tile:${t.image_id}`);
    }
    for (const k of this.pics.keys()) {
      if (this.pics.size <= CACHE) break;
      if (!near.has(k)) this.pics.delete(k);
    }
  }

  settle(outcomes) {
    const waiting = [];
    const replaced = [];
    for (const m of this.outbox) {
      const o = outcomes[m.cid];
      if (!o) { waiting.push(m); continue; }
      const entry = m.kind === "undo" ? this.strip.find((s) => s.undoCid === m.cid)
        : this.strip.find((s) => s.cid === m.cid);
      window.__rostro.presses.filter((p) => p.cid === m.cid).forEach((p) => {
        p.confirmed = now(); p.ok = o.ok;
      });
      const it = [...this.items.values()].find((i) => i.image_id === m.image_id);
      if (o.ok) {
        if (it) Object.assign(it, m.kind === "undo" ? { verdict: null, rule: null, tags: [], note: null }
          : { verdict: m.verdict, rule: m.rule, tags: m.tags, note: m.note, seconds: m.seconds });
        if (it && o.row) it.row = o.row;
        if (entry) entry.status = m.kind === "undo" ? "undone" : (entry.status === "pending" ? "ok" : entry.status);
        if (this.mode === "review") {
          this.hint(m.kind === "undo" ? `Undone: your verdict on ${m.name || entry?.name || ""} is withdrawn.`
            : `Recorded: ${this.what(m)} for ${entry?.name || m.image_id}.`, true);
        }
      } else {
        if (entry) {
          entry.status = m.kind === "undo" ? "ok" : "refused";
          entry.msg = o.msg;
        }
        this.hint(o.msg);
        if (o.standing) replaced.push([m, it, o.standing]);
      }
      if (this.local.get(m.image_id)?.cid === m.cid) this.local.delete(m.image_id);
    }
    this.outbox = waiting;
    this.persist();
    if (replaced.length) this.replacedElsewhere(replaced);

  }

  replacedElsewhere(replaced) {
    // Decided in another tab or device since this one heard: show what stands there, and let
    // the next press (which then names it as seen) replace it.
    for (const [m, it, st] of replaced) {
      if (this.local.get(m.image_id)?.cid === m.cid) this.local.delete(m.image_id);
      if (it) Object.assign(it, { verdict: st.verdict, rule: st.rule, tags: st.tags, row: st.row });
    }
    const [m, , st] = replaced[0];
    this.go(m.position, false);
    this.shown = null; // its tags come from what stands now
    this.render();
    this.hint(`#${m.position + 1} was decided in another tab or device since this one last heard: ` +
      `it stands as ${st.verdict ? this.what(st) : "undecided"}. Nothing was recorded; press a key ` +
      "again to replace it.");
  }

  // --- keys -------------------------------------------------------------------------------
  key(e) {
    if (!this.root.host?.isConnected && !this.root.isConnected) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (isTextField(e.composedPath()[0])) return;
    const k = keyName(e);
    if (!k || !this.data) return;
    this.lastKey = now();
    if (this.gridOn) {
      if (!(GRID_KEYS.includes(k) || ["enter", "esc", "?"].includes(k))) return;
      e.preventDefault();
      e.stopPropagation();
      this.gridKey(k, performance.timeOrigin + e.timeStamp, e.repeat);
      return;
    }
    if (!(this.acts.has(k) || ALWAYS.has(k))) return;
    e.preventDefault();
    e.stopPropagation();
    if (e.repeat) {
      if (DECISION_KEYS.has(k)) this.hint("A key held down counts once: press it again for the next image.");
      return;
    }
    this.act(k, performance.timeOrigin + e.timeStamp);
  }

  act(k, at) {
    const rules = this.data.rules, tags = this.data.tags;
    if (!(this.acts.has(k) || ALWAYS.has(k))) return undefined; // not a key of this mode
    if (this.mode === "review" && k === "f") return this.go(this.nextAfter(-1));
    if (k === "a") return this.decide("accept", null, at);
    if (k === "s") return this.decide("skip", null, at);
    if ("123".includes(k)) return this.decide("reject", rules[Number(k) - 1].key, at);
    if ("4567".includes(k)) return this.toggle(tags[Number(k) - 4].key);
    const acts = { backspace: () => this.undo(), left: () => this.go(this.cursor - 1),
      right: () => this.go(this.cursor + 1), n: () => this.openInput("note"),
      g: () => this.openInput("goto"), z: () => this.zoom(), "?": () => this.toggleHelp(),
      f: () => this.jumpTo("first"), j: () => this.jumpTo("skipped"),
      k: () => this.toggleSkipped(), esc: () => this.closeAll(), v: () => this.openGrid(at) };
    acts[k]?.();
  }

  current() {
    return this.cursor === null ? null : this.items.get(this.cursor) || null;
  }

  standing(it) {
    return this.local.has(it.image_id) ? this.local.get(it.image_id) : it;
  }

  decide(verdict, rule, at) {
    const it = this.current();
    if (!it || this.cursor >= (this.data.progress.total ?? 0)) return this.hint("No image here to decide.");
    if (this.painted.id !== it.image_id) return this.hint("The image is not on screen yet; nothing was recorded.");
    const ms = at - this.painted.at;
    const min = this.data.min_look_ms;
    if (ms < min) {
      return this.hint(`Too quick: this image was on screen for ${Math.max(0, Math.round(ms))} ms ` +
        `(a decision needs ${min} ms); nothing was recorded — look, then press again.`);
    }
    const m = { cid: newId(), kind: "decide", image_id: it.image_id, position: it.position,
      verdict, rule, tags: verdict === "skip" ? [] : [...this.tags].sort(),
      note: this.note.trim() || null, seconds: Math.round(ms) / 1000,
      seen: this.local.has(it.image_id) ? this.local.get(it.image_id).cid : it.row ?? "" };
    if (it.version) m.version = it.version;
    window.__rostro.presses.push({ cid: m.cid, image_id: it.image_id, position: it.position,
      pressed: at, verdict });
    this.decidedHere.add(it.image_id);
    this.enqueue(m, it.name);
    this.hint("");
    // After a grid page, its marked tiles come back one by one; then the queue goes on.
    const next = this.followUp?.length ? this.followUp.shift() : this.nextAfter(it.position);
    this.go(next, false);
    this.sendAfterPaint();
  }

  enqueue(m, name) {
    this.outbox.push(m);
    if (m.kind === "undo") {
      const target = this.strip.find((s) => s.image_id === m.image_id && s.status !== "undone" &&
        s.status !== "refused" && !s.undoCid) || null;
      if (target) { target.status = "undoing"; target.undoCid = m.cid; }
      this.local.set(m.image_id, { cid: m.cid, verdict: null, rule: null, tags: [], note: null });
    } else {
      this.strip.push({ ...m, name, status: "pending" });
      this.strip = this.strip.slice(-STRIP * 2);
      this.local.set(m.image_id, { cid: m.cid, verdict: m.verdict, rule: m.rule, tags: m.tags,
        note: m.note, seconds: m.seconds });
    }
  }

  undo() {
    const target = [...this.strip].reverse().find((s) => s.kind === "decide" &&
      (s.status === "ok" || s.status === "pending"));
    if (!target) return this.hint("Nothing to undo.");
    const m = { cid: newId(), kind: "undo", image_id: target.image_id,
      position: target.position, target: target.cid || target.row || "", name: target.name };
    target.status = "undoing";
    target.undoCid = m.cid;
    this.decidedHere.delete(target.image_id);
    this.outbox.push(m);
    this.local.set(m.image_id, { cid: m.cid, verdict: null, rule: null, tags: [], note: null });
    this.hint("");
    this.go(target.position, false);
    this.sendAfterPaint();
  }

  nextAfter(p) {
    // The next undecided position after p (as the server listed them, less what was decided
    // here since), else wrap to the first one left, else the end of the queue.
    const listed = new Set(this.data.undecided || []);
    const open = (pos) => {
      const it = this.items.get(pos);
      return it ? this.standing(it).verdict == null : listed.has(pos);
    };
    const cands = [...new Set([...listed, ...this.items.keys()])].filter(open).sort((a, b) => a - b);
    const after = cands.find((pos) => pos > p);
    if (after !== undefined) return after;
    if (!this.data.undecided_complete) return p + 1;
    return cands.find((pos) => pos < p) ?? this.data.progress.total;
  }

  go(pos, send = true) {
    const total = this.data.progress.total;
    this.cursor = Math.min(Math.max(pos, 0), total);
    this.zoomed = false;
    this.zoomMode = "fit";
    this.render();
    if (send) this.send();
  }

  toggle(tag) {
    if (!this.current()) return;
    if (this.tags.has(tag)) this.tags.delete(tag); else this.tags.add(tag);
    this.render();
  }

}

Object.assign(Panel.prototype, View, Grid); // the methods of view.js and grid.js

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  let panel = parentElement.__rostroPanel;
  if (!panel) {
    panel = new Panel(parentElement, setStateValue);
    parentElement.__rostroPanel = panel;
  }
  panel.setStateValue = setStateValue;
  panel.receive(data);
  // Streamlit calls this cleanup on unmount, and may call an older one while new data
  // arrives: only a panel whose element has left the page is torn down.
  return () => setTimeout(() => {
    const host = parentElement.host || parentElement;
    if (!host.isConnected && parentElement.__rostroPanel === panel) {
      panel.destroy();
      delete parentElement.__rostroPanel;
    }
  }, 0);
}
