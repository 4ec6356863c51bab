"""vaelib.report: glue's output format (checked against myst-nb's), mean_std, protocol cards."""

import math
import statistics

import pytest
import tensorflow as tf

import vaelib
from vaelib import VAEConfig
from vaelib.report import (
    GLUE_PREFIX,
    ProtocolCard,
    describe_architecture,
    glue,
    glue_text,
    mean_std,
)


def test_glue_text_formats_numbers_and_refuses_what_a_sentence_should_not_show():
    assert glue_text(107.9321, ".2f") == "107.93"
    assert glue_text(4000, ",d") == "4,000"
    assert glue_text("adam") == "adam"
    with pytest.raises(ValueError, match="format spec"):
        glue_text(1.5)
    with pytest.raises(ValueError, match="non-finite"):
        glue_text(float("nan"), ".2f")
    with pytest.raises(ValueError, match="already a string"):
        glue_text("1.5", ".2f")


def test_glue_writes_what_myst_nb_reads(monkeypatch):
    """The output glue() displays is the one myst-nb's own glue() displays, so the book finds it."""
    from myst_nb.ext import glue as myst_glue

    shown = []
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append((a, k)))
    monkeypatch.setattr(myst_glue, "ipy_display", lambda *a, **k: shown.append((a, k)))
    glue("gap", 7.123, ".1f")
    myst_glue.glue("gap", "7.1", display=False)
    (ours, our_kwargs), (theirs, their_kwargs) = shown
    assert our_kwargs["metadata"]["scrapbook"] == their_kwargs["metadata"]["scrapbook"]
    assert ours[0] == theirs[0] == {GLUE_PREFIX + "text/plain": "'7.1'"}


@pytest.mark.parametrize(
    "value, fmt, shown",
    [
        (0.5, ".2f", "0.50"),
        (4000, ",d", "4,000"),
        ("mlxtend", None, "mlxtend"),
        (1e-7, ".0e", "1e-07"),
    ],
)
def test_glued_text_renders_exactly_as_formatted(monkeypatch, value, fmt, shown):
    """What the book shows is what glue formatted: myst-nb's reader must not re-parse it."""
    from myst_nb.core.variables import format_plain_text

    stored = []
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    monkeypatch.setattr("IPython.display.display", lambda bundle, **k: stored.append(bundle))
    glue("key", value, fmt)
    assert format_plain_text(stored[0][GLUE_PREFIX + "text/plain"], "") == shown


def test_glue_outside_ipython_is_silent_and_names_are_checked():
    glue("fine_name", 1.0, ".1f")  # no IPython shell here: nothing to display, no error
    with pytest.raises(ValueError, match="glue name"):
        glue("bad name", 1.0, ".1f")


def test_mean_std_matches_statistics():
    values = [107.93, 108.41, 107.55]
    mean, std = statistics.mean(values), statistics.stdev(values)
    assert mean_std(values) == f"{mean:.2f} ± {std:.2f}"
    assert mean_std([3.0]) == "3.00"
    with pytest.raises(ValueError, match="at least one"):
        mean_std([])
    with pytest.raises(ValueError, match="non-finite"):
        mean_std([1.0, math.inf])


def test_describe_architecture():
    assert describe_architecture(VAEConfig()) == (
        "encoder 784-500-500 -> 2x10 (q_mu, q_logvar), decoder 10-500-500-784 (logits), tanh"
    )
    config = VAEConfig(
        hidden_sizes=(200, 100), latent_size=50, decoder_hidden_sizes=(300,), activation="relu"
    )
    assert describe_architecture(config) == (
        "encoder 784-200-100 -> 2x50 (q_mu, q_logvar), decoder 50-300-784 (logits), relu"
    )
    with pytest.raises(TypeError, match="VAEConfig"):
        describe_architecture({"latent_size": 2})


def test_describe_architecture_names_the_likelihoods_outputs():
    config = VAEConfig()
    for name in ("bernoulli", "continuous_bernoulli"):
        assert describe_architecture(config, likelihood=name) == describe_architecture(config)
    assert "decoder 10-500-500-2x784 (mu, logvar), tanh" in describe_architecture(
        config, likelihood="gaussian"
    )
    assert "decoder 10-500-500-2x784 (mu, log s)" in describe_architecture(
        config, likelihood="discretized_logistic"
    )
    for name in ("gaussian", "discretized_logistic"):  # as many blocks as the decoder outputs
        model = vaelib.VAE(VAEConfig(input_size=6, hidden_sizes=(4,), latent_size=2), name)
        blocks = int(model.decoder(tf.zeros([1, 2])).shape[-1]) // 6
        assert f"{blocks}x6 (" in describe_architecture(model.config, likelihood=name)
    with pytest.raises(ValueError, match="likelihood must be one of"):
        describe_architecture(config, likelihood="poisson")


def _card(**changes):
    fields = dict(
        data="mnist: ...",
        num_train=4000,
        num_test=1000,
        train_binarization="dynamic",
        test_binarization="fixed (seed 1)",
        architecture="a",
        objective="ELBO",
        training="Adam",
        estimate="L_5000",
        seeds=(0, 1, 2),
        train_seconds=(30.0, 31.0, 29.5),
        eval_seconds=(50.0, 51.0, 49.0),
    )
    fields.update(changes)
    return ProtocolCard(**fields)


def test_protocol_card_rows_and_validation():
    card = _card()
    rows = dict(card.rows())
    assert rows["images"] == "4,000 train, 1,000 test"
    assert rows["seeds"] == "0, 1, 2"
    assert rows["wall time"].startswith("train 30 s, 31 s, 30 s; evaluate 50 s, 51 s, 49 s")
    short = dict(_card(eval_seconds=(0.14, 2.0, 9.96)).rows())["wall time"]
    assert "evaluate 0.14 s, 2 s, 10 s" in short
    assert "binarization: train: dynamic; test: fixed (seed 1)" in str(card)
    with pytest.raises(ValueError, match="one entry per seed"):
        _card(train_seconds=(30.0,))
    with pytest.raises(ValueError, match="num_test must be a positive int"):
        _card(num_test=0)
    with pytest.raises(ValueError, match="at least one run"):
        _card(seeds=(), train_seconds=(), eval_seconds=())


def test_protocol_card_as_row_has_the_published_tables_columns():
    from vaelib.published import TABLE_COLUMNS, published_table

    row = _card().as_row("this book", "107.93 ± 0.30 nats", "test negative log-likelihood")
    assert tuple(row) == TABLE_COLUMNS == tuple(published_table(["burda2015_vae1_k1"])[0])
    assert row["data"] == "mnist: ...; 4,000 train / 1,000 test used"
    assert row["binarization"] == "train: dynamic; test: fixed (seed 1)"
    assert row["estimate"] == "L_5000; seeds 0, 1, 2"


def test_protocol_card_shows_both_uncertainties_of_its_result():
    import numpy as np

    from vaelib import summarize

    values = np.random.default_rng(0).normal(-88.0, 30.0, size=(3, 1000))
    rows = dict(_card(result=summarize(values)).rows())
    assert "(SE over 1,000 images)" in rows["result"] and "(sd over 3 seeds)" in rows["result"]
    with pytest.raises(ValueError, match="1 seed"):
        _card(result=summarize(values[0]))
    with pytest.raises(TypeError, match="Estimate"):
        _card(result="-88.1 ± 1.1")


# Issue 22: a card is a claim, so every field is checked. Each case was accepted before (or,
# for seeds=1, failed with "object of type 'int' has no len()").
@pytest.mark.parametrize(
    "field, value, error, match",
    [
        ("estimate", None, TypeError, "estimate must be a string, got None"),
        ("architecture", "", ValueError, "architecture must be a non-empty string"),
        ("data", 3, TypeError, "data must be a string"),
        (
            "train_seconds",
            (float("nan"), 1.0, 2.0),
            ValueError,
            "train_seconds must be a tuple of finite numbers >= 0",
        ),
        ("eval_seconds", (1.0, -2.0, 3.0), ValueError, "eval_seconds must be a tuple of finite"),
        ("eval_seconds", ("1 s", 2.0, 3.0), TypeError, "eval_seconds must be a tuple of finite"),
        ("train_binarization", "static", ValueError, "train_binarization 'static' is ambiguous"),
        (
            "test_binarization",
            "static (Larochelle's draw)",
            ValueError,
            "test_binarization 'static' is ambiguous.*use 'fixed'",
        ),
        (
            "train_binarization",
            "binary",
            ValueError,
            r"train_binarization must start with one of "
            r"\('dynamic', 'fixed', 'threshold', 'none'\)",
        ),
        ("num_train", True, TypeError, "num_train must be a positive int, got True"),
        ("num_test", 10.0, TypeError, "num_test must be a positive int, got 10.0"),
        ("seeds", 1, TypeError, r"seeds must be a tuple of the runs' seeds, e.g. \(0,\)"),
        ("seeds", (0, 1.5, 2), TypeError, r"seeds must be a tuple of ints.*the entry 1.5"),
    ],
)
def test_protocol_card_refuses_what_it_cannot_claim(field, value, error, match):
    with pytest.raises(error, match=match):
        _card(**{field: value})


def test_protocol_card_takes_numpy_numbers_and_the_chapters_binarizations():
    import numpy as np

    card = _card(
        num_train=np.int64(4000),
        seeds=[np.int64(0), 1, 2],
        train_seconds=np.array([30.0, 31.0, 29.5]),
    )
    assert card == _card() and type(card.num_train) is int and card.seeds == (0, 1, 2)
    assert str(card) == str(_card())
    for text in (
        "dynamic (fresh Bernoulli draws at every use)",
        "fixed (one Bernoulli draw, seed 1)",
        "none: levels v / 255",
        "none: dequantized, (v + u) / 256 with new u at every use",
        "threshold",
        "none",
    ):  # what chapters 6-11 pass
        _card(train_binarization=text, test_binarization=text)
    assert _card(seeds=range(3)).seeds == (0, 1, 2)


def test_glue_of_an_array_names_the_key_and_the_value():
    """Issue 22: glue of a per-example array named neither (float() of a size-100 array)."""
    import numpy as np

    values = np.linspace(-95.0, -90.0, 100)
    with pytest.raises(
        TypeError,
        match=r"glue 'test_nll': value must be one number or a string, "
        r"got an array of shape \(100,\) \(-95, -94.9495, "
        r"-94.899, \.\.\.\)",
    ):
        glue("test_nll", values, ".2f")
    with pytest.raises(ValueError, match="glue 'gap': refusing to glue a non-finite number"):
        glue("gap", np.float32("nan"), ".2f")
    with pytest.raises(TypeError, match="glue 'flag': value must be a number or a string, got Tr"):
        glue("flag", True, "d")
    with pytest.raises(TypeError, match=r"glue 'pair': value must be a number or a string, got \("):
        glue("pair", (1, 2), "d")
    import tensorflow as tf

    assert glue_text(np.float32(1.25), ".1f") == glue_text(np.array(1.25), ".1f") == "1.2"
    assert glue_text(tf.constant(7.5), ".2f") == "7.50"
    assert glue_text(np.int64(4000), ",d") == "4,000"
