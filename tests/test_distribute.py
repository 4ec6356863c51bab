"""fit with MirroredStrategy over two logical CPUs matches single-device training.

Logical devices must be configured before TensorFlow starts its runtime, which
the rest of the test session has already done, so this runs in a subprocess.
"""

import json
import subprocess
import sys
import textwrap

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
                             strategy=None if isinstance(strategy, tf.distribute.OneDeviceStrategy) else strategy)
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
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["max_weight_diff"] < 1e-5, result
    assert abs(result["loss_single"] - result["loss_mirrored"]) < 1e-5, result
    assert result["loss_single"] < result["first_loss"]  # it trained
