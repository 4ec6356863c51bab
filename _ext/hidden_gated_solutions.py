"""``hide_solutions: true`` removes gated solutions too (sphinx-exercise 1.2.1 cannot).

With ``hide_solutions``, sphinx-exercise's ``{solution-start}`` returns nothing, while
``{solution-end}`` still returns its marker and the cells between the two stay in
the page: a strict build stops with "unknown node type: solution_end_node", and a
lenient one shows every gated solution's text and code, no longer in a dropdown
(https://github.com/executablebooks/sphinx-exercise/issues/89, open). Here
``{solution-start}`` leaves a marker when solutions are hidden, and a transform that
runs after sphinx-exercise has checked the gates and before it merges them removes
the marker, everything after it up to the matching ``{solution-end}``, and that end.
Drop this extension once sphinx-exercise fixes the issue.
"""

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node


class hidden_solution_start(nodes.Element):
    """Where a gated solution began, in a book built with ``hide_solutions: true``."""


class SolutionStart(SolutionStartDirective):
    """sphinx-exercise's ``{solution-start}``, leaving a marker when solutions are hidden."""

    def run(self):
        result = super().run()  # registers the start, which sphinx-exercise's checks count
        if self.config.hide_solutions:
            return [hidden_solution_start(label=self.arguments[0])]
        return result


class RemoveHiddenGatedSolutions(SphinxTransform):
    """Removes each hidden gated solution: its start marker, its cells, its end marker."""

    # after sphinx_exercise's CheckGatedDirectives (1), before MergeGatedSolutions (10)
    default_priority = 5

    def apply(self, **kwargs) -> None:
        for start in list(self.document.findall(hidden_solution_start)):
            parent = start.parent
            first = parent.index(start)
            for last in range(first + 1, len(parent.children)):
                if isinstance(parent.children[last], solution_end_node):
                    del parent[first : last + 1]
                    break
            else:  # no end beside it: sphinx-exercise's own check reports the gate
                parent.remove(start)


def _skip(self, node):
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx_exercise")
    app.add_directive("solution-start", SolutionStart, override=True)
    app.add_node(
        hidden_solution_start, html=(_skip, None), latex=(_skip, None), singlehtml=(_skip, None)
    )
    app.add_transform(RemoveHiddenGatedSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
