"""Sphinx extension: accessibility fixes to the theme's HTML (issue 24, WCAG 2.1 AA).

tests/test_browser.py runs axe-core on every page; these are the violations that came from
the theme or the HTML writer, not from the chapters:

- The book's title at the top of the primary sidebar (the theme's ``navbar-logo.html``)
  was outside every landmark (axe: region). It is wrapped in ``<nav aria-label="Home">``:
  it is a link to the book's first page. The theme's template itself is not changed.
- Docutils marks each bibliography entry ``role="doc-biblioentry"``, a role that DPUB-ARIA
  1.1 deprecates, inside a ``role="list"``; axe then finds the list without list items
  (aria-required-children, critical) and the role not allowed on a div. Entries become
  ``role="listitem"``.

The other fixes are in _static/: a11y.css (link colors with enough contrast) and a11y.js
(scrollable boxes inside folded content become keyboard-focusable when unfolded).
"""

import jinja2


def _add_templates(app):
    templates = getattr(app.builder, "templates", None)
    if not hasattr(templates, "loaders"):  # not an HTML builder
        return
    # The theme's template, as the theme would find it, wrapped; the wrapped one is found
    # first, like a template in templates_path.
    source, _, _ = templates.get_source(templates.environment, "navbar-logo.html")
    wrapped = '<nav class="sidebar-home" aria-label="Home">' + source + "</nav>"
    templates.loaders.insert(0, jinja2.DictLoader({"navbar-logo.html": wrapped}))


def _bibliography_roles(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app):
    app.connect("builder-inited", _add_templates)
    app.connect("html-page-context", _bibliography_roles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
