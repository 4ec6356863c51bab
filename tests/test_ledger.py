"""vaelib.speed.ledger: outermost calls recorded, fit split into set-up and training."""

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib.speed.ledger import Call, CallLedger, fit_split


def tiny_fit(seed=0):
    x = np.random.default_rng(0).integers(0, 256, (60, 28, 28), dtype=np.uint8)
    data = vaelib.make_dataset(x, batch_size=20, binarization="dynamic", seed=seed)
    model = vaelib.VAE(vaelib.VAEConfig(hidden_sizes=(8,), latent_size=2, seed=seed))
    config = vaelib.FitConfig(epochs=3, progress=False, jit_compile=False, steps_per_call=2)
    history = vaelib.fit(model, tf.keras.optimizers.Adam(1e-3), vaelib.vae_loss, data, config)
    return model, history


def test_outermost_calls_only_with_fit_epochs_and_steps():
    original_fit, original_elbo = vaelib.fit, vaelib.objectives.bounds.elbo
    with CallLedger() as ledger:
        assert vaelib.fit is not original_fit  # wrapped, in every module that holds it
        assert vaelib.fit is vaelib.training.train.fit is vaelib.train.fit
        model, history = tiny_fit()
        vaelib.elbo(model, tf.zeros([3, 784]), 2, seed=tf.constant([0, 1]))
    assert vaelib.fit is original_fit and vaelib.objectives.bounds.elbo is original_elbo
    names = [c.name for c in ledger.calls]
    # the model's constructor calls module functions (validation, initializers): recorded,
    # as calls from outside any wrapped function; fit's inner calls (the feeds, the step
    # builders, the loss and elbo inside it) are part of fit's time and are not
    main = [n for n in names if not n.startswith(("vaelib.validation.", "vaelib.models."))]
    assert main == [
        "vaelib.data.pipeline.make_dataset",
        "vaelib.training.train.fit",
        "vaelib.evaluation.marginal_likelihood.elbo",
    ]
    assert not any(w in n for n in names for w in ("make_train", "vae_loss", "_steps"))
    fit_call = next(c for c in ledger.calls if c.name == "vaelib.training.train.fit")
    assert fit_call.steps == len(history.step_loss) == 9
    assert fit_call.epochs == tuple(row["seconds"] for row in history.epochs)
    assert fit_call.seconds >= sum(fit_call.epochs)
    assert ledger.totals()["vaelib.training.train.fit"][0] == 1


def test_the_ledger_changes_nothing_that_runs():
    plain, _ = tiny_fit(seed=3)
    with CallLedger():
        watched, _ = tiny_fit(seed=3)
    for a, b in zip(plain.trainable_variables, watched.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_fit_split_against_hand_arithmetic():
    call = Call("fit", 0.0, 6.0, epochs=(3.0, 1.0, 1.4, 0.5), steps=40)
    set_up, training = fit_split(call)
    assert set_up == pytest.approx(3.0 - 1.0)  # minus the median of 1.0, 1.4, 0.5
    assert training == pytest.approx(4.0)
    assert fit_split(Call("fit", 0.0, 2.0, epochs=(2.0,), steps=5)) == (0.0, 2.0)
    assert fit_split(Call("fit", 0.0, 2.0, epochs=(0.5, 1.0, 1.0))) == (0.0, 2.0)  # never < 0
    with pytest.raises(ValueError, match="no History"):
        fit_split(Call("vaelib.elbo", 0.0, 1.0))


def test_writes_only_where_told(tmp_path):
    with CallLedger() as ledger:
        vaelib.std_normal_log_prob(tf.zeros([2, 3]))
    assert list(tmp_path.iterdir()) == []
    ledger.write(tmp_path / "calls.json")
    import json

    (record,) = json.loads((tmp_path / "calls.json").read_text())
    assert record["name"] == "vaelib.models.distributions.std_normal_log_prob"
    assert record["seconds"] >= 0 and record["epochs"] == [] and record["steps"] == 0


def test_bad_use_is_named():
    with pytest.raises(ValueError, match="prefix"):
        CallLedger(prefix="")
    ledger = CallLedger()
    with ledger:
        with pytest.raises(RuntimeError, match="already open"):
            ledger.__enter__()
