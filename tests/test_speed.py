"""vaelib.speed: FLOP counting and that every mode runs (no timing targets here)."""

import pytest
import tensorflow as tf

from vaelib import speed
from vaelib.vae import VAE, VAEConfig


def test_flops_counted_from_layer_shapes():
    model = VAE(
        VAEConfig(
            hidden_sizes=(500, 500, 500), decoder_hidden_sizes=(500, 500), activation="sigmoid"
        )
    )
    macs = 784 * 500 + 2 * 500 * 500 + 500 * 20 + 10 * 500 + 500 * 500 + 500 * 784
    # forward 2, weight gradients 2, input gradients 2 x MACs, but no gradient for the data
    assert speed.vae_flops_per_example(model) == 6 * macs - 2 * 784 * 500  # about 8.5 MFLOP


@pytest.mark.parametrize("mode", speed.MODES)
def test_every_mode_trains(mode):
    model = VAE(VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=2))
    optimizer = tf.keras.optimizers.Adam(1e-3)
    rate = speed.vae_step_throughput(
        model, optimizer, mode, batch_size=4, seconds=0.05, steps_per_call=3
    )
    assert rate > 0 and int(optimizer.iterations) > 0


def test_matmul_rate_and_bad_arguments():
    assert speed.matmul_flops_per_second(32, 32, 32, seconds=0.05) > 0
    with pytest.raises(ValueError, match="mode must be one of"):
        speed.vae_step_throughput(
            VAE(VAEConfig(input_size=4, hidden_sizes=(2,), latent_size=1)),
            tf.keras.optimizers.Adam(),
            "graph",
        )
    with pytest.raises(ValueError, match="seconds must be a finite positive number"):
        speed.throughput(lambda: None, 0, 1)


def test_optimizer_update_seconds_updates_the_variables():
    variables = [tf.Variable(tf.zeros([3, 4])), tf.Variable(tf.zeros([4]))]
    optimizer = tf.keras.optimizers.Adam(1e-2)
    assert speed.optimizer_update_seconds(optimizer, variables, seconds=0.05) > 0
    assert int(optimizer.iterations) > 0 and float(tf.reduce_max(tf.abs(variables[0]))) > 0
    with pytest.raises(ValueError, match="must not be empty"):
        speed.optimizer_update_seconds(optimizer, [])


def test_step_bound_counts_from_the_model():
    model = VAE(VAEConfig(input_size=64, hidden_sizes=(32,), latent_size=4))
    bound = speed.step_bound(model, tf.keras.optimizers.Adam(1e-3), batch_size=8, seconds=0.05)
    params = sum(int(tf.size(v)) for v in model.trainable_variables)
    assert bound.step_flops == speed.vae_flops_per_example(model) * 8
    assert bound.optimizer_bytes == 7 * 4 * params  # Adam: read w, g, m, v; write w, m, v
    assert bound.matmul_rate > 0 and bound.optimizer_seconds > 0
    assert bound.seconds > bound.optimizer_seconds


def test_run_rounds_reruns_a_busy_round_and_reports_medians_and_ratios():
    calls = {"a": 0}

    def a(seconds):
        calls["a"] += 1
        return 10.0 if calls["a"] == 2 else 100.0  # the second round was "busy"

    result = speed.run_rounds({"a": a, "b": lambda s: 50.0}, rounds=5, seconds=0.01, seed=1)
    assert result.rates["a"] == [100.0] * 5 and result.rerun == [(1, ("a",))]
    assert result.still_flagged == [] and calls["a"] == 6
    assert result.median("a") == 100.0 and result.spread("b") == (50.0, 50.0)
    assert result.ratio("a", "b") == 2.0
    assert "1 round(s) re-run (round 2: a)" in result.summary()
    assert "100" in result.table()


def test_run_rounds_ratio_is_the_median_of_per_round_ratios():
    order = []

    def make(name):
        def measure(seconds):
            order.append(name)
            return {"a": [1.0, 2.0, 4.0], "b": [2.0, 2.0, 2.0]}[name][order.count(name) - 1]

        return measure

    result = speed.run_rounds(
        {"a": make("a"), "b": make("b")}, rounds=3, seconds=0.01, tolerance=10.0
    )
    assert result.ratio("a", "b") == 1.0 and result.ratio_spread("a", "b") == (0.5, 2.0)
    assert result.rerun == [] and set(order[:2]) == {"a", "b"}  # every round times both


def test_run_rounds_bad_arguments():
    with pytest.raises(ValueError, match="variants must not be empty"):
        speed.run_rounds({})
    with pytest.raises(ValueError, match="rounds must be a positive int"):
        speed.run_rounds({"a": lambda s: 1.0}, rounds=0)
    with pytest.raises(ValueError, match="seconds must be a finite positive number"):
        speed.run_rounds({"a": lambda s: 1.0}, seconds=0)


def test_vae_step_runner_trains_once_per_call():
    model = VAE(VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=2))
    optimizer = tf.keras.optimizers.Adam(1e-3)
    run, per_call = speed.vae_step_runner(
        model, optimizer, "loop+xla", batch_size=4, steps_per_call=3
    )
    run()
    run()
    assert per_call == 12 and int(optimizer.iterations) == 6


def test_measuring_arguments_follow_the_one_rule():
    """Issue 22: NumPy numbers from a sweep work, bools and strings are refused by name."""
    import numpy as np

    rounds = speed.run_rounds(
        {"a": lambda s: 1.0}, rounds=np.int64(2), seconds=np.float32(0.01), max_reruns=np.int32(0)
    )
    assert rounds.median("a") == 1.0
    with pytest.raises(TypeError, match="rounds must be a positive int, got True"):
        speed.run_rounds({"a": lambda s: 1.0}, rounds=True)
    with pytest.raises(TypeError, match="examples_per_call must be a positive int, got '100'"):
        speed.throughput(lambda: None, 0.01, "100")


def test_roofline_share_uses_only_rounds_with_a_steady_roofline():
    from vaelib.speed.roofline import roofline_share, steady_rounds

    assert steady_rounds([100, 105, 150, 98, 60]) == [0, 1, 3]
    assert steady_rounds([100, 300, 10]) == [0]  # only the median's own round
    # rounds 0, 1, 3 are steady: shares 0.5, 0.6, 0.4 -> median 0.5; round 2's 0.9 is unused
    rates = [5.0, 6.3, 13.5, 3.92, 1.0]
    assert roofline_share(rates, 10.0, [100, 105, 150, 98, 60]) == pytest.approx(0.5)
    assert roofline_share([1.0, 1.0], 1.0, [1.0, 1e9], agreement=0.0, min_rounds=1) is not None
    # one steady round of five is not a measurement
    assert roofline_share([1.0] * 5, 1.0, [108, 111, 133, 148, 206]) is None
    assert roofline_share([1.0] * 5, 1.0, [108, 111, 133, 148, 206], min_rounds=1) is not None
    with pytest.raises(ValueError, match="one value per round"):
        roofline_share([1.0], 1.0, [1.0, 2.0])
    with pytest.raises(ValueError, match="positive rate"):
        steady_rounds([])
