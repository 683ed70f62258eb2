"""Check the built HTML book in a real browser, offline (``make browser-check``).

    python tools/check_site.py _build/site/_build/html _build/site/screenshots [PAGE.html ...]

Opens every page of the table of contents in headless Chromium (Debian's ``/usr/bin/chromium``,
driven by Playwright) with every request that would leave the machine blocked and recorded, and
checks what a reader would see:

- the page loads without JavaScript errors and asks nothing of the network;
- its math is typeset by MathJax, with no error node and no raw TeX left in the text; no
  Markdown table is left as text;
- every image has loaded; every animation has its controls and frames; every audio player
  has its sound; no widget debris (a widget's text stand-in, a dead widget view) is left;
- exercise solutions are collapsed and open on a click;
- every citation links to an entry of the bibliography; every internal link and anchor exists;
- each chapter's Colab link opens that chapter's notebook in the repository;
- the search page finds "DDIM".

A full-page screenshot of each page is written to the second folder for a person to look at.
Prints one line per page and every problem found; exits with 1 if there is any.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Errors of the page templates themselves, harmless to the reader: Jupyter Book 1 declares
# THEBE_JS_URL twice.
TOLERATED_ERRORS = (re.compile(r"THEBE_JS_URL"),)
# The theme's first visit, with no colour mode stored yet, logs its fallback to "auto" as an error.
TOLERATED_ERRORS += (re.compile(r"Got invalid theme mode: \. Resetting to auto"),)
RAW_TABLE = re.compile(r"\|\s*:?-{3,}:?\s*\|")
WIDGET_DEBRIS = re.compile(r"(FloatProgress|IntProgress|HBox|VBox|interactive)\(children=|"
                           r"Loading widget\.\.\.")


def toc_pages() -> list[str]:
    """The HTML path of every page of the table of contents, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    return [f + ".html" for f in files]


def colab_prefix() -> str:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    return "https://colab.research.google.com/github/" + url.split("github.com/", 1)[1]


# Everything below runs in the page.
PAGE_FACTS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  for (const img of document.images) { img.loading = "eager"; }
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(r => { img.onload = img.onerror = r; setTimeout(r, 5000); })));
  const audios = [...document.querySelectorAll("audio")];
  await Promise.all(audios.map(a => a.readyState >= 1 ? null :
      new Promise(r => { a.onloadedmetadata = a.onerror = r; a.load(); setTimeout(r, 5000); })));
  const main = document.querySelector("main") || document.body;
  const text = main.innerText;
  // the prose and outputs a reader sees as text: not code, not typeset math
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest("pre, code, script, style, mjx-container, .highlight")
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  let prose = "";
  while (walker.nextNode()) { prose += walker.currentNode.textContent + " "; }
  return {
    mathjax: !!window.MathJax,
    math: document.querySelectorAll("mjx-container").length,
    mathErrors: document.querySelectorAll("mjx-merror").length,
    rawTex: (prose.match(/\\$\\$|\\\\begin\\{|\\\\\\(|\\\\\\[|\\\\frac|\\\\mathbf|\\\\bar/g) || []).slice(0, 5),
    images: [...document.images].map(i => ({src: i.src.slice(0, 80), w: i.naturalWidth})),
    animations: [...document.querySelectorAll(".animation")].map(a => ({
        buttons: a.querySelectorAll("button").length,
        frames: Number((a.querySelector("input[type=range]") || {max: -1}).max) + 1,
        shown: (a.querySelector("img") || {naturalWidth: 0}).naturalWidth})),
    audios: audios.map(a => ({ready: a.readyState, duration: a.duration})),
    widgetViews: document.querySelectorAll(
        "script[type='application/vnd.jupyter.widget-view+json']").length,
    text: text,
    prose: prose,
    citations: [...document.querySelectorAll("a")].filter(a =>
        /bibliography\\.html#/.test(a.getAttribute("href") || "")).map(a => a.href),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    colab: [...document.querySelectorAll("a[href*='colab.research.google.com']")].map(a => a.href),
    solutions: document.querySelectorAll(".solution").length,
  };
}"""


def solution_toggles(page) -> list[str]:
    """Every collapsed solution must be hidden, then shown after a click on its title."""
    problems = []
    details = page.locator("details.solution, details:has(> summary.solution-title), "
                           "div.solution details")
    toggles = page.locator(".solution .toggle-button, .solution button.toggle-button")
    if details.count():
        for i in range(details.count()):
            d = details.nth(i)
            if d.evaluate("d => d.open"):
                problems.append(f"solution {i + 1} is open before any click")
            d.locator("summary").first.click()
            if not d.evaluate("d => d.open"):
                problems.append(f"solution {i + 1} does not open on a click")
    elif toggles.count():
        for i in range(toggles.count()):
            solution = page.locator(".solution").nth(i)
            body = solution.locator(".solution-content, section").first
            if body.is_visible():
                problems.append(f"solution {i + 1} is visible before any click")
            toggles.nth(i).click()
            try:
                body.wait_for(state="visible", timeout=3000)
            except PlaywrightTimeout:
                problems.append(f"solution {i + 1} does not open on a click")
    return problems


class Anchors:
    """The ids of the built pages, read once per file."""

    def __init__(self):
        self._ids: dict[Path, set[str]] = {}

    def ids(self, path: Path) -> set[str]:
        if path not in self._ids:
            html = path.read_text(errors="replace")
            self._ids[path] = set(re.findall(r'\bid="([^"]+)"', html)) | set(
                re.findall(r'\bname="([^"]+)"', html))
        return self._ids[path]

    def problem(self, url: str, site: Path) -> str | None:
        """Why an internal link is broken, or None."""
        parsed = urlparse(url)
        target = Path(unquote(parsed.path))
        if not target.exists():
            return f"link to a missing file {target.relative_to(site) if target.is_relative_to(site) else target}"
        if target.is_dir():
            target = target / "index.html"
        if parsed.fragment and target.suffix == ".html" and unquote(parsed.fragment) not in self.ids(target):
            return f"link to a missing anchor {target.name}#{parsed.fragment}"
        return None


def check_page(page, site: Path, name: str, screenshots: Path, anchors: Anchors, blocked: list,
               errors: list) -> list[str]:
    blocked.clear()
    errors.clear()
    page.goto((site / name).as_uri(), wait_until="load")
    facts = page.evaluate(PAGE_FACTS)
    problems = [f"JavaScript error: {e}" for e in errors
                if not any(p.search(e) for p in TOLERATED_ERRORS)]
    problems += [f"asked the network for {u}" for u in blocked]
    if facts["mathErrors"]:
        problems.append(f"{facts['mathErrors']} MathJax error nodes")
    if facts["rawTex"]:
        problems.append(f"raw TeX visible: {facts['rawTex']}")
    problems += [f"image not loaded: {i['src']}" for i in facts["images"] if i["w"] == 0]
    for k, a in enumerate(facts["animations"], 1):
        if a["buttons"] < 5 or a["frames"] < 2 or a["shown"] == 0:
            problems.append(f"animation {k} incomplete: {a['buttons']} buttons, "
                            f"{a['frames']} frames, frame shown: {a['shown'] > 0}")
    for k, a in enumerate(facts["audios"], 1):
        if a["ready"] < 1 or not a["duration"] or a["duration"] <= 0:
            problems.append(f"audio player {k} has no sound loaded")
    if RAW_TABLE.search(facts["prose"]):
        problems.append("a Markdown table left as text")
    if facts["widgetViews"] or WIDGET_DEBRIS.search(facts["text"]):
        problems.append("widget debris left in the page")
    for url in set(facts["links"]):
        if url.startswith("file:"):
            why = anchors.problem(url, site)
            if why:
                problems.append(why)
    bibliography = site / "book" / "bibliography.html"
    for url in set(facts["citations"]):
        fragment = urlparse(url).fragment
        if fragment not in anchors.ids(bibliography):
            problems.append(f"citation to a missing bibliography entry #{fragment}")
    if name.startswith("notebooks/"):
        chapter = Path(name).stem
        if not facts["citations"] and chapter:
            problems.append("no citation links to the bibliography")
        if not facts["math"]:
            problems.append("no typeset math in a chapter")
        expected = f"{colab_prefix()}/blob/main/"
        if not facts["colab"]:
            problems.append("no link to open the chapter in Colab")
        for url in facts["colab"]:
            if not (url.startswith(expected) and url.endswith(f"/{chapter}.ipynb")):
                problems.append(f"Colab link does not open this chapter: {url}")
    screenshots.mkdir(parents=True, exist_ok=True)          # as a reader first sees the page
    page.screenshot(path=str(screenshots / (name.replace("/", "_").removesuffix(".html") + ".jpg")),
                    full_page=True, type="jpeg", quality=70)
    if name.startswith("notebooks/"):
        problems += solution_toggles(page)
    print(f"{name}: {facts['math']} formulas, {len(facts['images'])} images, "
          f"{len(facts['animations'])} animations, {len(facts['audios'])} audio players, "
          f"{len(set(facts['citations']))} citation links, {facts['solutions']} solutions"
          + (f" — {len(problems)} problems" if problems else ""), flush=True)
    return problems


def check_search(page, site: Path, query: str = "DDIM") -> list[str]:
    page.goto((site / "search.html").as_uri() + f"?q={query}", wait_until="load")
    try:
        page.wait_for_selector("#search-results li, ul.search li", timeout=20_000)
    except Exception:
        return [f'search.html: the search for "{query}" found nothing']
    hits = page.locator("#search-results li, ul.search li").count()
    print(f"search.html: {hits} results for {query}")
    return []


def main(site: Path, screenshots: Path, only: list[str] | None = None) -> int:
    if not (site / "index.html").exists():
        raise SystemExit(f"site: expected a built book with index.html in {site}, found none "
                         "(run `make site`)")
    pages = only or toc_pages()
    problems: dict[str, list[str]] = {}
    blocked: list[str] = []
    errors: list[str] = []
    anchors = Anchors()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})

        def route(r):
            url = r.request.url
            if url.startswith(("file:", "data:", "blob:", "about:")):
                return r.continue_()
            blocked.append(url)
            return r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name in pages:
            if not (site / name).exists():
                problems[name] = ["page of the table of contents was not built"]
                continue
            start = time.perf_counter()
            found = check_page(page, site, name, screenshots, anchors, blocked, errors)
            print(f"    {time.perf_counter() - start:.1f} s", flush=True)
            if found:
                problems[name] = found
        found = check_search(page, site)
        if found:
            problems["search.html"] = found
        browser.close()
    for name, found in problems.items():
        for problem in found:
            print(f"PROBLEM {name}: {problem}")
    print(f"{len(pages)} pages checked, {sum(map(len, problems.values()))} problems; "
          f"screenshots in {screenshots}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    sys.exit(main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]), sys.argv[3:]))
