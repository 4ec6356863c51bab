"""Sphinx extension: drop repeated inline <script> bodies from each page.

sphinx-thebe 0.3.1, which Jupyter Book 1.x always loads, registers its inline
configuration script twice, so every page declared `const THEBE_JS_URL` twice
and the browser logged "Identifier 'THEBE_JS_URL' has already been declared".
The browser test (tests/test_browser.py) fails on any console error.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body")
        if body:
            if body in seen:
                continue
            seen.add(body)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
