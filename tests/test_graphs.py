"""draw_graph on TF2 functions and TF1 graphs."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from vaelib.graphs import draw_graph
from vaelib.mlp import MLP


def logistic_function():
    beta = tf.Variable(tf.zeros([5, 1]), name="beta")
    table = tf.constant(np.arange(4096, dtype=np.float32))  # a large constant

    @tf.function
    def predict(x):
        with tf.name_scope("model"):
            return tf.sigmoid(x @ beta) + 0.0 * tf.reduce_sum(table)

    return predict, beta


def node_lines(dot):
    return [line.strip() for line in dot.source.splitlines() if "[label=" in line]


def test_kinds_are_drawn_differently():
    predict, _ = logistic_function()
    dot = draw_graph(predict, tf.TensorSpec([None, 5], name="x"))
    lines = node_lines(dot)
    assert any("label=x " in line and "invhouse" in line for line in lines)
    assert any("label=beta " in line and "cylinder" in line for line in lines)
    assert any("label=Sigmoid" in line and "ellipse" in line for line in lines)
    assert "cluster_model" in dot.source
    assert "4095" not in dot.source  # constants are drawn without their values
    assert not any("label=ReadVariableOp" in line for line in lines)  # reads fold into variables


def test_collapsing_scopes_reduces_nodes():
    model = MLP([784, 30, 30, 10], name="mlp")
    fn = tf.function(lambda x: model(x))
    full = draw_graph(fn, tf.TensorSpec([None, 784]), max_depth=3)
    collapsed = draw_graph(fn, tf.TensorSpec([None, 784]), max_depth=0)
    assert len(node_lines(collapsed)) < len(node_lines(full))
    assert any("box3d" in line and "label=mlp" in line for line in node_lines(collapsed))
    # variables stay visible even when their scope collapses
    assert sum("cylinder" in line for line in node_lines(collapsed)) == 6


def test_tf1_graph():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 5], name="x_ph")
        beta = tf.compat.v1.get_variable(
            "beta_hat", [5, 1], initializer=tf.compat.v1.zeros_initializer()
        )
        tf.sigmoid(tf.matmul(x, beta), name="yhat")
    lines = node_lines(draw_graph(graph))
    assert any("label=x_ph" in line and "invhouse" in line for line in lines)
    assert any("label=beta_hat" in line and "cylinder" in line for line in lines)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_renders_svg():
    predict, _ = logistic_function()
    svg = draw_graph(predict, tf.TensorSpec([None, 5])).pipe("svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and ">beta<" in svg


def test_bad_arguments():
    predict, _ = logistic_function()
    with pytest.raises(ValueError, match="max_depth must be a non-negative int"):
        draw_graph(predict, tf.TensorSpec([None, 5]), max_depth=-1)
    with pytest.raises(TypeError, match="expected a tf.Graph"):
        draw_graph(42)
