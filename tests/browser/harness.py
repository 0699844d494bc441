"""Drive the real app in headless Chromium (Debian's /usr/bin/chromium, via Playwright).

`serve(workspace)` starts `streamlit run streamlit_app.py` on 127.0.0.1 (a free port) for a
workspace; `open_browser()` launches Chromium; `login()` and `press()` act from the keyboard
only. Used by tests/browser/ and by benchmarks/label_latency.py --browser. Never downloads a
browser: without /usr/bin/chromium, `chromium_missing()` says why.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from tests.helpers import REPO  # the browser tests also read it as harness.REPO
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 60
STEP_TIMEOUT_MS = 15_000
IMAGE = "img.rp-current"  # the Label panel's image (its alt is the image's source/relpath)
SERVERS: dict = {}  # base URL → the running server's Popen (for memory figures)
LOCAL = {"127.0.0.1", "localhost"}  # the hosts a page may ask (watch_outside)


def chromium_missing() -> str | None:
    """Why a browser test cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: apt-get install chromium chromium-driver (.ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(workspace: Path, database_url: str | None = None) -> Iterator[str]:
    """Run the app for `workspace` on 127.0.0.1; yields its base URL; stops it afterwards."""
    port = _free_port()
    env = dict(os.environ, ROSTRO_WORKSPACE=str(workspace))
    if database_url:
        env["ROSTRO_DATABASE_URL"] = database_url
    log = open(Path(workspace) / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--client.showErrorDetails", "none", "--runner.postScriptGC", "false"],  # as `curate serve`
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    SERVERS[url] = proc
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        SERVERS.pop(url, None)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def open_browser():
    """A Playwright page in headless Chromium (the system's, never a downloaded one)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(STEP_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def type_log_in(page, name: str, password: str) -> None:
    """On the log-in form: type the name, Tab, the password, Enter (and wait for nothing)."""
    page.get_by_label("Name").focus()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def login(page, url: str, name: str, password: str) -> None:
    """Type the name, Tab, the password, Enter — then wait for the Label page."""
    page.goto(url)
    type_log_in(page, name, password)
    page.locator(IMAGE).wait_for()
    page.locator("body").focus()


def log_in_as(page, url: str, name: str, password: str) -> None:
    """Fill the log-in form and wait until the app says who is logged in (for a user with no
    Label queue, e.g. an admin: `login` waits for the Label panel's image instead)."""
    page.goto(url)
    page.get_by_label("Name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_text("Logged in as").wait_for()
    settled(page)  # "/" moves on to the role's first page in a second run: let it land first


def watch_outside(page) -> list[str]:
    """Refuse every request of `page` to a host other than this machine; returns the list the
    refused URLs are added to (a test asserts it stays empty)."""
    outside: list[str] = []

    def route(r):
        u = urlparse(r.request.url)
        if u.scheme in ("data", "blob") or u.hostname in LOCAL:
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    return outside


def settled(page) -> None:
    """Wait until the page's script run has finished (Streamlit's status widget is gone), so a
    click that follows is not overtaken by a run still under way."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=30_000)
    page.wait_for_timeout(500)


def press_keys_timed(page, keys: list[tuple[str, float]]) -> None:
    """Press single-character keys (a letter or a digit) as a person's fingers would, at the
    given milliseconds after the first press, whatever this machine's delays.

    Each press is a real keydown/keyup through the browser's input pipeline (Chrome DevTools
    `Input.dispatchKeyEvent`); its `timestamp` becomes the event's `timeStamp`, which is what
    the Label panel times a press by. Playwright's own `press` then `wait_for_timeout(40)`
    promise nothing about the gap: on a loaded 2-core machine the second key can arrive 150 ms
    later, a look long enough to decide — not the fast press a test meant."""
    cdp = page.context.new_cdp_session(page)
    try:
        start = time.time()
        for key, ms in keys:
            if len(key) != 1 or not key.isalnum():
                raise ValueError(f"press_keys_timed takes one letter or digit, not {key!r}")
            which = {"key": key, "code": f"Digit{key}" if key.isdigit() else f"Key{key.upper()}",
                     "windowsVirtualKeyCode": ord(key.upper())}
            cdp.send("Input.dispatchKeyEvent", {**which, "type": "keyDown", "text": key,
                                                "timestamp": start + ms / 1000})
            cdp.send("Input.dispatchKeyEvent", {**which, "type": "keyUp",
                                                "timestamp": start + (ms + 5) / 1000})
    finally:
        cdp.detach()


def caption_for(position: int) -> str:
    """The text the Label page shows under the image at a 0-based queue position."""
    return f"#{position + 1} ·"


def wait_for_position(page, position: int) -> None:
    page.get_by_text(caption_for(position)).first.wait_for()


def wait_until_looked(page, position: int, look_ms: float = 170) -> None:
    """Wait until the image at `position` has been painted for `look_ms` (default 170, above the
    panel's 150 ms): a person's normal pace, so the next decision key counts."""
    wait_for_position(page, position)
    page.wait_for_function(
        """([pos, ms]) => { const p = (window.__rostro || {paints: []}).paints
             .filter(x => x.position === pos).pop();
           return p && performance.timeOrigin + performance.now() - p.at >= ms; }""",
        arg=[position, look_ms], polling=20)


def wait_confirmed(page) -> None:
    """Wait until the server has confirmed (or refused) every press the panel sent."""
    page.locator(".rp-strip .entry").first.wait_for()
    page.wait_for_function("() => window.__rostro.presses.every(p => p.confirmed)", polling=50)


def explain(page) -> str:
    """What the Label panel shows and has sent, for a failing test's message."""
    try:
        return page.evaluate("""() => { const r = [...document.querySelectorAll(
              '[data-testid="stBidiComponentIsolated"]')].map(e => e.shadowRoot)
              .find(x => x && x.querySelector('.rp'));
            const t = s => r?.querySelector(s)?.innerText;
            return JSON.stringify({caption: t('.rp-caption'), hint: t('.rp-hint'),
              view: t('.rp-view'), progress: t('.rp-ptext'), rostro: window.__rostro}); }""")
    except Exception as e:  # noqa: BLE001 — only for a message
        return f"(page state unavailable: {e})"


def image_src(page) -> str | None:
    return page.locator(IMAGE).first.get_attribute("src") if page.locator(IMAGE).count() else None


def press_and_time(page, key: str, position_after: int) -> float:
    """Press a key; milliseconds until the image of `position_after` is shown and decoded."""
    before = image_src(page)
    t0 = time.perf_counter()
    page.keyboard.press(key)
    wait_for_position(page, position_after)
    page.wait_for_function(
        """([sel, before]) => { const i = document.querySelector(sel);
             return i && i.getAttribute('src') !== before && i.complete && i.naturalWidth > 0; }""",
        arg=[IMAGE, before], polling="raf")
    return (time.perf_counter() - t0) * 1000


def demo_workspace(tmp_path: Path, count: int = 60) -> Path:
    """A fresh demo workspace of `count` CelebA-style images in tmp_path/ws; the calling test is
    skipped without Chromium."""
    why = chromium_missing()
    if why:
        import pytest
        pytest.skip(why)
    return build_demo_workspace(tmp_path / "ws", count=count)


def build_demo_workspace(root: Path, count: int = 60) -> Path:
    """A fresh demo workspace (CelebA-style images, users admin/ana/luis, queues)."""
    from curate.demo import build_demo
    from curate.workspace import Workspace
    if root.exists():
        shutil.rmtree(root)
    ws = Workspace.resolve(root)
    engine = ws.open()
    build_demo(ws, engine, count=count, peruvian=0, seed=7)
    engine.dispose()
    return root


def label_on(url: str, presses: int, name: str = "ana", password: str = "ana",
             first: int = 0) -> tuple[list[float], list[float]]:
    """Benchmark: log in at the server at `url` and accept/reject `presses` images from the
    keyboard at a person's pace (each image looked at for 170 ms first), from queue position
    `first` (where the page opens: the first undecided one); returns, per press, milliseconds
    from the key to the next image painted, and from the key to the server's confirmation —
    both as the page logged them (window.__rostro)."""
    with open_browser() as page:
        login(page, url, name, password)
        for k in range(first, first + presses):
            wait_until_looked(page, k)
            page.keyboard.press("a" if k % 3 else "1")
        wait_for_position(page, first + presses)
        wait_confirmed(page)
        log = page.evaluate("window.__rostro")
    painted, committed = [], []
    for p in log["presses"]:
        after = [x["at"] for x in log["paints"] if x["at"] > p["pressed"]]
        if after:
            painted.append(min(after) - p["pressed"])
        committed.append(p["confirmed"] - p["pressed"])
    return painted, committed


def grid_on(url: str, pages: int, name: str = "ana", password: str = "ana",
            look_ms_per_tile: int = 100) -> tuple[list[float], list[float]]:
    """Benchmark: log in, look at the first image for 2.5 s (the panel reads a grid page ahead
    in such a quiet moment), and confirm `pages` grid pages (V, look at every tile for its
    share, Enter); returns, per page, milliseconds from V to the page painted, and from Enter
    to the last of its decisions committed — as the page logged them (window.__rostro)."""
    with open_browser() as page:
        login(page, url, name, password)
        page.locator(IMAGE).wait_for()
        page.wait_for_timeout(2500)
        for k in range(pages):
            page.keyboard.press("v")
            page.wait_for_function("(n) => window.__rostro.gridPaints.length && "
                                   "window.__rostro.gridOpens.length > n && "
                                   "window.__rostro.gridPaints.at(-1).at > window.__rostro.gridOpens[n]",
                                   arg=k, polling=20)
            tiles = page.evaluate("() => { const g = window.__rostro.gridPaints; const at = g.at(-1).at;"
                                  " return g.filter(x => x.at === at).length; }")
            page.wait_for_function(
                "([at, ms]) => performance.timeOrigin + performance.now() - at >= ms",
                arg=[page.evaluate("window.__rostro.gridPaints.at(-1).at"),
                     look_ms_per_tile * tiles + 20], polling=20)
            page.keyboard.press("Enter")
            page.wait_for_function("() => window.__rostro.presses.every(p => p.confirmed)", polling=20)
            page.keyboard.press("Escape")  # leave the single view's marked-tile follow-up, if any
        log = page.evaluate("window.__rostro")
    painted, committed = [], []
    for opened in log["gridOpens"]:
        after = [x["at"] for x in log["gridPaints"] if x["at"] > opened]
        if after:
            painted.append(min(after) - opened)
    by_press: dict[float, list[float]] = {}
    for p in log["presses"]:
        if p.get("via") == "grid":
            by_press.setdefault(p["pressed"], []).append(p["confirmed"])
    committed = [max(c) - pressed for pressed, c in by_press.items()]
    return painted, committed


ST_IMAGES = """(n) => { const imgs = [...document.querySelectorAll('[data-testid="stImage"] img')];
    return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0); }"""


def use_model_galleries(url: str, name: str, password: str, photo: Path,
                        timeout_ms: int = 180_000) -> None:
    """Open Style mixing (its grid and strip) and Sketch to face (rebuild `photo`) until their
    images show, as `name`: the model work the Label page must not feel (issue 12)."""
    with open_browser() as page:
        page.goto(url)
        page.get_by_label("Name").fill(name)
        page.get_by_role("textbox", name="Password").fill(password)
        page.keyboard.press("Enter")
        page.get_by_text("Logged in as").wait_for()
        wait_for_login_cookie(page)
        page.goto(f"{url}/gallery_mixing")
        page.wait_for_function(ST_IMAGES, arg=2, timeout=timeout_ms, polling=200)
        page.goto(f"{url}/gallery_sketch")
        page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(photo))
        # Uploaded and rebuilt (a model under 64 px shows words instead of its blank sketch).
        page.get_by_text("rebuilt at").wait_for(timeout=timeout_ms)
        page.wait_for_function(ST_IMAGES, arg=2, timeout=timeout_ms, polling=200)


def wait_for_login_cookie(page, timeout_s: float = 15) -> None:
    """Wait until the page has the login cookie (set just after a log-in), so that a typed
    address (page.goto) stays logged in."""
    deadline = time.monotonic() + timeout_s
    while not any(c["name"] == "rostro_session" for c in page.context.cookies()):
        if time.monotonic() > deadline:
            raise TimeoutError("no rostro_session cookie after the log-in")
        page.wait_for_timeout(100)


def rss_mb(pid: int) -> float | None:
    """A process's resident memory in MB (Linux), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None
