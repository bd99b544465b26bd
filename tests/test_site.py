"""The website in a real browser: every page, offline, desktop and phone.

The site is built from the notebooks' stored outputs, execution off, as
``make test-build`` does (or taken from ``$XENT_SITE_HTML``), served from
127.0.0.1 and opened in headless Chromium: Debian's package, driven by
Playwright through ``executable_path`` (no browser is downloaded), with every
host name but 127.0.0.1 unresolvable, so the test is offline by construction.

Each page is opened twice: at 1280 px in light mode and at 390 px (a phone)
in dark mode. The test fails on

* a request to another host (the site must work with no network: MathJax,
  fonts, scripts);
* a local request that fails (a 404, e.g. a file that was not bundled);
* raw TeX in the visible text (``\\(``, ``$$``, ``\\frac``) or a MathJax
  error node (``mjx-merror``);
* a page wider than the window (a phone must not pan sideways);
* an image whose alt text is empty or a file name or hash;
* a hand-typed number in a heading ("2.1 Title") or a bold "Figure 2.2."
  caption paragraph (Sphinx numbers sections and figures itself);
* an axe-core violation of impact "serious" or "critical" against WCAG 2.1
  A/AA, in light and in dark mode (axe runs once per page per mode);
* a JavaScript error (a console error or an uncaught exception).

``test_each_check_can_fail`` opens a small bad page and a good one: every
check fires on the bad page and stays quiet on the good one.

axe-core comes from the pinned PyPI package ``axe-playwright-python``, which
bundles ``axe.min.js`` (axe-core 4.12.1, MPL-2.0): a registry pin that
``pip install -r requirements.txt`` brings in, instead of half a megabyte of
vendored JavaScript in the repository. Only its ``axe.min.js`` is used.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = {"desktop": (1280, 900, "light"), "phone": (390, 844, "dark")}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
NO_CHROMIUM = "no Chromium: apt-get install chromium (or set CHROMIUM=/path)"


def find_chromium() -> str | None:
    """Debian's Chromium binary ($CHROMIUM wins), or None."""
    candidates = [
        os.environ.get("CHROMIUM"),
        "/usr/lib/chromium/chromium",  # Debian's real binary
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def axe_source() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec and spec.origin, "pip install -r requirements.txt"
    axe_js = Path(spec.origin).parent / "axe.min.js"
    return axe_js.read_text(encoding="utf-8")


def site_pages(site: Path) -> list[str]:
    """Every HTML page of a built site, as paths relative to its root."""
    skip = {"_static", "_sources", "_images", "_downloads"}
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if not skip & set(p.relative_to(site).parts)
    )


# ---------------------------------------------------------------------------
# What the browser measures on a page (one evaluate call, so that it is fast).

PAGE_REPORT_JS = r"""
() => {
  const out = {};
  // Raw TeX: text outside code blocks and outside typeset maths.
  const skip = "pre, code, script, style, textarea, kbd, samp, "
             + "mjx-container, .MathJax, mjx-assistive-mml";
  const tex = /\\[()\[\]]|\$\$|\$\\[A-Za-z]|\\[A-Za-z]{2,}/;
  const raw = [];
  const walker = document.createTreeWalker(
    document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    const m = node.nodeValue.match(tex);
    if (m) {
      const i = Math.max(0, m.index - 30);
      raw.push(node.nodeValue.slice(i, i + 80).replace(/\s+/g, " ").trim());
    }
  }
  out.rawTex = raw;
  out.merror = [...document.querySelectorAll("mjx-merror")].map(
    e => e.getAttribute("data-mjx-error") || e.textContent.slice(0, 80));

  // Width: the document must not be wider than the window.
  const doc = document.documentElement;
  out.clientWidth = doc.clientWidth;
  out.scrollWidth = Math.max(doc.scrollWidth, document.body.scrollWidth);
  out.wide = [];
  if (out.scrollWidth > out.clientWidth + 1) {
    // Elements inside a scrolling box or a fixed drawer do not widen the page.
    const clips = el => {
      if (getComputedStyle(el).position === "fixed") return true;
      for (let a = el.parentElement; a; a = a.parentElement) {
        if (getComputedStyle(a).position === "fixed") return true;
        const o = getComputedStyle(a).overflowX;
        if (["auto", "scroll", "hidden", "clip"].includes(o)) return true;
      }
      return false;
    };
    const culprits = [];
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      const right = r.right + window.scrollX;
      if (r.width > 0 && right > out.clientWidth + 1 && !clips(el)) {
        const cls = typeof el.className === "string" && el.className
          ? "." + el.className.split(" ")[0] : "";
        const text = (el.textContent || "").trim().slice(0, 60);
        culprits.push({w: r.width,
                       what: el.tagName.toLowerCase() + cls + ": " + text});
      }
    }
    culprits.sort((a, b) => a.w - b.w);
    out.wide = culprits.slice(0, 3).map(c => c.what);
  }

  // Images and their alt text.
  out.images = [...document.images].map(img => ({
    src: img.getAttribute("src"), alt: img.getAttribute("alt")}));

  // Hand-typed numbers: "2.1 Title" in a heading, "**Figure 2.2.**"
  // caption paragraphs.
  const typed = [];
  const short = el => el.textContent.trim().slice(0, 60);
  for (const h of document.querySelectorAll(
           "main h1, main h2, main h3, main h4")) {
    const c = h.cloneNode(true);
    c.querySelectorAll(".section-number, .headerlink, .toc-backref")
      .forEach(x => x.remove());
    if (/^\d+(\.\d+)*\.?\s/.test(c.textContent.trim()))
      typed.push(h.tagName + ": " + short(h));
  }
  for (const s of document.querySelectorAll("main p > strong:first-child")) {
    if (s.closest("figcaption, .caption")) continue;
    if (/^(Figure|Fig\.)\s*\d/.test(s.textContent.trim()))
      typed.push("caption paragraph: " + short(s.parentElement));
  }
  out.handTyped = typed;
  out.theme = doc.dataset.theme || doc.dataset.mode || "";
  return out;
}
"""

AXE_RUN_JS = """
async ([tags, colourOnly]) => {
  // Runs after the other checks, so it may thin out the page first.
  // Highlighted code is thousands of token spans, and a token's colour
  // depends only on its class: keep one visible span of each class and turn
  // the others into plain text. MathJax's CHTML output (aria-hidden; screen
  // readers get its MathML copy) goes too: it takes its colour from the
  // paragraph around it. This takes axe from ~20 s to ~3 s on chapter 9.
  const keep = new Map();
  for (const s of document.querySelectorAll("div.highlight pre span")) {
    if (!s.className || !s.textContent.trim()) continue;
    const seen = keep.get(s.className);
    if (!seen || (!seen.checkVisibility() && s.checkVisibility()))
      keep.set(s.className, s);
  }
  const kept = new Set(keep.values());
  for (const s of document.querySelectorAll("div.highlight pre span"))
    if (!kept.has(s) && !s.querySelector("span")) s.replaceWith(s.textContent);
  for (const m of document.querySelectorAll("mjx-container > mjx-math"))
    m.remove();
  // preload: false, or axe re-fetches every stylesheet and resolves their
  // @import relative to the page (a false 404 for the theme's basic.css).
  const runOnly = colourOnly
    ? {type: "rule", values: ["color-contrast", "link-in-text-block"]}
    : {type: "tag", values: tags};
  const r = await axe.run(
    document, {runOnly, resultTypes: ["violations"], preload: false});
  return r.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({
      id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
      where: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
      why: ((v.nodes[0] && v.nodes[0].failureSummary) || "").slice(0, 200),
    }));
}
"""

SETTLE_JS = """
async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) await mj.startup.promise;
  if (document.fonts) await document.fonts.ready;
}
"""

# An alt text that says nothing: a file name or path (one word with a slash;
# "p = 1/8" in a sentence is fine), a hash, a generic word.
BAD_ALT = re.compile(
    r"(?i)\.(png|jpe?g|gif|svg|webp)\s*$|_images/|^\S*/\S*$|^[0-9a-f]{16,}"
    r"|^(image|img|figure|png|plot|picture)$"
)


def bad_alt(alt: str | None) -> bool:
    if alt is None or len(alt.strip()) < 4:
        return True
    return bool(BAD_ALT.search(alt.strip()))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _listen(page, base: str, log: dict) -> None:
    """Record console errors, requests to other hosts and failed requests."""

    def console(msg):
        if msg.type == "error":
            where = msg.location.get("url", "")
            log["console"].append(f"{msg.text} [{where}]")

    def request(req):
        if not req.url.startswith((base, "data:", "blob:", "about:")):
            log["external"].append(req.url)

    def response(resp):
        if resp.url.startswith(base) and resp.status >= 400:
            log["failed"].append(f"{resp.status} {resp.url[len(base) :]}")

    page.on("console", console)
    page.on("pageerror", lambda e: log["console"].append(f"uncaught: {e}"))
    page.on("request", request)
    page.on("response", response)


def _crawl_width(base, pages, width_name, axe_js) -> dict:
    """Open every page at one width, in its own browser (and thread)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    w, h, mode = WIDTHS[width_name]
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=find_chromium(),
            # Nothing but the local server resolves: offline by design.
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        context = browser.new_context(
            viewport={"width": w, "height": h}, color_scheme=mode
        )
        # pydata-sphinx-theme keeps the reader's choice here.
        context.add_init_script(
            f"try {{ localStorage.setItem('mode', '{mode}');"
            f" localStorage.setItem('theme', '{mode}'); }} catch (e) {{}}"
        )
        page = context.new_page()
        log: dict = {}
        _listen(page, base, log)
        for name in pages:
            log.update(console=[], external=[], failed=[])
            start = time.monotonic()
            page.goto(base + name, wait_until="load")
            for _ in range(3):  # index.html redirects
                try:
                    page.evaluate(SETTLE_JS)
                    report = page.evaluate(PAGE_REPORT_JS)
                    break
                except PlaywrightError as e:
                    # During the redirect the old document is gone, or the
                    # new one has no body yet.
                    if not any(
                        m in str(e)
                        for m in (
                            "context was destroyed",
                            "not of type 'Node'",
                        )
                    ):
                        raise
                    page.wait_for_load_state("load")
                    page.wait_for_timeout(200)
            report["mode"] = mode
            report["seconds"] = {"load": time.monotonic() - start}
            if axe_js:
                page.add_script_tag(content=axe_js)
                # Dark mode: colour rules only (the others do not depend
                # on the mode).
                colour_only = mode == "dark"
                report["axe"] = page.evaluate(
                    AXE_RUN_JS, [AXE_TAGS, colour_only]
                )
            report["seconds"]["total"] = time.monotonic() - start
            report.update({k: list(v) for k, v in log.items()})
            results[(name, width_name)] = report
        browser.close()
    return results


def crawl(site: Path, pages: list[str], *, axe: bool = True) -> dict:
    """Open every page at every width; return {(page, width): report}.

    The widths run side by side, each in its own thread and browser.
    """
    assert find_chromium(), NO_CHROMIUM
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    axe_js = axe_source() if axe else ""
    results = {}
    try:
        with ThreadPoolExecutor(len(WIDTHS)) as pool:
            jobs = [
                pool.submit(_crawl_width, base, pages, width, axe_js)
                for width in WIDTHS
            ]
            for job in jobs:
                results.update(job.result())
    finally:
        server.shutdown()
        server.server_close()
    return results


# ---------------------------------------------------------------------------
# The checks, as functions of one page's report: each lists the problems.


def check_offline(r):
    return [f"request to another host: {u}" for u in r["external"]] + [
        f"local request failed: {f}" for f in r["failed"]
    ]


def check_tex(r):
    return [f"raw TeX: {t!r}" for t in r["rawTex"]] + [
        f"MathJax error: {e!r}" for e in r["merror"]
    ]


def check_width(r):
    if r["scrollWidth"] <= r["clientWidth"] + 1:
        return []
    return [
        f"{r['scrollWidth']} px wide in a {r['clientWidth']} px window;"
        f" widest: {r['wide']}"
    ]


def check_alt(r):
    return [
        f"image {i['src']} has alt {i['alt']!r}"
        for i in r["images"]
        if bad_alt(i["alt"])
    ]


def check_numbers(r):
    return [f"hand-typed number: {t}" for t in r["handTyped"]]


def check_axe(r):
    problems = [
        f"axe {v['impact']} {v['id']} x{v['count']} ({r['mode']}):"
        f" {v['help']}; e.g. {v['where']}; {v['why']}"
        for v in r.get("axe", [])
    ]
    if r["theme"] != r["mode"]:
        problems.append(f"asked for {r['mode']} mode, got {r['theme']!r}")
    return problems


def check_console(r):
    return [f"console: {c}" for c in r["console"]]


CHECKS = {
    "offline": check_offline,
    "tex": check_tex,
    "width": check_width,
    "alt": check_alt,
    "numbers": check_numbers,
    "axe": check_axe,
    "console": check_console,
}


def problems(results: dict, check) -> list[str]:
    out = []
    for (name, width), report in sorted(results.items()):
        out += [f"{name} @{width}: {p}" for p in check(report)]
    return out


# ---------------------------------------------------------------------------
# Fixtures: the built site, and one crawl of it that every check shares.


def _build_site(tmp: Path) -> Path:
    """Build the book from the stored outputs, as `make test-build` does."""
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    off = config.replace(
        "execute_notebooks: force", 'execute_notebooks: "off"'
    )
    assert 'execute_notebooks: "off"' in off
    (tmp / "config").mkdir()
    (tmp / "config" / "_config.yml").write_text(off, encoding="utf-8")
    jb = Path(sys.executable).with_name("jupyter-book")
    config_path = tmp / "config" / "_config.yml"
    command = [jb, "build", ROOT, "--config", config_path]
    command += ["--path-output", tmp / "out", "-W", "--keep-going"]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return tmp / "out" / "_build" / "html"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not find_chromium():
        pytest.skip(NO_CHROMIUM)
    given = os.environ.get("XENT_SITE_HTML")
    if given:
        path = Path(given).resolve()
        assert (path / "index.html").is_file(), f"{given}: no index.html"
        return path
    return _build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def results(site):
    pages = site_pages(site)
    assert len(pages) >= 15, pages
    return crawl(site, pages)


@pytest.mark.parametrize("check", list(CHECKS))
def test_site(results, check):
    found = problems(results, CHECKS[check])
    assert not found, f"{len(found)} problems:\n" + "\n".join(found[:60])


# ---------------------------------------------------------------------------
# Every check can fail.

BAD_PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A bad page</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>2.1 A hand-numbered heading</h1>
<p><strong>Figure 2.2.</strong> A caption typed as a bold paragraph.</p>
<p>Maths MathJax never saw: \(\frac{a}{b}\) and $$x$$.</p>
<img src="pic.png" alt="../_images/0123456789abcdef0123.png">
<img src="https://example.org/pic.png" alt="A picture from another host">
<img src="missing.png" alt="A picture that is not there">
<div style="width: 700px">A block wider than a phone.</div>
<p style="color: #777; background: #888">Grey on grey.</p>
<div class="highlight"><pre><span class="k">import</span> <span>np</span>
<span class="k">from</span> <span class="faint" style="color:#eee">torch</span>
</pre></div>
<script>console.error("boom");</script>
</main></body></html>
"""

GOOD_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A good page</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>document.documentElement.dataset.theme =
  localStorage.getItem("mode") || "light";</script></head>
<body><main><h1>A heading</h1>
<p>Plain prose, costing $5, with a <code>\\frac</code> in code.</p>
<img src="pic.png" alt="A one-pixel picture used by the test of the test.">
</main></body></html>
"""

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005fe02fea7d6a4"
    "3a0000000049454e44ae426082"
)


def test_each_check_can_fail(tmp_path):
    if not find_chromium():
        pytest.skip(NO_CHROMIUM)
    (tmp_path / "bad.html").write_text(BAD_PAGE, encoding="utf-8")
    (tmp_path / "good.html").write_text(GOOD_PAGE, encoding="utf-8")
    (tmp_path / "pic.png").write_bytes(PNG_1PX)
    results = crawl(tmp_path, ["bad.html", "good.html"])
    bad = {w: results[("bad.html", w)] for w in WIDTHS}
    good = {w: results[("good.html", w)] for w in WIDTHS}
    for name, check in CHECKS.items():
        for width in WIDTHS:
            assert not check(good[width]), (name, width, good[width])
            # the 700 px block fits a desktop, not a phone
            fires = name != "width" or width == "phone"
            assert bool(check(bad[width])) == fires, (name, width, bad[width])
    text = "\n".join(check_offline(bad["desktop"]))
    assert "example.org" in text and "404 missing.png" in text
    # The faint code token is found, though axe sees one span per class.
    for width in WIDTHS:
        found = check_axe(bad[width])
        assert any("color-contrast" in p and "faint" in p for p in found)
    assert any("\\frac" in p for p in check_tex(bad["desktop"]))
