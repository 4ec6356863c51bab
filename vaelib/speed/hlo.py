"""Reading an XLA CPU program and its profiler trace, whichever library compiled it.

TensorFlow and JAX both hand their programs to XLA and both record, in the
profiler's XSpace, one event per op that XLA's CPU runtime runs, named after the
op's HLO instruction. So one reader serves both (``vaelib.speed.profiling`` for
TensorFlow's step, ``benchmarks/profile_step.py`` for both libraries):

- :func:`hlo_op_categories` puts each op of the optimized HLO's entry computation in a
  category and counts a matrix product's FLOPs, also when XLA wrapped the product in a
  fusion (JAX's CPU backend runs many products as ``__ynn_fusion`` custom fusions).
- :func:`trace_times` adds up the events of a trace by name, and :func:`program_seconds`
  finds the compiled program's own span, which the two runtimes mark differently.
"""

from __future__ import annotations

import collections
import re

import numpy as np
from tensorflow.tsl.profiler.protobuf import xplane_pb2

__all__ = ["CATEGORIES", "hlo_op_categories", "program_seconds", "read_space", "trace_times"]

CATEGORIES = (
    "forward matmuls",
    "backward matmuls",
    "forward elementwise",
    "backward elementwise",
    "optimizer update",
    "input batch",
    "copies",
    "other",
)
# name = shape opcode(operands), rest; a tuple's shape is in parentheses (a loop's state)
_INSTRUCTION = re.compile(
    r"^\s*(?:ROOT )?%?([\w.\-]+) = (\((?:[^()]|\([^()]*\))*\)|\S+) ([a-z\-]+)\(([^)]*)\)(.*)$"
)
_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$")
# The compiled program's span: TensorFlow's runtime wraps it in one event; JAX's PjRt client
# runs it on its own threads as an execute event and a wait for the program's last op.
_TF_PROGRAM = "CpuExecutable::ExecuteAsyncOnStream"
_PJRT_PROGRAM = ("ThunkExecutor::Execute", "ThunkExecutor::Execute (wait for completion)")
_PJRT_LINE = "PjRtCpuClient"


def _backward(op_name: str) -> bool:
    """An op of the gradient: under TensorFlow's ``gradient_tape/`` scope, or of JAX's
    reverse mode (``transpose(jvp(...))``)."""
    return op_name.startswith("gradient_tape/") or "transpose(jvp(" in op_name


def _dot_flops(shapes: dict, name: str, operands: str, rest: str) -> float:
    """2 x output size x contracted size of one ``dot`` instruction."""
    lhs = operands.split(",")[0].strip().lstrip("%")
    contracting = re.search(r"lhs_contracting_dims=\{(\d+)\}", rest)
    size = shapes[lhs][int(contracting[1])] if contracting and lhs in shapes else 0
    return 2.0 * float(np.prod(shapes[name])) * size


def _computations(hlo: str) -> dict[str, list[tuple]]:
    """{computation name: [(name, shape, opcode, operands, rest), ...]}; "ENTRY" for the entry."""
    found, current = {}, None
    for line in hlo.splitlines():
        header = _COMPUTATION.match(line)
        if header and "=" not in line.split("{")[0].split("(")[0]:
            current = "ENTRY" if line.startswith("ENTRY") else header[1]
            found[current] = []
            continue
        match = _INSTRUCTION.match(line)
        if match and current is not None:
            found[current].append(match.groups())
    return found


def _flops_of(instructions: list[tuple]) -> float:
    """FLOPs of the ``dot`` instructions of one computation."""
    shapes, flops = {}, 0.0
    for name, shape, opcode, operands, rest in instructions:
        dims = re.match(r"\w+\[([\d,]*)\]", shape)
        shapes[name] = [int(d) for d in dims[1].split(",") if d] if dims else []
        if opcode == "dot":
            flops += _dot_flops(shapes, name, operands, rest)
    return flops


_CONTROL = ("while", "conditional", "call")
_CALLED = re.compile(
    r"(?:body|condition|true_computation|false_computation|to_apply)=%?([\w.\-]+)"
    r"|branch_computations=\{([^}]*)\}"
)


def _program_instructions(computations: dict[str, list[tuple]]) -> list[tuple]:
    """The instructions the runtime runs as ops of their own: the entry computation's, and
    those of every computation a ``while`` loop, ``conditional`` or ``call`` runs (a loop
    of training steps runs its steps' ops inside a ``while`` body), once each."""
    found, seen, queue = [], {"ENTRY"}, ["ENTRY"]
    while queue:
        for instruction in computations.get(queue.pop(0), []):
            found.append(instruction)
            if instruction[2] not in _CONTROL:
                continue
            for one, many in _CALLED.findall(instruction[4]):
                for called in [one] if one else [c.strip().lstrip("%") for c in many.split(",")]:
                    if called and called not in seen:
                        seen.add(called)
                        queue.append(called)
    return found


def hlo_op_categories(
    hlo: str, optimizer_scope: str = "adam", input_scope: str = "input_batch"
) -> dict[str, tuple[str, float]]:
    """Maps each op of an optimized HLO module's program to (category, FLOPs).

    The program's ops are the entry computation's and those of the computations that its
    loops and conditionals run (a loop of steps, such as ``fit``'s or ``jax.lax.scan``'s,
    runs each step's ops in its body); the loop or conditional itself is not an op here.

    A matrix product is a ``dot``, or a ``fusion`` whose called computation holds one (its
    FLOPs are those of the dots inside). The backward pass is what TensorFlow records under
    ``gradient_tape/`` and JAX under ``transpose(jvp(...))``; the optimizer's update is what
    runs under its name scope, and the input batch is what a loop that draws its own
    batches (``vaelib.InMemoryData``'s gather and Bernoulli draw) runs under ``input_scope``.

    Args:
      hlo: an optimized HLO module's text (TensorFlow:
        ``step.experimental_get_compiler_ir(batch)(stage="optimized_hlo")``; JAX:
        ``jax.jit(step).lower(...).compile().as_text()``).
      optimizer_scope: the optimizer's name scope: a Keras optimizer's ``name``, which
        Keras numbers (``adam``, ``adam_1``, ...; any number matches), or a
        ``jax.named_scope`` around the update; matched at the start of the op's name or
        after a ``/``.
      input_scope: the name scope of a loop's own batch drawing, matched the same way.

    Returns:
      ``{op name: (category, FLOPs)}``, one of :data:`CATEGORIES` each; FLOPs are nonzero
      for matmuls only (2 x output size x contracted size).

    Raises:
      ValueError: ``hlo`` has no ENTRY computation.
    """
    if "\nENTRY" not in hlo:
        raise ValueError("hlo must be the text of an HLO module with an ENTRY computation")
    computations = _computations(hlo)
    fused_flops = {name: _flops_of(body) for name, body in computations.items() if name != "ENTRY"}
    optimizer, batch = (
        re.compile(rf"(^|/){re.escape(scope)}(_\d+)?/", re.IGNORECASE)
        for scope in (optimizer_scope, input_scope)
    )
    shapes, ops = {}, {}
    for name, shape, opcode, operands, rest in _program_instructions(computations):
        if opcode in _CONTROL:  # its time is its computations' ops, counted on their own
            continue
        dims = re.match(r"\w+\[([\d,]*)\]", shape)
        shapes[name] = [int(d) for d in dims[1].split(",") if d] if dims else []
        op_name = (re.search(r'op_name="([^"]*)"', rest) or [None, ""])[1]
        called = re.search(r"calls=%?([\w.\-]+)", rest)
        flops = 0.0
        if opcode == "dot":
            flops = _dot_flops(shapes, name, operands, rest)
        elif opcode == "fusion" and called:
            flops = fused_flops.get(called[1], 0.0)
        if flops:
            category = "backward matmuls" if _backward(op_name) else "forward matmuls"
        elif optimizer.search(op_name):
            category = "optimizer update"
        elif batch.search(op_name):
            category = "input batch"
        elif opcode == "copy":
            category = "copies"
        elif opcode == "fusion":
            category = "backward elementwise" if _backward(op_name) else "forward elementwise"
        else:
            category = "other"
        ops[name] = (category, flops)
    return ops


def read_space(path: str) -> xplane_pb2.XSpace:
    """The profiler's XSpace from an ``.xplane.pb`` file."""
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    return space


def trace_times(space: xplane_pb2.XSpace) -> collections.Counter:
    """{event name: seconds}, summed over every thread of every plane."""
    times = collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                times[names.get(event.metadata_id, "")] += event.duration_ps * 1e-12
    return times


def program_seconds(space: xplane_pb2.XSpace) -> float:
    """Wall seconds of the compiled program over the whole trace: TensorFlow's
    ``CpuExecutable::ExecuteAsyncOnStream`` events where present, else the events of JAX's
    PjRt CPU client threads that start the program and wait for it to finish."""
    tf_program = trace_times(space).get(_TF_PROGRAM, 0.0)
    if tf_program:
        return tf_program
    seconds = 0.0
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if _PJRT_LINE not in line.name:
                continue
            for event in line.events:
                if names.get(event.metadata_id, "") in _PJRT_PROGRAM:
                    seconds += event.duration_ps * 1e-12
    return seconds
