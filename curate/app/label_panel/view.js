// The Label panel's view: what it shows for the state panel.js keeps, and the view's own
// interactions (zoom, jumps, the skipped list, the note and go-to fields). Loaded
// in one module with panel.js (label_panel/__init__.py joins the files), whose Panel class
// takes these methods; `this` is the Panel.
const View = {
  // --- view interactions (zoom, jumps, the skipped list, the note and go-to fields) ------
  zoom() {
    // Z: fit → enlarged (the full-resolution picture filling the panel, at least twice the
    // fitted size, smooth, scrollable) → 1:1 pixels (centred) → fit.
    if (!this.current()) return;
    this.zoomMode = { fit: "fill", fill: "actual", actual: "fit" }[this.zoomMode || "fit"];
    this.zoomed = this.zoomMode !== "fit";
    this.render();
    if (this.zoomed && !this.pics.has(`full:${this.current().image_id}`)) this.send();
  },

  jumpTo(to) {
    this.jump = { seq: (this.jump?.seq ?? Math.floor(now())) + 1, to };
    this.send();
  },

  toggleHelp() { this.el.help.hidden = !this.el.help.hidden; },

  toggleSkipped() {
    this.skippedOpen = !this.skippedOpen;
    this.render();
    this.send();
  },

  closeAll() {
    this.el.help.hidden = true;
    this.closeInput();
    if (this.skippedOpen) this.toggleSkipped();
  },

  openInput(kind) {
    const it = this.current();
    if (kind === "note" && !it) return;
    const input = this.el.form.querySelector("input");
    this.el.form.dataset.kind = kind;
    this.el.form.querySelector("label").textContent = kind === "note"
      ? `Note on #${it.position + 1} (Enter keeps it, Esc cancels)` : "Go to # (Enter)";
    input.value = kind === "note" ? this.note : "";
    this.el.form.hidden = false;
    input.focus();
  },

  closeInput() {
    this.el.form.hidden = true;
    this.el.form.querySelector("input").blur();
  },

  submitInput() {
    const value = this.el.form.querySelector("input").value;
    const kind = this.el.form.dataset.kind;
    this.closeInput();
    if (kind === "note") {
      this.note = value.trim();
      this.hint(this.note ? "Note kept: it is saved with your next decision on this image." : "");
      this.render();
    } else {
      const n = parseInt(value, 10);
      if (Number.isInteger(n) && n >= 1) this.go(n - 1);
    }
  },

  // --- drawing --------------------------------------------------------------------------
  hint(text, ok = false) {
    this.el.hint.textContent = text;
    this.el.hint.classList.toggle("ok", ok && !!text);
  },

  what(s) {
    return `${VERDICT[s.verdict] || s.verdict}${s.rule ? ` (${words(s.rule)})` : ""}` +
      `${(s.tags || []).length ? ` · ${s.tags.map(words).join(", ")}` : ""}`;
  },

  // --- drawing ----------------------------------------------------------------------------
  render() {
    const d = this.data;
    const p = d.progress;
    this.el.fill.style.width = `${p.total ? (100 * p.decided) / p.total : 100}%`;
    this.el.ptext.innerHTML = `<b>${esc(p.text)}</b>${p.pace ? ` · ${esc(p.pace)}` : ""}` +
      (this.outbox.length ? ` · ${this.outbox.length} waiting for the server` : "");
    this.el.flash.hidden = !d.flash;
    this.el.flash.textContent = d.flash || "";
    const it = this.cursor < p.total ? this.current() : null;
    if (this.cursor !== null && this.cursor < p.total && !(it && this.pics.has(it.image_id)) &&
        now() - (this.askedAt || 0) > 1000) {
      this.askedAt = now(); // the server sends what is missing for the cursor
      this.send();
    }
    if (it && this.shown !== it.image_id) {
      const st = this.standing(it);
      this.shown = it.image_id;
      this.tags = new Set(st.tags || []);
      this.note = st.note || "";
    }
    this.drawView(it);
    this.drawGrid();
    this.drawCaption(it);
    this.drawKeys(it);
    this.drawStrip();
    this.drawSkipped();
  },

  drawView(it) {
    const view = this.el.view;
    const p = this.data.progress;
    const pic = it && this.pics.get(it.image_id);
    const full = it && this.zoomed && this.pics.get(`full:${it.image_id}`);
    const use = full && full.ready && full.img ? full : pic;
    const mode = this.zoomed ? this.zoomMode : "fit";
    view.classList.toggle("fill", mode === "fill");
    view.classList.toggle("actual", mode === "actual");
    if (it && use && use.ready && use.img) {
      if (!view.contains(use.img)) {
        use.img.className = "rp-current";
        use.img.alt = it.name;
        use.img.draggable = false;
        view.replaceChildren(use.img);
        this.markPainted(it, use.img);
      }
      this.size(view, use.img, mode);
      return;
    }
    let text;
    if (it && pic && pic.error) {
      text = pic.error;
    } else if (this.cursor === null || it) {
      text = `Loading${this.cursor === null ? "" : ` #${this.cursor + 1}`}…`;
    } else if (this.cursor < p.total) {
      text = `Loading #${this.cursor + 1}…`;
    } else if (p.total === 0) {
      text = p.empty_text || "Your queue is empty. Ask your lead to assign you images.";
    } else if (p.end_text && !p.finished) {
      text = p.end_text;
    } else if (p.finished) {
      text = p.done_text || `Queue finished: all ${p.total.toLocaleString()} images decided. Thank you!`;
    } else {
      text = `End of the queue — not finished: ${p.skipped} skipped and ${p.total - p.decided} ` +
        "undecided. Press F for the first undecided image, J for the next skipped one.";
    }
    if (view.dataset.text !== text || view.querySelector("img")) {
      view.dataset.text = text;
      view.innerHTML = `<div class="rp-msg">${esc(text)}</div>`;
    }
    if (it && pic && pic.error && this.painted.id !== it.image_id) this.markPainted(it, null);
    if (!it || !pic || !pic.error) this.painted = { id: null, at: 0 };
  },

  size(view, img, mode) {
    const tag = view.querySelector(".rp-zoomtag");
    if (mode === "fit") {
      img.style.width = img.style.height = "";
      tag?.remove();
      return;
    }
    const nw = img.naturalWidth || 1, nh = img.naturalHeight || 1;
    const vw = view.clientWidth, vh = view.clientHeight;
    const fit = Math.min(vw / nw, vh / nh);
    const scale = mode === "actual" ? 1 : Math.max(vw / nw, vh / nh, 2 * fit);
    const w = Math.round(nw * scale), h = Math.round(nh * scale);
    if (img.style.width !== `${w}px`) {
      img.style.width = `${w}px`;
      img.style.height = `${h}px`;
      img.style.marginTop = h < vh ? `${Math.round((vh - h) / 2)}px` : "0";
      view.scrollLeft = Math.max(0, (w - vw) / 2);
      view.scrollTop = Math.max(0, (h - vh) / 3); // faces sit in the upper middle
    }
    const text = mode === "actual" ? "1:1 · Z: fit" : `${scale.toFixed(1)}× · Z: 1:1`;
    if (!tag) {
      view.insertAdjacentHTML("afterbegin", `<span class="rp-zoomtag">${esc(text)}</span>`);
    } else if (tag.textContent !== text) {
      tag.textContent = text;
    }
  },

  markPainted(it, img) {
    this.painted = { id: null, at: 0 };
    // After the frame that shows the image: rAF runs before the paint, the message after it.
    requestAnimationFrame(() => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        if (this.current()?.image_id !== it.image_id) return;
        const at = now();
        this.painted = { id: it.image_id, at };
        if (img) img.dataset.paintedAt = String(at);
        window.__rostro.paints.push({ image_id: it.image_id, position: it.position, name: it.name, at });
      };
      ch.port2.postMessage(0);
    });
  },

  drawCaption(it) {
    this.drawOpinions(it);
    if (this.gridOn) {
      const n = this.grid?.length ?? 0, marked = this.gridMarks?.size ?? 0;
      this.el.caption.textContent = this.grid ? `Grid page: ${n} tiles · ${marked} marked not ` +
        `accepted · Enter accepts ${n - marked}` : "Grid page: loading…";
      return;
    }
    if (!it) { this.el.caption.textContent = ""; return; }
    const st = this.standing(it);
    const pending = this.local.has(it.image_id) ? " (waiting for the server)" : "";
    if (this.mode === "review") {
      let text = `#${it.position + 1} of ${this.data.progress.total} · <code>${esc(it.name)}</code> · `;
      text += st.verdict ? `settled: <b>${esc(this.what(st))}</b>${pending || (it.settled_by ?
        ` by ${esc(it.settled_by)}` : "")} — a new verdict replaces it (the old one is kept)` : "open";
      if (this.note) text += ` · your note: “${esc(this.note)}”`;
      this.el.caption.innerHTML = text;
      return;
    }
    let text = `#${it.position + 1} · <code>${esc(it.name)}</code>`;
    if (st.verdict) {
      text += ` · you ${VERDICT[st.verdict]} it${st.rule ? ` (${esc(words(st.rule))})` : ""}${pending}`;
    }
    if (it.overlap) text += " · shared with another annotator";
    if (this.note) text += ` · note: “${esc(this.note)}”`;
    this.el.caption.innerHTML = text;
  },

  drawOpinions(it) {
    const box = this.el.opinions;
    box.hidden = this.mode !== "review" || !it;
    if (box.hidden) return;
    box.innerHTML = (it.opinions || []).map((o) => `<div class="opinion"><b>${esc(o.annotator)}</b>` +
      `<div class="verdict ${esc(o.verdict)}">${esc(this.what({ ...o, tags: [] }))}</div>` +
      ((o.tags || []).length ? `<div class="tags">tags: ${esc(o.tags.map(words).join(", "))}</div>` : "") +
      (o.note ? `<div class="note">note: ${esc(o.note)}</div>` : "") +
      (o.seconds != null ? `<div class="secs">${Number(o.seconds).toFixed(1)} s to decide</div>` : "") +
      "</div>").join("");
  },

  buildKeys(d) {
    // The buttons and the help come from the server's key table (keys.py), written once.
    this.acts = new Set(d.keys.map((k) => k.act));
    const b = (k) => `<button tabindex="-1" class="${k.act === "a" ? "primary" : ""}" ` +
      `data-act="${esc(k.act)}" title="${esc(k.does)}"><kbd>${esc(k.shown)}</kbd> ${esc(k.button)}</button>`;
    const withTag = (k) => {
      const tag = d.tags.find((t) => t.digit === k.act);
      return tag ? b(k).replace("<button", `<button data-tag="${esc(tag.key)}"`) : b(k);
    };
    const buttons = d.keys.filter((k) => k.button);
    const nav = buttons.filter((k) => k.group === "nav");
    const rows = [];
    for (let i = 0; i < nav.length; i += 2) {
      rows.push(`<div class="row">${nav.slice(i, i + 2).map(b).join("")}</div>`);
    }
    this.el.keys.innerHTML = [...buttons.filter((k) => k.group !== "nav").map(withTag), ...rows].join("");
    const seen = new Set();
    const lines = d.keys.filter((k) => !seen.has(k.act) && seen.add(k.act))
      .map((k) => `<kbd>${esc(k.shown)}</kbd> ${esc(k.does)}`);
    this.el.help.innerHTML = "<b>Keys</b> (upper or lower case; not while typing in a text field) " +
      "<button tabindex=\"-1\" class=\"rp-close\" data-close=\"help\">Close <kbd>Esc</kbd></button>" +
      `<ul>${lines.map((l) => `<li>${l}</li>`).join("")}</ul>` +
      `A decision key counts only once the image has been on screen for ${Number(d.min_look_ms)} ms; ` +
      "a key held down counts once.";
    this.el.help.querySelector(".rp-close").onclick = () => this.closeAll();
    // Buttons never take focus, so Space or Enter can never press one by accident.
    this.el.keys.addEventListener("mousedown", (e) => e.preventDefault());
    this.el.keys.addEventListener("click", (e) => {
      const btn = e.target.closest("button");
      if (this.gridOn && btn?.dataset.act !== "?") return; // the grid takes its own keys
      if (btn && !btn.disabled) this.act(btn.dataset.act, now());
    });
  },

  drawKeys(it) {
    for (const btn of this.el.keys.querySelectorAll("button")) {
      const act = btn.dataset.act;
      if ("a123s4567nz".includes(act) && act.length === 1) btn.disabled = !it;
      if (btn.dataset.tag) {
        const on = this.tags.has(btn.dataset.tag);
        btn.classList.toggle("on", on);
        btn.setAttribute("aria-pressed", on ? "true" : "false");
      }
      if (act === "k") btn.lastChild.textContent = ` Skipped (${this.data.progress.skipped})`;
    }
  },

  drawStrip() {
    const shown = this.strip.slice(-STRIP);
    const strip = this.el.strip;
    this.el.strip.innerHTML = shown.map((s, k) => {
      const pic = this.pics.get(s.image_id) || this.pics.get(`tile:${s.image_id}`);
      const state = { pending: "sending…", ok: "saved", refused: "NOT recorded", undoing: "undoing…",
        undone: "undone" }[s.status];
      const what = this.what(s);
      return `<div class="entry ${s.status}${s.position === this.cursor ? " here" : ""}" data-k="${k}"` +
        ` title="${esc(s.msg || s.name)}">${pic?.src ? `<img alt="" src="${pic.src}">` : ""}` +
        `#${s.position + 1} ${esc(what)}<br><i>${state}</i></div>`;
    }).join("");
    for (const div of strip.querySelectorAll(".entry")) {
      div.onclick = () => this.go(shown[Number(div.dataset.k)].position);
    }
    strip.scrollLeft = strip.scrollWidth; // the newest entry stays in view
  },

  drawSkipped() {
    const box = this.el.skipped;
    box.hidden = !this.skippedOpen;
    if (!this.skippedOpen) return;
    const list = this.data.skipped;
    box.innerHTML = '<button tabindex="-1" class="rp-close">Close <kbd>Esc</kbd></button>' +
      (!list ? "Loading the skipped images…" : !list.length ? "No skipped images." :
        `<b>Skipped (${this.data.progress.skipped})</b>: ` +
        list.map(([pos, name]) => `<a data-pos="${pos}" title="${esc(name)}">#${pos + 1}</a>`).join(""));
    box.querySelector(".rp-close").onclick = () => this.closeAll();
    for (const a of box.querySelectorAll("a")) {
      a.onclick = () => { this.toggleSkipped(); this.go(Number(a.dataset.pos)); };
    }
  },
};
