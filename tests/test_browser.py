"""The built book, opened page by page in headless Chromium, as a reader would.

Builds the book from the notebooks' stored outputs (no execution) into a
temporary folder, serves it on 127.0.0.1, and checks every page: math is
typeset by the locally served MathJax (no raw TeX, no MathJax errors), every
image loads (the graph drawings are SVG images), launch buttons point to the
right notebook, and the console shows no errors. Screenshots of two pages go
to ``tests/artifacts/``. Skipped where Chromium or Playwright is missing.

Accessibility (WCAG 2.1 AA, issue 24): axe-core runs on every page
(:func:`test_accessibility`) and every image needs a real text alternative
(:func:`test_images_have_alt_text`).
"""

import collections
import functools
import http.server
import itertools
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Builds the book without executing it and serves it; yields (base URL, page paths)."""
    out = tmp_path_factory.mktemp("book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"  # the stored outputs, as committed
    # paths in a config are relative to the config's folder, which is now a temporary one
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()
    }
    config_path = out / "_config.yml"
    config_path.write_text(yaml.safe_dump(config))
    build = subprocess.run(
        [
            str(pathlib.Path(sys.executable).parent / "jupyter-book"),
            "build",
            str(ROOT),
            "--path-output",
            str(out),
            "--config",
            str(config_path),
            "-n",
            "-W",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    html = out / "_build" / "html"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pages = sorted(p.relative_to(html).as_posix() for p in (html / "book").glob("*.html"))
    yield f"http://127.0.0.1:{server.server_address[1]}/", pages
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    # The browser asks every site for /favicon.ico; the book has none, and that is no page error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(url, wait_until="load")
    page.wait_for_function(
        "() => window.MathJax === undefined || (window.MathJax.startup"
        " && window.MathJax.startup.promise !== undefined)",
        timeout=30000,
    )
    page.evaluate("() => window.MathJax && window.MathJax.startup.promise")
    return page, errors


# What the checks below read from each page, collected in one visit per page (a page takes
# seconds to load and typeset; three visits per page cost CI's budget about a minute).
PAGE_FACTS = """() => ({
  raw_math: [...document.querySelectorAll('.math, span.math, div.math')]
    .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)),
  merrors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent),
  broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  hrefs: [...document.querySelectorAll('a')].map(a => a.href),
  live: [...document.querySelectorAll("button[onclick*='initThebe']")]
    .map(b => (b.getAttribute('title') || '') + (b.textContent || '')),
  thebe: [...document.querySelectorAll('script[type="text/x-thebe-config"]')]
    .map(s => s.textContent).join(''),
  images: [...document.images].map(i => {
    const cell = i.closest('.cell');
    const code = cell && cell.querySelector('.cell_input pre');
    const section = i.closest('section[id]');
    return {alt: i.getAttribute('alt'), src: i.getAttribute('src'),
            section: section ? section.id : '',
            code: code ? code.textContent.trim().split('\\n')[0].slice(0, 70) : ''};
  }),
})"""


@pytest.fixture(scope="module")
def visits(site, browser):
    """Each page opened once as a reader opens it: path -> PAGE_FACTS and its console errors."""
    base, pages = site
    facts = {}
    for path in pages:
        page, errors = open_page(browser, base + path)
        facts[path] = dict(page.evaluate(PAGE_FACTS), errors=list(errors))
        page.close()
    return facts


def test_every_page_renders(site, visits):
    _, pages = site
    assert len(pages) >= 9, pages
    for path in pages:
        seen = visits[path]
        assert seen["raw_math"] == [], f"{path}: untypeset math {seen['raw_math'][:3]}"
        assert seen["merrors"] == [], f"{path}: MathJax errors {seen['merrors']}"
        assert seen["broken"] == [], f"{path}: images that did not load {seen['broken']}"
        assert seen["errors"] == [], f"{path}: console errors {seen['errors']}"


def test_launch_buttons(site, visits):
    _, pages = site
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    chapters = [p for p in pages if (ROOT / p).with_suffix(".ipynb").exists()]
    assert len(chapters) >= 9, chapters
    for path in chapters:
        seen = visits[path]
        hrefs = seen["hrefs"]
        notebook = pathlib.PurePosixPath(path).with_suffix(".ipynb").as_posix()
        assert f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=tree/{notebook}" in hrefs, path
        assert (
            f"https://colab.research.google.com/github/{repo}/blob/{branch}/{notebook}" in hrefs
        ), path
        # "Live Code" (thebe): the button exists, and its Binder kernel is built from this
        # repository at the book's branch.
        live = seen["live"]
        assert len(live) == 1 and "Live Code" in live[0], f"{path}: no Live Code button"
        thebe = seen["thebe"]
        assert f'repo: "{repo}"' in thebe and f'ref: "{branch}"' in thebe, (
            f"{path}: thebe config {thebe!r}"
        )


def test_graph_drawings_and_screenshots(site, browser):
    base, _ = site
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page, errors = open_page(browser, base + "book/01_graphs.html")
    svgs = page.evaluate(
        "() => [...document.querySelectorAll('.cell_output img')]"
        ".filter(i => i.src.endsWith('.svg')).map(i => [i.naturalWidth, i.naturalHeight])"
    )
    assert len(svgs) >= 3 and all(w > 50 and h > 50 for w, h in svgs), svgs
    page.locator(".cell_output img[src$='.svg']").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "01_graphs.png"))
    page.close()
    page, _ = open_page(browser, base + "book/04_elbo.html")
    page.locator("#derivation").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "04_elbo.png"))
    typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
    assert typeset > 20
    page.close()


def test_an_exercise_and_its_gated_solution(site, browser):
    base, _ = site
    page, errors = open_page(browser, base + "book/00_data.html")
    exercise = page.locator("#ch00-ex-pixels")
    assert exercise.locator(".admonition-title").inner_text().strip() == "Exercise 0.1"
    solution = page.locator("div.solution.dropdown").first
    assert "Solution to Exercise 0.1" in solution.locator(".admonition-title").inner_text()
    # the solution's code cell ran, inside the dropdown
    output = solution.locator(".cell_output").first
    assert not output.is_visible(), "the solution is not folded"
    solution.locator(".admonition-title").click()
    output.wait_for(state="visible", timeout=5000)
    assert output.inner_text().startswith("exactly 0:")
    assert solution.locator(".cell_input").first.is_visible()
    assert solution.locator(".pasted-text").first.inner_text().endswith("%")  # glued from that cell
    assert errors == [], errors
    page.close()


# axe-core's rule tags: WCAG 2.0 and 2.1, levels A and AA, which is what WCAG 2.1 AA asks,
# and Deque's best practices (landmarks, headings, ARIA use), whose serious and critical
# findings are as real for a reader.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING_IMPACTS = ("critical", "serious")  # moderate and minor findings are listed, not failed
# Folded content (hidden cells, solutions) is unfolded first, so that axe sees it.
UNFOLD = """() => {
  document.querySelectorAll('details:not([open]) > summary').forEach(s => s.click());
  document.querySelectorAll('.toggle.toggle-hidden > .admonition-title').forEach(t => t.click());
  return document.querySelectorAll('details:not([open]), .toggle-hidden').length;
}"""
# True once every box the theme makes focusable when it scrolls (its selectors, as in
# _static/a11y.js) is focusable if and only if it scrolls.
SCROLLABLE_SETTLED = """() => [...document.querySelectorAll(
    'pre, .nboutput > .output_area, .cell_output > .output, .jp-RenderedHTMLCommon, '
    + '.pst-scrollable-table-container')].every(el =>
  (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight) === (el.tabIndex === 0))
"""
# No transitions: axe would measure a color halfway through one.
NO_TRANSITIONS = "*, ::before, ::after { transition: none !important; animation: none !important }"


def axe_summary(found, impacts, examples=3, most=12):
    """Readable lines for the violations of the given impacts: rule, impact, help, and where
    (``examples`` elements a page, ``most`` in all)."""
    lines = []
    for rule, all_hits in sorted(found.items()):
        hits = [(path, mode, v) for path, mode, v in all_hits if v["impact"] in impacts]
        if not hits:
            continue
        worst = min((v["impact"] for _, _, v in hits), key=impacts.index)
        pages = collections.Counter(path for path, _, v in hits for _ in v["nodes"])
        lines.append(
            f"{rule} ({worst}): {hits[0][2]['help']}; {sum(pages.values())} elements: "
            + ", ".join(f"{path} ({n})" for path, n in sorted(pages.items()))
        )
        shown = [(path, mode, node) for path, mode, v in hits for node in v["nodes"][:examples]]
        for path, mode, node in shown[:most]:
            target = " ".join(map(str, node["target"]))
            lines.append(f"    {path} [{mode} mode]: {target[:160]}")
            why = node.get("failureSummary", "").splitlines()[1:2]
            if why:
                lines.append(f"        {why[0].strip()[:200]}")
        lines.append(f"    {hits[0][2]['helpUrl'].split('?')[0]}")
    return lines


# Code is most of a page's elements (one span per highlighted token, thousands a page), and
# axe's color-contrast rule spends most of its time on them (about 12 of 15 s a page). A
# token's contrast depends only on its colour, the background behind it, its size, weight,
# opacity and shadow, in each mode; so on each page axe checks the first token of each such
# combination (light and, where dark mode is checked too, dark), and the others are turned
# into plain text of their line before axe runs (the page is thrown away after). Every
# combination that occurs on a page is still checked there. (axe's own ``exclude`` of the
# repeats was slower than checking them all: it matches every excluded node against every
# element.)
UNWRAP_REPEATED_TOKENS = """(modes) => {
  const root = document.documentElement;
  const original = root.dataset.theme;
  const tokens = [...document.querySelectorAll('.highlight pre span')]
    .filter(t => t.children.length === 0);
  const keys = tokens.map(() => '');
  for (const mode of modes) {
    if (mode !== 'light') root.dataset.theme = mode;
    else if (original === undefined) delete root.dataset.theme;
    else root.dataset.theme = original;
    const backgrounds = new Map();
    const behind = el => {
      if (!el) return 'none';
      if (!backgrounds.has(el)) {
        const s = getComputedStyle(el);
        const clear = s.backgroundColor === 'rgba(0, 0, 0, 0)' && s.backgroundImage === 'none';
        backgrounds.set(el, clear ? behind(el.parentElement)
                                  : s.backgroundColor + ' ' + s.backgroundImage);
      }
      return backgrounds.get(el);
    };
    tokens.forEach((t, i) => {
      const s = getComputedStyle(t);
      keys[i] += [mode, s.color, s.backgroundColor, behind(t.parentElement), s.fontSize,
                  s.fontWeight, s.opacity, s.textShadow].join('|') + '||';
    });
  }
  const seen = new Set();
  let repeats = 0;
  tokens.forEach((t, i) => {
    if (seen.has(keys[i])) { t.replaceWith(document.createTextNode(t.textContent)); repeats += 1; }
    else seen.add(keys[i]);
  });
  return {tokens: tokens.length, repeats};
}"""
# One page's axe runs, in the page: the WCAG tags, then color-contrast again in dark mode.
AXE_RUNS = (
    """async ([tags, darkToo]) => {
  const unwrap = """
    + UNWRAP_REPEATED_TOKENS
    + """;
  const tokens = unwrap(darkToo ? ['dark', 'light'] : ['light']);
  const light = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                         resultTypes: ['violations']});
  if (!darkToo) return {light: light.violations, dark: [], tokens};
  document.documentElement.dataset.theme = 'dark';
  const dark = await axe.run(document, {runOnly: {type: 'rule', values: ['color-contrast']},
                                        resultTypes: ['violations']});
  return {light: light.violations, dark: dark.violations, tokens};
}"""
)
# Dark mode changes only the theme's colours, the same on every page, so its contrast check
# runs on pages that between them hold every kind of element the book uses (tables, code and
# its outputs, math, admonitions, exercises, figures, references): it halves the test's time,
# which CI's budget needs.
DARK_MODE_PAGES = ("book/intro.html", "book/00_data.html", "book/06_vae.html")


def test_accessibility(site, browser):
    """axe-core (the copy bundled with ``axe-playwright-python``) on every page, everything
    unfolded, with the rule tags ``wcag2a``, ``wcag2aa``, ``wcag21a``, ``wcag21aa`` and
    ``best-practice``; its color-contrast rule runs again in dark mode on DARK_MODE_PAGES. Fails
    on any serious
    or critical violation; lists the moderate and minor ones with the failure."""
    axe_package = pytest.importorskip("axe_playwright_python")
    axe_script = (pathlib.Path(axe_package.__file__).parent / "axe.min.js").read_text()
    base, pages = site
    assert set(DARK_MODE_PAGES) <= set(pages), "a page of DARK_MODE_PAGES is gone: update it"
    found = collections.defaultdict(list)  # rule -> [(page, mode, violation)]
    # axe takes seconds to a minute a page (color-contrast on every highlighted token);
    # a few pages at once, each in its own renderer process, use the machine's cores.
    workers = max(1, min(4, os.cpu_count() or 1))

    def start(path):
        page, _ = open_page(browser, base + path)
        page.add_style_tag(content=NO_TRANSITIONS)
        assert page.evaluate(UNFOLD) == 0, f"{path}: content left folded"
        # _static/a11y.js measures the unfolded boxes in the next animation frame; wait
        # until every box that scrolls is focusable (axe reports any that never is)
        try:
            page.wait_for_function(SCROLLABLE_SETTLED, timeout=15_000)
        except playwright.TimeoutError:
            pass
        page.evaluate(axe_script)
        page.evaluate(
            f"args => {{ window.a11yResults = ({AXE_RUNS})(args); }}",
            [AXE_TAGS, path in DARK_MODE_PAGES],
        )
        return path, page

    waiting = iter(pages)
    running = collections.deque(start(path) for path in itertools.islice(waiting, workers))
    while running:
        path, page = running.popleft()
        results = page.evaluate("() => window.a11yResults")
        page.close()
        tokens = results["tokens"]
        # the first token of each kind stays: axe checks it
        assert tokens["repeats"] < tokens["tokens"] or tokens["tokens"] == 0, path
        for mode in ("light", "dark"):
            for v in results[mode]:
                found[v["id"]].append((path, mode, v))
        following = next(waiting, None)
        if following is not None:
            running.append(start(following))
    failing = axe_summary(found, FAILING_IMPACTS)
    others = axe_summary(found, ("moderate", "minor"), examples=1, most=3)
    assert not failing, (
        f"axe-core found serious or critical violations (tags {AXE_TAGS}):\n"
        + "\n".join(failing)
        + "\nnot failed (moderate, minor):\n"
        + "\n".join(others)
    )
    if others:
        print("axe-core, moderate and minor (not failed):\n" + "\n".join(others))


# An image's alt text that says nothing about it: empty, a generic word, or a file name
# (docutils uses the image's path when a notebook cell sets no alt text).
GENERIC_ALT = {"figure", "image", "png", "output", "img", "picture", "plot", "graph", "chart"}
FILE_NAME = re.compile(r"\.(png|svg|jpe?g|gif|pdf)$|/_images/", re.IGNORECASE)


def test_images_have_alt_text(site, visits):
    """Every <img> says what it shows. A chapter's plot sets its alt text in its code cell's
    metadata: ``"mystnb": {"image": {"alt": "..."}}`` (myst-nb's ``render_image_options``;
    one text for every image that cell outputs)."""
    _, pages = site
    bad = []
    for path in pages:
        images = visits[path]["images"]
        for image in images:
            alt = (image["alt"] or "").strip()
            if not alt:
                why = "no alt text"
            elif alt.lower().strip(" .") in GENERIC_ALT:
                why = f"generic alt text {alt!r}"
            elif FILE_NAME.search(alt) or alt == image["src"]:
                why = "a file name as alt text"
            else:
                continue
            bad.append(
                f"{path}#{image['section']}: {image['src'].rsplit('/', 1)[-1][:16]}... "
                f"{why}; cell: {image['code']!r}"
            )
    assert not bad, (
        f"{len(bad)} images without a real text alternative (set it in the cell's "
        'metadata: "mystnb": {"image": {"alt": "..."}}):\n' + "\n".join(bad)
    )
