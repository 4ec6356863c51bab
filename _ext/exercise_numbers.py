"""Exercises numbered by chapter: "Exercise 3.2" is the second exercise of book/03_mlp.

Sphinx numbers sphinx-exercise's exercises like figures: with a table of contents that
is not numbered (this book's), one count runs through the whole book in _toc.yml's
order, so chapter 3's second exercise would be "Exercise 9" and chapter 9's exercises
would come before chapter 8's. After Sphinx has assigned its numbers (the
``env-get-updated`` event), this renumbers each page's exercises 1, 2, ... in page
order, prefixed by the chapter number in the file's name (``03_mlp`` gives 3.1, 3.2).
A page whose name has no number gets plain 1, 2, .... Exercise titles, the
"Solution to Exercise 3.2" links and ``{numref}`` references all read these numbers.
"""

import re

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

CHAPTER = re.compile(r"^(\d+)_")


def number_by_chapter(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Replaces the book-wide exercise numbers by chapter.number; returns no extra pages."""
    for docname, numbers in env.toc_fignumbers.items():
        exercises = numbers.get("exercise")
        if not exercises:
            continue
        chapter = CHAPTER.match(docname.rsplit("/", 1)[-1])
        prefix = (int(chapter.group(1)),) if chapter else ()
        # the book-wide numbers increase in page order
        for position, label in enumerate(sorted(exercises, key=exercises.get), start=1):
            exercises[label] = (*prefix, position)
    return []


def setup(app: Sphinx) -> dict:
    # after Sphinx's own TocTreeCollector (priority 500) has numbered everything
    app.connect("env-get-updated", number_by_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
