"""fit with MirroredStrategy over two logical CPUs matches single-device training.

Logical devices must be configured before TensorFlow starts its runtime, which
the rest of the test session has already done, so this runs in a subprocess.
"""

import json
import pathlib
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

import vaelib

TESTS = pathlib.Path(__file__).parent

SCRIPT = textwrap.dedent("""
    import json, os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import vaelib

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int32)
    data = lambda epoch: tf.data.Dataset.from_tensor_slices((x, y)).batch(64)  # 4 equal batches

    def train(strategy):
        vaelib.set_seed(0)
        with strategy.scope():
            model = vaelib.MLP([6, 16, 2], seed=4)
            optimizer = tf.keras.optimizers.SGD(0.1)
        history = vaelib.fit(model, optimizer, vaelib.classification_loss, data,
                             vaelib.FitConfig(epochs=5, progress=False),
                             strategy=None if isinstance(strategy, tf.distribute.OneDeviceStrategy)
                             else strategy)
        return [v.numpy().tolist() for v in model.trainable_variables], history.step_loss

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single = tf.distribute.OneDeviceStrategy("/cpu:0")
    w1, l1 = train(single)
    w2, l2 = train(mirrored)
    print(json.dumps({"replicas": mirrored.num_replicas_in_sync,
                      "max_weight_diff": max(float(np.max(np.abs(np.array(a) - np.array(b))))
                                             for a, b in zip(w1, w2)),
                      "loss_single": l1[-1], "loss_mirrored": l2[-1], "first_loss": l1[0]}))
""")


def test_mirrored_strategy_matches_single_device():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["max_weight_diff"] < 1e-5, result
    assert abs(result["loss_single"] - result["loss_mirrored"]) < 1e-5, result
    assert result["loss_single"] < result["first_loss"]  # it trained


# One worker of a MultiWorkerMirroredStrategy cluster on 127.0.0.1 (argv: index, ports, folder,
# slow). The VAE's noise eps travels with the data, so that it does not depend on how a batch is
# split across workers (vae_loss draws it from each replica's own generator). A worker that loses
# its peer reports the error and leaves with os._exit: TensorFlow would wait for the peer at exit.
WORKER = textwrap.dedent("""
    import json, os, sys, time
    index, ports, folder = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3]
    slow = sys.argv[4] == "1"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                          "task": {"type": "worker", "index": index}})
    sys.path.insert(0, sys.argv[5])
    import tensorflow as tf
    import vaelib
    from test_distribute import vae_data, vae_loss_with_eps

    # TensorFlow checks its peers every 30 s; every 2 s here, so that a killed worker is seen
    # within seconds rather than half a minute (CI's time budget; the handling is the same)
    from tensorflow.python.distribute import collective_all_reduce_strategy
    collective_all_reduce_strategy.CollectiveAllReduceExtended._check_health_interval = 2
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    def data(epoch):
        ds = vae_data(epoch)
        if slow and epoch >= 1:  # the second epoch takes a while: this worker dies in it
            pause = lambda x: (time.sleep(2.0), x)[1]  # it is killed in the first pause
            def paused(x, eps):
                return tf.ensure_shape(tf.numpy_function(pause, [x], tf.float32), x.shape), eps
            ds = ds.map(paused)
        return ds

    vaelib.set_seed(0)
    with strategy.scope():
        config = vaelib.VAEConfig(input_size=12, hidden_sizes=(8,), latent_size=2, seed=1)
        model = vaelib.VAE(config)
        optimizer = tf.keras.optimizers.Adam(1e-2)
    try:
        history = vaelib.fit(model, optimizer, vae_loss_with_eps, data,
                             vaelib.FitConfig(epochs=3, progress=False), strategy=strategy,
                             checkpoint_dir=folder)
    except vaelib.WorkerLostError as error:
        print("LOST", error, flush=True)
        os._exit(3)
    weights = [v.numpy().tolist() for v in model.trainable_variables]
    print(json.dumps({"epochs": [row["epoch"] for row in history.epochs], "weights": weights}),
          flush=True)
    os._exit(0)
""")


def vae_data(epoch):
    """64 binary examples, each with its own eps, shuffled by epoch, in 4 batches of 16."""
    rng = np.random.default_rng(0)
    x = (rng.random((64, 12)) < 0.4).astype(np.float32)
    eps = rng.normal(size=(64, 2)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, eps)).shuffle(64, seed=epoch).batch(16)


def vae_loss_with_eps(model, batch):
    """vaelib.vae_loss, with the noise eps taken from the batch."""
    x, eps = batch
    q_mu, q_logvar = model.encoder(x)
    z = vaelib.reparameterize(q_mu, q_logvar, eps)
    bound = vaelib.bernoulli_log_prob(x, model.decoder(z)) - vaelib.kl_normal_std(q_mu, q_logvar)
    return {"loss": -tf.reduce_mean(bound)}


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [str(s.getsockname()[1]) for s in sockets]
    for s in sockets:
        s.close()
    return ",".join(ports)


def start_workers(folder, slow_worker=None):
    ports = free_ports(2)
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(i),
                ports,
                str(folder),
                "1" if i == slow_worker else "0",
                str(TESTS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]


def finish(worker, timeout):
    try:
        out, err = worker.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        out, err = worker.communicate()
        pytest.fail(f"worker hung for {timeout} s: {err[-2000:]}")
    return worker.returncode, out, err


def test_two_workers_survive_a_killed_worker_resume_and_match_one_process(tmp_path):
    """Two workers on 127.0.0.1: worker 1 is killed in epoch 2; worker 0 stops with WorkerLostError;
    both restarted resume from the chief's checkpoint and end where one process ends."""
    vaelib.set_seed(0)
    model = vaelib.VAE(vaelib.VAEConfig(input_size=12, hidden_sizes=(8,), latent_size=2, seed=1))
    vaelib.fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        vae_loss_with_eps,
        vae_data,
        vaelib.FitConfig(epochs=3, progress=False),
    )
    reference = [v.numpy() for v in model.trainable_variables]

    folder = tmp_path / "ckpt"
    chief, doomed = start_workers(folder, slow_worker=1)
    try:
        deadline = time.monotonic() + 240
        while not (folder / "ckpt-1.json").exists():  # the chief saved epoch 1; epoch 2 is slow
            assert time.monotonic() < deadline and chief.poll() is None, chief.stderr.read()[-3000:]
            time.sleep(0.05)
        doomed.kill()  # SIGKILL, in the middle of epoch 2
        code, out, err = finish(chief, timeout=120)
    finally:
        for worker in (chief, doomed):
            worker.kill()
            worker.communicate()
    assert code == 3, err[-3000:]
    assert "LOST distributed training stopped in epoch 2: another worker or device is gone" in out
    assert f"fit resumes from the last checkpoint in {folder}" in out
    assert sorted(p.name for p in folder.glob("ckpt-*.json")) == ["ckpt-1.json"]
    host = socket.gethostname()
    assert (
        json.loads((folder / "ckpt-1.json").read_text())["writer"] == f"pid {chief.pid} on {host}"
    )

    restarted = start_workers(folder)
    for code, out, err in [finish(worker, timeout=240) for worker in restarted]:
        assert code == 0, err[-3000:]
        result = json.loads(out.strip().splitlines()[-1])
        assert result["epochs"] == [2, 3]  # resumed after epoch 1
        for a, b in zip(reference, result["weights"], strict=False):
            np.testing.assert_allclose(a, np.array(b), rtol=1e-5, atol=1e-6)
    # the restarted run rotates only what it wrote: the killed run's ckpt-1 stays (issue 22)
    manifests = sorted(folder.glob("ckpt-*.json"))
    assert [p.name for p in manifests] == ["ckpt-1.json", "ckpt-2.json", "ckpt-3.json"]
    writers = [json.loads(p.read_text())["writer"] for p in manifests]
    assert writers == [f"pid {chief.pid} on {host}"] + [f"pid {restarted[0].pid} on {host}"] * 2
