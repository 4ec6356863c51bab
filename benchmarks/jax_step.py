"""JAX's variants of the training benchmark, served to ``train_step.py`` (a worker).

Usage: python benchmarks/jax_step.py [--models notes course] [--images PATH] [--matmul]
       python benchmarks/jax_step.py --profile FOLDER [--models notes course] [--steps 200]
                                     [--images PATH]

The VAE training step of ``tf_train.py`` in JAX, for each model: the same layers,
Glorot-uniform weights and zero biases, logits out, the Bernoulli likelihood from
logits and the exact KL, ``optax.adam(1e-3)``, batch 100, on the same 20 random
binary batches. Two variants:

* ``JAX jit``: one ``jax.jit`` step per call, its loss read after every step;
* ``JAX jit + scan 20``: ``jax.lax.scan`` over a stack of 20 batches inside one
  ``jax.jit`` call (the same trick as ``fit``'s loop), the 20 losses read after
  each call; the stack is passed from host memory at every call, as ``fit``
  passes its stacked batches;
* ``JAX jit + scan 20, on-device data`` (with ``--images PATH``, a ``.npy`` of ``[N, 784]``
  uint8 images, for the course's model): fed as ``fit`` is fed an ``InMemoryData``: the
  images stay on the device, each epoch has a new ``jax.random.permutation``, and each step
  of the scan gathers its 100 images and draws ``jax.random.bernoulli(intensity / 255)``
  inside the compiled program; the rate counts every call, epochs included.

With ``--matmul``, JAX's own float32 matmul rates for ``workers.MATMUL_SHAPES``. With
``--profile FOLDER``, no worker: it profiles the ``jit`` step (and, with ``--images``,
the on-device scan) into FOLDER for ``profile_step.py`` (see :func:`profile`), and exits.

Imports no TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workers import MATMUL_SHAPES, matmul_name, protocol_stream, serve, timed  # noqa: E402

PROTOCOL = protocol_stream() if __name__ == "__main__" else None
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

BATCH, LATENT, PER_CALL = 100, 10, 20
MODELS = {
    "notes": ((784, 500, 500, 500), (LATENT, 500, 500, 784), jax.nn.sigmoid),
    "course": ((784, 500, 500), (LATENT, 500, 500, 784), jnp.tanh),
}
MODEL_NAMES = {"notes": "notes' VAE (sigmoid)", "course": "course's VAE (tanh)"}


def init_mlp(key, sizes):
    params = []
    # consecutive pairs of layer sizes: sizes[1:] is one shorter, by design
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        key, sub = jax.random.split(key)
        limit = np.sqrt(6.0 / (n_in + n_out))
        params.append(
            (jax.random.uniform(sub, (n_in, n_out), minval=-limit, maxval=limit), jnp.zeros(n_out))
        )
    return params


def apply_mlp(params, x, activation):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = activation(x)
    return x


def make_loss(activation):
    """The negative ELBO of a batch, one noise draw per example (as vaelib.vae_loss)."""

    def loss_fn(params, x, key):
        q_mu, q_logvar = jnp.split(apply_mlp(params["encoder"], x, activation), 2, axis=-1)
        z = q_mu + jnp.exp(0.5 * q_logvar) * jax.random.normal(key, q_mu.shape)
        logits = apply_mlp(params["decoder"], z, activation)
        log_px_z = jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)
        kl = 0.5 * jnp.sum(jnp.exp(q_logvar) + q_mu**2 - 1 - q_logvar, axis=-1)
        return -jnp.mean(log_px_z - kl)

    return loss_fn


def adam_update(optimizer, grads, opt_state, params, key):
    """The optimizer's update, under the name scope ``adam`` (as Keras names its Adam), so
    that a profile finds its ops (``vaelib.speed.hlo.hlo_op_categories``); the scope changes
    only the ops' names. Returns the step's new state."""
    with jax.named_scope("adam"):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, key


def batches() -> np.ndarray:
    """The same 20 batches as ``tf_train.batches()``."""
    rng = np.random.default_rng(0)
    return (rng.random((20, BATCH, 784)) < 0.13).astype(np.float32)


def init_model(name: str) -> tuple[dict, object, object]:
    """(params, optax Adam, loss function) of one model, as ``tf_train.py`` builds it."""
    encoder_sizes, decoder_sizes, activation = MODELS[name]
    key_e, key_d = jax.random.split(jax.random.PRNGKey(0))
    params = {
        "encoder": init_mlp(key_e, (*encoder_sizes, 2 * LATENT)),
        "decoder": init_mlp(key_d, decoder_sizes),
    }
    return params, optax.adam(1e-3), make_loss(activation)


def make_step(optimizer, loss_fn):
    """One training step on a batch ``x``: ``step((params, opt_state, key), x)`` returns the
    new state and the loss (a fresh noise key per step, as ``vaelib.vae_loss`` draws)."""

    def step(state, x):
        params, opt_state, key = state
        key, sub = jax.random.split(key)
        loss, grads = jax.value_and_grad(loss_fn)(params, x, sub)
        return adam_update(optimizer, grads, opt_state, params, key), loss

    return step


def train_variants(models: list[str]) -> dict:
    data = batches()
    variants = {}
    for name in models:
        params, optimizer, loss_fn = init_model(name)

        step = make_step(optimizer, loss_fn)
        one = jax.jit(step, donate_argnums=0)
        scan = jax.jit(lambda state, xs, step=step: jax.lax.scan(step, state, xs), donate_argnums=0)
        for label, fn, per_call in (
            ("JAX jit", one, 1),
            (f"JAX jit + scan {PER_CALL}", scan, PER_CALL),
        ):
            fresh = jax.tree_util.tree_map(
                jnp.copy, params
            )  # each variant's own: the step donates its state
            state = [(fresh, optimizer.init(fresh), jax.random.PRNGKey(1))]
            i = [0]

            def run(fn=fn, per_call=per_call, state=state, i=i):
                start = (i[0] * per_call) % len(data)
                xs = data[start] if per_call == 1 else data[start : start + per_call]
                state[0], loss = fn(state[0], xs)
                np.asarray(loss)  # read the loss(es), as fit reads every step's
                i[0] += 1

            for _ in range(3):  # compiles now
                run()
            variants[f"{MODEL_NAMES[name]}: {label}"] = timed(run, BATCH * per_call)
    return variants


def on_device_runner(images: np.ndarray):
    """The course's VAE trained as ``fit`` trains on an ``InMemoryData`` (see the docstring):
    ``(run, optimized_hlo)``: ``run()`` makes one call of ``PER_CALL`` steps and reads their
    losses; ``optimized_hlo()`` is the compiled call's optimized HLO. The batch is drawn under
    ``jax.named_scope("input_batch")``, where ``vaelib.speed.hlo`` finds it."""
    params, optimizer, loss_fn = init_model("course")
    pixels = jnp.asarray(images)  # [N, 784] uint8, kept on the device
    steps_per_epoch = len(images) // BATCH

    def call(state, order, first):
        def step(state, index):
            params, opt_state, key = state
            key, noise, binarize = jax.random.split(key, 3)
            with jax.named_scope("input_batch"):
                picked = jax.lax.dynamic_slice(order, (index * BATCH,), (BATCH,))
                p = pixels[picked].astype(jnp.float32) / 255.0
                x = jax.random.bernoulli(binarize, p).astype(jnp.float32)
            loss, grads = jax.value_and_grad(loss_fn)(params, x, noise)
            return adam_update(optimizer, grads, opt_state, params, key), loss

        return jax.lax.scan(step, state, first + jnp.arange(PER_CALL))

    run_call = jax.jit(call, donate_argnums=0)
    state = [(params, optimizer.init(params), jax.random.PRNGKey(1))]
    where = {"epoch": 0, "first": 0, "order": None}

    def run():
        if where["first"] == 0:  # a new epoch: a new order
            where["order"] = jax.random.permutation(
                jax.random.PRNGKey(where["epoch"]), len(images)
            ).astype(jnp.int32)
        state[0], losses = run_call(state[0], where["order"], jnp.int32(where["first"]))
        np.asarray(losses)  # read the losses, as fit reads every step's
        where["first"] += PER_CALL
        if where["first"] + PER_CALL > steps_per_epoch:
            where["first"], where["epoch"] = 0, where["epoch"] + 1

    def optimized_hlo() -> str:
        order = jnp.arange(len(images), dtype=jnp.int32)
        return run_call.lower(state[0], order, jnp.int32(0)).compile().as_text()

    return run, optimized_hlo


def on_device_variant(images: np.ndarray) -> dict:
    """The timed variant of :func:`on_device_runner`."""
    run, _ = on_device_runner(images)
    for _ in range(3):  # compiles now
        run()
    return {
        f"{MODEL_NAMES['course']}: JAX jit + scan {PER_CALL}, on-device data": timed(
            run, BATCH * PER_CALL
        )
    }


def matmul_variants() -> dict:
    """JAX's own float32 matmul rates (FLOP/s), in this process: each product's left operand
    depends on the loop counter, so XLA cannot hoist it out of the loop."""
    variants = {}
    for m, k, n in MATMUL_SHAPES:
        key_a, key_b = jax.random.split(jax.random.PRNGKey(m + k + n))
        a, b = jax.random.normal(key_a, (m, k)), jax.random.normal(key_b, (k, n))
        reps = max(1, int(2e9 // (2 * m * k * n)))

        @jax.jit
        def products(a, b, reps=reps, m=m, n=n):
            def body(i, acc):
                return acc + (a + 1e-30 * i.astype(jnp.float32)) @ b

            return jax.lax.fori_loop(0, reps, body, jnp.zeros((m, n)))[0, 0]

        def run(products=products, a=a, b=b):
            products(a, b).block_until_ready()

        run()
        variants[matmul_name("JAX", m, k, n)] = timed(run, reps * 2 * m * k * n)
    return variants


def profile(
    models: list[str], folder: str, steps: int, warmup: int, images: np.ndarray | None = None
) -> None:
    """Writes, for each model, what ``benchmarks/profile_step.py`` reads to profile JAX's
    ``jit`` step (one step per call, its loss read after every step, as timed above):
    ``FOLDER/MODEL/hlo.txt`` (the optimized HLO), a profiler trace of ``steps`` steps under
    ``FOLDER/MODEL/trace``, and ``FOLDER/MODEL/wall.json`` (their wall seconds and steps).
    Given ``images``, the same for the on-device scan (:func:`on_device_runner`, ``steps``
    rounded up to whole calls of ``PER_CALL`` steps) under ``FOLDER/course-on-device``."""
    x = batches()[0]
    programs = {}
    for name in models:
        params, optimizer, loss_fn = init_model(name)
        one = jax.jit(make_step(optimizer, loss_fn), donate_argnums=0)
        state = [(params, optimizer.init(params), jax.random.PRNGKey(1))]

        def run(one=one, state=state):
            state[0], loss = one(state[0], x)
            np.asarray(loss)

        hlo_text = one.lower(state[0], x).compile().as_text()
        programs[name] = (run, lambda hlo_text=hlo_text: hlo_text, steps, 1)
    if images is not None:
        run, optimized_hlo = on_device_runner(images)
        programs["course-on-device"] = (run, optimized_hlo, -(-steps // PER_CALL), PER_CALL)
    for name, (run, optimized_hlo, calls, per_call) in programs.items():
        trace_calls(run, optimized_hlo, calls, per_call, max(1, warmup // per_call), folder, name)


def trace_calls(run, optimized_hlo, calls, per_call, warmup, folder, name) -> None:
    """Warms ``run`` up, writes its HLO, traces ``calls`` calls into ``FOLDER/name``."""
    import json
    import time

    out = os.path.join(folder, name)
    os.makedirs(out, exist_ok=True)
    for _ in range(warmup):
        run()
    with open(os.path.join(out, "hlo.txt"), "w") as f:
        f.write(optimized_hlo())
    jax.profiler.start_trace(os.path.join(out, "trace"))
    start = time.perf_counter()
    for _ in range(calls):
        run()
    wall = time.perf_counter() - start
    jax.profiler.stop_trace()
    with open(os.path.join(out, "wall.json"), "w") as f:
        json.dump({"steps": calls * per_call, "wall": wall, "about": build_info()}, f)


def build_info() -> str:
    import jaxlib

    return (
        f"JAX {jax.__version__} (jaxlib {jaxlib.__version__}, backend "
        f"{jax.default_backend()}), optax {optax.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--images", help=".npy of [N, 784] uint8 training images")
    parser.add_argument("--matmul", action="store_true", help="also time JAX's matmuls")
    parser.add_argument(
        "--profile", metavar="FOLDER", help="profile the jit step into FOLDER instead (see profile)"
    )
    parser.add_argument("--steps", type=int, default=200, help="steps traced (--profile)")
    args = parser.parse_args()
    if args.profile:
        images = np.load(args.images) if args.images and "course" in args.models else None
        profile(args.models, args.profile, args.steps, warmup=50, images=images)
        return
    variants = train_variants(args.models)
    if args.images and "course" in args.models:
        variants.update(on_device_variant(np.load(args.images)))
    if args.matmul:
        variants.update(matmul_variants())
    serve(variants, PROTOCOL, build_info())


if __name__ == "__main__":
    main()
