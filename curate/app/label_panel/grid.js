// The grid view (V, Label mode): a page of tiles from the undecided queue, likeliest accepts
// first (curate/grid.py). A tile's key or a click marks it *not accepted*; Enter accepts every
// unmarked tile with no tags — only once the whole page has been painted for look_ms_per_tile
// per tile, and a held Enter counts once — and the marked ones come back one by one in the
// single view, to be decided with their rule. Esc leaves the grid without deciding. Each
// decision is an ordinary press (id, queue position, `seen`) with `via: "grid"`; its seconds
// are the page's look time shared among the tiles; a page's presses are recorded together, in
// one transaction. The next page is asked for ahead of time (in a quiet moment of the single
// view, and as soon as a page is shown, without that page's tiles), its pictures decoded, so
// V paints it at once; a tile decided since (here, or in another tab: `seen`) is not offered or
// not recorded. Loaded with view.js and panel.js.
const GRID_KEYS = "1234qwerasdfzxcv";

const Grid = {
  openGrid(at) {
    if (this.mode !== "label") return;
    window.__rostro.gridOpens.push(at ?? now()); // the benchmark times V → page painted
    this.gridOn = true;
    this.grid = null;
    this.gridPaintedAt = null;
    this.zoomed = false;
    this.closeAll();
    const ahead = this.gridNext;
    this.gridNext = null;
    if (ahead && ahead.items.some((t) => this.stillOpen(t))) {
      this.showGrid(ahead); // and asks for the page after it
    } else {
      this.gridWant = true;
      this.drawGrid();
      this.send();
    }
  },

  stillOpen(t) {
    // Not decided since the page was read, as far as this tab knows.
    if (this.local.has(t.image_id) || this.decidedHere.has(t.image_id)) return false;
    const it = this.items.get(t.position);
    return !it || it.image_id !== t.image_id || this.standing(it).verdict == null;
  },

  closeGrid() {
    this.gridOn = false;
    this.gridWant = false;
    this.grid = null;
    this.gridPaintedAt = null;
    this.el.grid.hidden = true;
    this.el.grid.replaceChildren();
    this.el.view.hidden = false;
    this.render();
  },

  takeGrid(g) {
    if (!g) return;
    this.gridAsk = false;
    this.gridIncoming = g; // its pictures are kept while the cache makes room
    for (const t of g.items) {
      if ("src" in t || "error" in t) this.addPic(`tile:${t.image_id}`, t.src, t.error);
    }
    this.gridIncoming = null;
    if (this.gridOn && this.gridWant) {
      this.gridWant = false;
      this.showGrid(g);
    } else {
      this.gridNext = g; // shown at the next V
    }
  },

  showGrid(g) {
    // What this tab decided meanwhile is not offered again.
    this.grid = g.items.filter((t) => this.stillOpen(t)).slice(0, GRID_KEYS.length);
    // The next page, read ahead while this one is looked at: without this page's tiles.
    this.gridNot = this.grid.map((t) => t.position);
    this.gridAsk = true;
    this.sendAfterPaint();
    this.gridLook = Number(g.look_ms_per_tile) || 100;
    this.gridOrder = g.order;
    this.gridMarks = new Set();
    this.gridPaintedAt = null;
    this.drawGrid();
  },

  drawGrid() {
    const box = this.el.grid;
    this.el.view.hidden = this.gridOn;
    box.hidden = !this.gridOn;
    if (!this.gridOn) return;
    if (!this.grid) {
      if (!box.querySelector(".rp-msg")) box.innerHTML = '<div class="rp-msg">Loading a grid page…</div>';
      return;
    }
    if (!this.grid.length) {
      box.innerHTML = '<div class="rp-msg">Nothing left undecided for a grid page. Esc goes back.</div>';
      return;
    }
    const pics = this.grid.map((t) => this.pics.get(`tile:${t.image_id}`));
    if (!pics.every((p) => p && p.ready)) {
      box.innerHTML = `<div class="rp-msg">Loading ${this.grid.length} tiles…</div>`;
      return; // addPic renders again as each picture is decoded
    }
    if (box.querySelector(".tile")) {
      for (const div of box.querySelectorAll(".tile")) {
        div.classList.toggle("marked", this.gridMarks.has(Number(div.dataset.k)));
      }
      return;
    }
    box.replaceChildren(...this.grid.map((t, k) => {
      const div = document.createElement("div");
      div.className = "tile";
      div.dataset.k = String(k);
      const pic = pics[k];
      if (pic.img) {
        const img = pic.img; // decoded already: painted in the same frame as the others
        img.alt = t.name;
        img.draggable = false;
        div.append(img);
      } else {
        div.insertAdjacentHTML("beforeend", `<div class="rp-msg">${esc(pic.error || "")}</div>`);
      }
      div.insertAdjacentHTML("beforeend", `<kbd>${esc(GRID_KEYS[k].toUpperCase())}</kbd>` +
        '<span class="no">not accepted</span>');
      div.onclick = () => this.markTile(k);
      return div;
    }));
    const shown = this.grid;
    requestAnimationFrame(() => { // after the frame that shows every tile
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        if (this.grid !== shown) return;
        this.gridPaintedAt = now();
        for (const t of shown) {
          window.__rostro.gridPaints.push({ image_id: t.image_id, position: t.position,
            name: t.name, at: this.gridPaintedAt });
        }
      };
      ch.port2.postMessage(0);
    });
    this.hint(`Grid: ${shown.length} likely accepts (${this.gridOrder === "triage" ? "triage model" :
      this.gridOrder === "attributes" ? "CelebA attributes" : "queue order"}). Mark any that is not ` +
      "an accept with its key or a click, then Enter accepts the rest; Esc leaves.");
  },

  markTile(k) {
    if (!this.grid || k >= this.grid.length) return;
    if (this.gridMarks.has(k)) this.gridMarks.delete(k); else this.gridMarks.add(k);
    this.drawGrid();
    this.drawCaption(null);
  },

  gridKey(k, at, repeat) {
    if (k === "esc") return this.closeGrid();
    if (k === "?") return this.toggleHelp();
    if (repeat) {
      if (k === "enter") this.hint("A key held down counts once: the grid page was confirmed once.");
      return undefined;
    }
    if (k === "enter") return this.confirmGrid(at);
    const tile = GRID_KEYS.indexOf(k);
    if (tile >= 0) this.markTile(tile);
    return undefined;
  },

  confirmGrid(at) {
    const tiles = this.grid;
    if (!tiles || !tiles.length || this.gridPaintedAt === null) {
      return this.hint("The grid page is not on screen yet; nothing was recorded.");
    }
    const ms = at - this.gridPaintedAt;
    const need = this.gridLook * tiles.length;
    if (ms < need) {
      return this.hint(`Too quick: these ${tiles.length} tiles were on screen for ` +
        `${Math.max(0, Math.round(ms))} ms (a grid page needs ${need} ms, ${this.gridLook} ms a ` +
        "tile); nothing was recorded — look, then press Enter again.");
    }
    const seconds = Math.round(ms / tiles.length) / 1000;
    const marked = [];
    tiles.forEach((t, k) => {
      if (this.gridMarks.has(k)) { marked.push(t.position); return; }
      const m = { cid: newId(), kind: "decide", image_id: t.image_id, position: t.position,
        verdict: "accept", rule: null, tags: [], note: null, seconds, via: "grid",
        seen: this.local.has(t.image_id) ? this.local.get(t.image_id).cid : t.row ?? "" };
      window.__rostro.presses.push({ cid: m.cid, image_id: t.image_id, position: t.position,
        pressed: at, verdict: "accept", via: "grid" });
      this.enqueue(m, t.name);
      this.decidedHere.add(t.image_id);
    });

    this.followUp = [...marked].sort((a, b) => a - b);
    this.closeGrid();
    const accepted = tiles.length - marked.length;
    if (marked.length) {
      this.go(this.followUp.shift(), false);
      this.hint(`${accepted} accepted from the grid. ${marked.length} marked: decide each here ` +
        "with its rule (1 2 3), or A / S.");
    } else {
      this.go(this.nextAfter(this.cursor ?? -1), false);
      this.hint(`${accepted} accepted from the grid. V for the next page.`);
    }
    this.sendAfterPaint();
    return undefined;
  },
};
