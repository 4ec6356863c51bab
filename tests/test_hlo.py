"""vaelib.speed.hlo: a program's ops by category, and its trace, for TensorFlow and JAX alike."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from vaelib.speed import hlo, vae_flops_per_example
from vaelib.speed.profiling import profile_from_trace

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The shape of JAX 0.10's CPU programs: a product wrapped in a custom fusion (YNNPACK), a
# plain dot for dW under reverse mode's transpose(jvp(...)), optax's update under a named scope.
JAX_STYLE = """HloModule jit_step

%fused_computation.19 (param_0: f32[100,784], param_1: f32[784,500]) -> f32[100,500] {
  %param_0 = f32[100,784]{1,0} parameter(0)
  %param_1 = f32[784,500]{1,0} parameter(1)
  ROOT %dot.0 = f32[100,500]{1,0} dot(%param_0, %param_1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

%fused_computation.2 (param_0.1: f32[100,500]) -> f32[100,500] {
  %param_0.1 = f32[100,500]{1,0} parameter(0)
  ROOT %multiply.1 = f32[100,500]{1,0} multiply(%param_0.1, %param_0.1)
}

ENTRY %main.33 (x.1: f32[100,784], w.1: f32[784,500]) -> f32[784,500] {
  %x.1 = f32[100,784]{1,0} parameter(0), metadata={op_name="x"}
  %w.1 = f32[784,500]{1,0} parameter(1), metadata={op_name="state[0]"}
  %copy.52 = f32[784,500]{1,0} copy(%w.1)
  %ynn_fusion.19 = f32[100,500]{1,0} fusion(%x.1, %copy.52), kind=kCustom, calls=%fused_computation.19, metadata={op_name="jit(step)/jvp()/dot_general"}, backend_config={"fusion_config":{"kind":"__ynn_fusion"}}
  %multiply_multiply_fusion = f32[100,500]{1,0} fusion(%ynn_fusion.19), kind=kLoop, calls=%fused_computation.2, metadata={op_name="jit(step)/transpose(jvp())/mul"}
  %dot.3 = f32[784,500]{1,0} dot(%x.1, %multiply_multiply_fusion), lhs_contracting_dims={0}, rhs_contracting_dims={0}, metadata={op_name="jit(step)/transpose(jvp())/transpose"}
  ROOT %multiply_add_fusion.3 = f32[784,500]{1,0} fusion(%w.1, %dot.3), kind=kLoop, calls=%fused_computation.2, metadata={op_name="jit(step)/adam/add"}
}
"""


def test_jax_style_program():
    ops = hlo.hlo_op_categories(JAX_STYLE)
    # the fused product: 2 x (100 x 500 outputs) x 784 contracted
    assert ops["ynn_fusion.19"] == ("forward matmuls", 2 * 100 * 500 * 784)
    assert ops["dot.3"] == ("backward matmuls", 2 * 784 * 500 * 100)  # dW = x^T dy
    assert ops["multiply_multiply_fusion"] == ("backward elementwise", 0.0)
    assert ops["multiply_add_fusion.3"] == ("optimizer update", 0.0)
    assert ops["copy.52"] == ("copies", 0.0)
    # only the entry computation's ops: the fused computations' own are inside them
    assert "dot.0" not in ops and "multiply.1" not in ops


def test_a_scope_named_like_the_optimizer_only_at_a_boundary():
    text = JAX_STYLE.replace("jit(step)/adam/add", "jit(step)/madam/add")
    assert hlo.hlo_op_categories(text)["multiply_add_fusion.3"][0] == "forward elementwise"
    numbered = JAX_STYLE.replace("jit(step)/adam/add", "adam_3/update")  # Keras: adam_3
    assert hlo.hlo_op_categories(numbered)["multiply_add_fusion.3"][0] == "optimizer update"


# A loop of steps (fit's, or lax.scan's): the steps' ops run in a while loop's body, whose
# state is a tuple; the condition runs a conditional; the batch is drawn under input_batch.
LOOP_STYLE = """HloModule loop

%fused_computation.1 (param_0: u8[100,784]) -> f32[100,784] {
  %param_0 = u8[100,784]{1,0} parameter(0)
  ROOT %convert.1 = f32[100,784]{1,0} convert(%param_0)
}

%body.1 (state.1: (s32[], u8[100,784], f32[784,500])) -> (s32[], u8[100,784], f32[784,500]) {
  %state.1 = (s32[], u8[100,784]{1,0}, /*index=2*/f32[784,500]{1,0}) parameter(0)
  %images.1 = u8[100,784]{1,0} get-tuple-element(%state.1), index=1
  %w.2 = f32[784,500]{1,0} get-tuple-element(%state.1), index=2
  %draw_fusion = f32[100,784]{1,0} fusion(%images.1), kind=kLoop, calls=%fused_computation.1, metadata={op_name="while/body/input_batch/Cast"}
  %dot.7 = f32[100,500]{1,0} dot(%draw_fusion, %w.2), lhs_contracting_dims={1}, rhs_contracting_dims={0}, metadata={op_name="vae/encoder/matmul"}
  %n.1 = s32[] get-tuple-element(%state.1), index=0
  ROOT %tuple.9 = (s32[], u8[100,784]{1,0}, /*index=2*/f32[784,500]{1,0}) tuple(%n.1, %images.1, %w.2)
}

%true.1 (t.1: s32[]) -> pred[] {
  %t.1 = s32[] parameter(0)
  ROOT %compare.3 = pred[] compare(%t.1, %t.1), direction=LT, metadata={op_name="while/cond"}
}

%false.1 (f.1: s32[]) -> pred[] {
  %f.1 = s32[] parameter(0)
  ROOT %constant.4 = pred[] constant(false)
}

%cond.1 (state.2: (s32[], u8[100,784], f32[784,500])) -> pred[] {
  %state.2 = (s32[], u8[100,784]{1,0}, /*index=2*/f32[784,500]{1,0}) parameter(0)
  %n.2 = s32[] get-tuple-element(%state.2), index=0
  %flag.1 = pred[] constant(true)
  ROOT %conditional.2 = pred[] conditional(%flag.1, %n.2, %n.2), true_computation=%true.1, false_computation=%false.1
}

ENTRY %main.1 (images.0: u8[100,784], w.0: f32[784,500]) -> f32[784,500] {
  %images.0 = u8[100,784]{1,0} parameter(0)
  %w.0 = f32[784,500]{1,0} parameter(1)
  %zero.1 = s32[] constant(0)
  %tuple.1 = (s32[], u8[100,784]{1,0}, /*index=2*/f32[784,500]{1,0}) tuple(%zero.1, %images.0, %w.0)
  %while.8 = (s32[], u8[100,784]{1,0}, /*index=2*/f32[784,500]{1,0}) while(%tuple.1), condition=%cond.1, body=%body.1
  ROOT %out.1 = f32[784,500]{1,0} get-tuple-element(%while.8), index=2
}
"""


def test_a_loop_of_steps_is_read_through_its_body():
    ops = hlo.hlo_op_categories(LOOP_STYLE)
    assert ops["dot.7"] == ("forward matmuls", 2 * 100 * 500 * 784)  # inside the body
    assert ops["draw_fusion"] == ("input batch", 0.0)
    assert "compare.3" in ops and "constant.4" in ops  # the condition's conditional's branches
    # the loop and the conditional are not ops of their own: their time is their bodies'
    assert "while.8" not in ops and "conditional.2" not in ops
    assert "convert.1" not in ops  # inside a fusion
    renamed = LOOP_STYLE.replace("input_batch/", "pipeline/")
    assert hlo.hlo_op_categories(renamed, input_scope="pipeline")["draw_fusion"][0] == (
        "input batch"
    )


def _space(lines_by_name: dict[str, list[tuple[str, float]]]) -> xplane_pb2.XSpace:
    """An XSpace with one plane; {line name: [(event name, milliseconds)]}."""
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    ids = {}
    for line_name, events in lines_by_name.items():
        line = plane.lines.add(name=line_name)
        for name, ms in events:
            if name not in ids:
                ids[name] = len(ids) + 1
                plane.event_metadata[ids[name]].name = name
            line.events.add(metadata_id=ids[name], duration_ps=int(ms * 1e9))
    return space


def test_trace_times_and_the_program_span():
    jax_trace = _space(
        {
            "python": [("PjitFunction(step)", 1.0)],
            "tf_XLAEigen/1": [("dot.3", 2.0), ("ThunkExecutor::Execute", 5.0)],
            "tf_XLAPjRtCpuClient/7": [
                ("ThunkExecutor::Execute", 0.5),
                ("ThunkExecutor::Execute (wait for completion)", 6.0),
            ],
            "tf_XLAPjRtCpuClient/8": [("dot.3", 1.5)],
        }
    )
    times = hlo.trace_times(jax_trace)
    assert times["dot.3"] == pytest.approx(3.5e-3)
    # JAX: the client's execute and its wait; the Eigen threads' nested executes are not it
    assert hlo.program_seconds(jax_trace) == pytest.approx(6.5e-3)
    tf_trace = _space({"tf_XLAEigen/1": [("CpuExecutable::ExecuteAsyncOnStream", 4.0)]})
    assert hlo.program_seconds(tf_trace) == pytest.approx(4e-3)


@pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("jax", "optax")),
    reason="JAX and optax are bench extras",
)
def test_a_real_jax_program_has_the_products_the_layers_count(tmp_path):
    """benchmarks/jax_step.py --profile, read back: every product of the course's VAE found,
    its FLOPs equal to the count from the layer shapes (vaelib's, for the same layers)."""
    import vaelib

    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "jax_step.py"),
            "--profile",
            str(tmp_path),
            "--models",
            "course",
            "--steps",
            "5",
        ],
        check=True,
        capture_output=True,
    )
    folder = tmp_path / "course"
    wall = json.loads((folder / "wall.json").read_text())
    trace = next(folder.glob("trace/**/*.xplane.pb"))
    profile = profile_from_trace(
        (folder / "hlo.txt").read_text(), str(trace), steps=wall["steps"], wall=wall["wall"]
    )
    matmul_flops = profile.flops["forward matmuls"] + profile.flops["backward matmuls"]
    assert matmul_flops == 100 * vae_flops_per_example(vaelib.VAE(vaelib.VAEConfig()))
    assert profile.thread_time["optimizer update"] > 0  # the named scope was found
    assert 0 < profile.program <= profile.step
