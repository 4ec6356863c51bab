"""The built book, opened page by page in headless Chromium, as a reader would.

Builds the book from the notebooks' stored outputs (no execution) into a
temporary folder, serves it on 127.0.0.1, and checks every page: math is
typeset by the locally served MathJax (no raw TeX, no MathJax errors), every
image loads (the graph drawings are SVG images), launch buttons point to the
right notebook, and the console shows no errors. Screenshots of two pages go
to ``tests/artifacts/``. Skipped where Chromium or Playwright is missing.
"""

import functools
import http.server
import os
import pathlib
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
    config["sphinx"]["local_extensions"] = {name: str(ROOT / path) for name, path
                                            in config["sphinx"]["local_extensions"].items()}
    config_path = out / "_config.yml"
    config_path.write_text(yaml.safe_dump(config))
    build = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
         "--path-output", str(out),
         "--config", str(config_path), "-n", "-W", "--keep-going"],
        capture_output=True, text=True, timeout=900)
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
    page.wait_for_function("() => window.MathJax === undefined || (window.MathJax.startup"
                           " && window.MathJax.startup.promise !== undefined)", timeout=30000)
    page.evaluate("() => window.MathJax && window.MathJax.startup.promise")
    return page, errors


def test_every_page_renders(site, browser):
    base, pages = site
    assert len(pages) >= 9, pages
    for path in pages:
        page, errors = open_page(browser, base + path)
        raw_math = page.evaluate(
            "() => [...document.querySelectorAll('.math, span.math, div.math')]"
            ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))")
        assert raw_math == [], f"{path}: untypeset math {raw_math[:3]}"
        merrors = page.evaluate("() => [...document.querySelectorAll('mjx-merror')].map(e => e.textContent)")
        assert merrors == [], f"{path}: MathJax errors {merrors}"
        broken = page.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                               ".map(i => i.src)")
        assert broken == [], f"{path}: images that did not load {broken}"
        assert errors == [], f"{path}: console errors {errors}"
        page.close()


def test_launch_buttons(site, browser):
    base, pages = site
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    for path in [p for p in pages if (ROOT / p).with_suffix(".ipynb").exists()]:
        page, _ = open_page(browser, base + path)
        hrefs = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
        notebook = pathlib.PurePosixPath(path).with_suffix(".ipynb").as_posix()
        assert f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=tree/{notebook}" in hrefs, path
        assert f"https://colab.research.google.com/github/{repo}/blob/{branch}/{notebook}" in hrefs, path
        # "Live Code" (thebe): the button exists, and its Binder kernel is built from this
        # repository at the book's branch.
        live = page.locator("button[onclick*='initThebe']")
        assert live.count() == 1 and "Live Code" in (live.first.get_attribute("title", timeout=1000) or "") + \
            (live.first.text_content(timeout=1000) or ""), f"{path}: no Live Code button"
        thebe = page.evaluate("() => [...document.querySelectorAll('script[type=\"text/x-thebe-config\"]')]"
                              ".map(s => s.textContent).join('')")
        assert f'repo: "{repo}"' in thebe and f'ref: "{branch}"' in thebe, f"{path}: thebe config {thebe!r}"
        page.close()


def test_graph_drawings_and_screenshots(site, browser):
    base, _ = site
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page, errors = open_page(browser, base + "book/01_graphs.html")
    svgs = page.evaluate("() => [...document.querySelectorAll('.cell_output img')]"
                         ".filter(i => i.src.endsWith('.svg')).map(i => [i.naturalWidth, i.naturalHeight])")
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
    output = solution.locator(".cell_output").first  # the solution's code cell ran, inside the dropdown
    assert not output.is_visible(), "the solution is not folded"
    solution.locator(".admonition-title").click()
    output.wait_for(state="visible", timeout=5000)
    assert output.inner_text().startswith("exactly 0:")
    assert solution.locator(".cell_input").first.is_visible()
    assert solution.locator(".pasted-text").first.inner_text().endswith("%")  # glued from that cell
    assert errors == [], errors
    page.close()
