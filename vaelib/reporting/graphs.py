"""Drawing TensorFlow graphs with graphviz (chapter 1).

The TF1 notes drew graphs with a TensorBoard web component loaded from a page
that no longer exists. :func:`draw_graph` instead turns a ``GraphDef`` into a
graphviz ``Digraph``: it renders to SVG offline, inline in a notebook and in
the built book, and needs only the ``dot`` program (``apt-get install
graphviz``; Colab has it).

What is drawn:

* inputs (placeholders / function arguments): blue, house-shaped;
* variables (state): yellow cylinders, labelled with the variable's name;
* constants: small grey text, never their values (large constants are what
  made the notes' viewer strip bytes);
* other ops: white ellipses labelled with their op type;
* name scopes: nested boxes. Scopes deeper than ``max_depth`` collapse into one
  grey node, which keeps a big model readable.
"""

from __future__ import annotations

import collections
from typing import Iterable

import graphviz
import tensorflow as tf

from vaelib import validation

__all__ = ["graph_def_of", "draw_graph"]

_INPUT = dict(shape="invhouse", style="filled", fillcolor="#cfe2ff")
_VARIABLE = dict(shape="cylinder", style="filled", fillcolor="#fff3bf")
_CONST = dict(shape="plaintext", fontcolor="#868e96", fontsize="9")
_OP = dict(shape="ellipse", style="filled", fillcolor="white")
_SCOPE = dict(shape="box3d", style="filled", fillcolor="#e9ecef")
_VARIABLE_OPS = {"VarHandleOp", "VariableV2", "Variable"}
_HIDDEN_OPS = {"NoOp"}


def graph_def_of(graph_or_function, *args, **kwargs):
    """Returns ``(graph_def, variable_names)`` for a graph or a ``tf.function``.

    Args:
      graph_or_function: a ``tf.Graph``, a ``GraphDef``, a concrete function, or
        a ``tf.function`` (then traced with ``*args, **kwargs``, which may be
        ``tf.TensorSpec`` s).

    Returns:
      The ``GraphDef`` and a dict from placeholder node names that stand for
      captured variables to the variables' names.
    """
    if isinstance(graph_or_function, tf.Graph):
        return graph_or_function.as_graph_def(), {}
    if isinstance(graph_or_function, tf.compat.v1.GraphDef):
        return graph_or_function, {}
    concrete = graph_or_function
    if hasattr(concrete, "get_concrete_function"):
        concrete = concrete.get_concrete_function(*args, **kwargs)
    if not hasattr(concrete, "graph"):
        raise TypeError(
            "expected a tf.Graph, a GraphDef or a tf.function, "
            f"got {type(graph_or_function).__name__}"
        )
    by_handle = {id(v.handle): v.name.split(":")[0] for v in concrete.variables}
    names = {}
    for external, internal in concrete.graph.captures:
        if id(external) in by_handle:
            names[internal.op.name] = by_handle[id(external)]
    return concrete.graph.as_graph_def(), names


def _kind(node, variable_names) -> str:
    if node.op in _VARIABLE_OPS or node.name in variable_names:
        return "variable"
    if node.op == "Placeholder":
        return "input"
    if node.op == "Const":
        return "const"
    return "op"


def _source(name: str) -> str | None:
    if name.startswith("^"):  # a control dependency, not data flow
        return None
    return name.split(":")[0]


def draw_graph(
    graph_or_function,
    *args,
    max_depth: int = 2,
    hide: Iterable[str] = (),
    rankdir: str = "BT",
    **kwargs,
) -> graphviz.Digraph:
    """Draws a TensorFlow graph as a graphviz ``Digraph`` (shows as SVG in Jupyter).

    Args:
      graph_or_function: a ``tf.Graph``, ``GraphDef``, concrete function or
        ``tf.function`` (traced with ``*args, **kwargs``).
      max_depth: name scopes nested deeper than this collapse into one node;
        0 collapses every top-level scope.
      hide: op types to leave out, in addition to ``NoOp``; edges pass through
        them to their first data input.
      rankdir: graphviz layout direction; ``"BT"`` puts inputs at the bottom
        as TensorBoard does.

    Returns:
      A ``graphviz.Digraph``; ``.source`` is its DOT text, ``.pipe("svg")`` renders it.

    Raises:
      ValueError: ``max_depth`` is negative.
    """
    max_depth = validation.integer("max_depth", max_depth, minimum=0)
    graph_def, variable_names = graph_def_of(graph_or_function, *args, **kwargs)
    hidden = _HIDDEN_OPS | set(hide) | {"ReadVariableOp"}  # a read is drawn as its variable
    nodes = list(graph_def.node)

    by_name = {n.name: n for n in nodes}
    kinds = {n.name: _kind(n, variable_names) for n in nodes}

    def resolve(name: str) -> str | None:
        """Follows hidden ops (variable reads, ``hide``) back to a drawn source."""
        node = by_name.get(name)
        while node is not None and node.op in hidden:
            data_inputs = [s for s in map(_source, node.input) if s is not None]
            if not data_inputs:
                return None
            name = data_inputs[0]
            node = by_name.get(name)
        return name

    def key(node_name: str) -> str:
        """The drawn node that stands for a graph node: itself or its collapsed scope."""
        if kinds.get(node_name) in ("input", "variable"):
            return node_name  # state and inputs are never hidden inside a scope
        parts = node_name.split("/")
        return "/".join(parts[: max_depth + 1]) if len(parts) - 1 > max_depth else node_name

    dot = graphviz.Digraph(
        graph_attr=dict(rankdir=rankdir, fontname="Helvetica", fontsize="11"),
        node_attr=dict(fontname="Helvetica", fontsize="10"),
    )
    scopes = collections.defaultdict(list)  # scope path -> [(id, label, attrs)]
    drawn = set()
    visible = [n for n in nodes if n.op not in hidden]
    # Real nodes first, so that an op named like a collapsed scope keeps its own label.
    for node in sorted(visible, key=lambda n: key(n.name) != n.name):
        k = key(node.name)
        if k in drawn:
            continue
        drawn.add(k)
        kind = kinds[node.name]
        if k != node.name:
            label, attrs = k.split("/")[-1], _SCOPE
        elif kind == "variable":
            label, attrs = variable_names.get(node.name, node.name.split("/")[-1]), _VARIABLE
        elif kind == "input":
            label, attrs = node.name.split("/")[-1], _INPUT
        else:
            label, attrs = node.op, {"const": _CONST, "op": _OP}[kind]
        scope = "" if kind in ("input", "variable") else "/".join(k.split("/")[:-1])
        scopes[scope].append((k, label, attrs))

    def add_scope(parent: graphviz.Digraph, path: str) -> None:
        for node_id, label, attrs in scopes.get(path, []):
            parent.node(node_id, label, **attrs)
        if not path:
            children = sorted({p.split("/")[0] for p in scopes if p})
        else:
            children = sorted(
                {
                    path + "/" + p[len(path) + 1 :].split("/")[0]
                    for p in scopes
                    if p.startswith(path + "/")
                }
            )
        for child in children:
            with parent.subgraph(name="cluster_" + child) as sub:
                sub.attr(label=child.split("/")[-1], style="rounded", color="#adb5bd")
                add_scope(sub, child)

    add_scope(dot, "")
    edges = set()
    for node in visible:
        for name in node.input:
            source = _source(name)
            source = resolve(source) if source in by_name else None
            if source is None:
                continue
            edge = (key(source), key(node.name))
            if edge[0] != edge[1] and edge not in edges:
                edges.add(edge)
                dot.edge(*edge)
    return dot
