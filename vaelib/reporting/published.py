"""Published numbers the book compares with: one place, with value, source, table and protocol.

Every number from a paper that a chapter states comes from :data:`PUBLISHED`, by
key, and is glued into the prose (:func:`vaelib.report.glue`), so it is typed
once, here, next to where it came from and how it was measured. A number is
comparable with the book's own only when the protocols agree (data, binarization,
architecture, objective, how ``log p(x)`` was estimated); :func:`published_table`
puts the protocols side by side so a reader can see at once what differs.

Log-likelihoods are stored as positive *negative* log-likelihoods in nats per
test image (lower is better), as the papers print them.
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "Protocol",
    "PublishedResult",
    "PUBLISHED",
    "published",
    "published_table",
    "TABLE_COLUMNS",
]

# The columns of published_table(), in order; ProtocolCard.as_row gives a run of the book the same.
TABLE_COLUMNS = (
    "source",
    "value",
    "quantity",
    "data",
    "binarization",
    "architecture",
    "objective",
    "training",
    "estimate",
)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How a published number was measured.

    Attributes:
      data: the dataset and its split, e.g. ``"MNIST, 60,000 train / 10,000 test"``.
      binarization: ``"dynamic"`` (re-drawn at every use), ``"fixed"`` (one Bernoulli draw,
        kept; what papers call *static*) or ``"threshold"``, for training and test.
      architecture: layer sizes and units.
      objective: what was maximized in training (ELBO, or L_k with its k).
      training: optimizer, batch size, passes over the data.
      estimate: how the reported number was computed (e.g. ``-L_5000``, or a bound).
      num_train: training images, where the paper states them (for computing, e.g.,
        how many times more data a paper used than a run of the book); ``None`` if not.
      passes: passes over the training data, where the paper states them; ``None`` if not.
    """

    data: str
    binarization: str
    architecture: str
    objective: str
    training: str
    estimate: str
    num_train: int | None = None
    passes: int | None = None


@dataclasses.dataclass(frozen=True)
class PublishedResult:
    """One number from a paper.

    Attributes:
      key: the name chapters use, e.g. ``"burda2015_vae1_k1"``.
      value: the number as printed in the paper.
      unit: ``"nats"`` (negative log-likelihood per image, lower is better).
      quantity: what the number is, in words.
      source: authors and year, as the book cites them.
      cite_key: the BibTeX key in ``references.bib``.
      table: where in the paper (``"Table 1"``).
      protocol: how it was measured.
      note: anything a reader must know to compare with it.
    """

    key: str
    value: float
    unit: str
    quantity: str
    source: str
    cite_key: str
    table: str
    protocol: Protocol
    note: str = ""

    def __post_init__(self):
        if not isinstance(self.value, (int, float)) or self.value != self.value:
            raise ValueError(
                f"published value for {self.key!r} must be a number, got {self.value!r}"
            )


_BURDA_NUM_TRAIN, _BURDA_PASSES = (
    60_000,
    3_280,
)  # 3,280 = 3^0 + ... + 3^7 passes, one per learning rate
# their code (yburda/iwae, datasets.py) holds 400 of the training images out for validation
_BURDA_DATA = f"MNIST, {_BURDA_NUM_TRAIN:,} train (400 of them held out) / 10,000 test"
# experiments.py draws a new binarization at every use; measure_marginal_log_likelihood
# scores each test image binarized once, with one seeded draw
_BURDA_BINARIZATION = "dynamic for training; the test set one seeded draw (fixed)"
_BURDA_TRAINING = f"Adam, batch 20, {_BURDA_PASSES:,} passes with a decaying learning rate"
_BURDA_ESTIMATE = "-L_5000 on the test set (importance sampling, k = 5000)"


def _burda(key: str, value: float, model: str, layers: str, k_train: int) -> PublishedResult:
    objective = (
        "ELBO (k = 1)"
        if k_train == 1
        else (
            f"IWAE bound L_{k_train}"
            if model == "IWAE"
            else f"ELBO averaged over {k_train} samples"
        )
    )
    return PublishedResult(
        key=key,
        value=value,
        unit="nats",
        quantity=f"test negative log-likelihood, {model}, {layers}, k = {k_train} in training",
        source="Burda, Grosse & Salakhutdinov (2015)",
        cite_key="burda2015importance",
        table="Table 1",
        protocol=Protocol(
            data=_BURDA_DATA,
            binarization=_BURDA_BINARIZATION,
            architecture=(
                "784-200-200-50, tanh"
                if layers == "1 stochastic layer"
                else "two stochastic layers (100 and 50 units), tanh; see the paper"
            ),
            objective=objective,
            training=_BURDA_TRAINING,
            estimate=_BURDA_ESTIMATE,
            num_train=_BURDA_NUM_TRAIN,
            passes=_BURDA_PASSES,
        ),
    )


PUBLISHED: dict[str, PublishedResult] = {
    r.key: r
    for r in [
        _burda("burda2015_vae1_k1", 86.76, "VAE", "1 stochastic layer", 1),
        _burda("burda2015_vae1_k5", 86.47, "VAE", "1 stochastic layer", 5),
        _burda("burda2015_vae1_k50", 86.35, "VAE", "1 stochastic layer", 50),
        _burda("burda2015_iwae1_k5", 85.54, "IWAE", "1 stochastic layer", 5),
        _burda("burda2015_iwae1_k50", 84.78, "IWAE", "1 stochastic layer", 50),
        _burda("burda2015_vae2_k1", 85.33, "VAE", "2 stochastic layers", 1),
        _burda("burda2015_iwae2_k50", 82.90, "IWAE", "2 stochastic layers", 50),
        PublishedResult(
            key="rezende2015_diag",
            value=89.9,
            unit="nats",
            quantity="test negative log-likelihood bound, VAE with a diagonal-Gaussian posterior",
            source="Rezende & Mohamed (2015)",
            cite_key="rezende2015variational",
            table="Table 2",
            protocol=Protocol(
                data="MNIST",
                binarization="fixed (one draw, the paper's static binarization)",
                architecture="deep latent Gaussian model, 40 latent dimensions",
                objective="ELBO",
                training="as in the paper",
                estimate=(
                    "an upper bound on -log p(x), as Table 2 reports it "
                    "(not an importance-sampled estimate)"
                ),
            ),
            note="a bound, not an importance-sampled estimate: the true NLL is lower",
        ),
        PublishedResult(
            key="tomczak2018_vampprior",
            value=85.57,
            unit="nats",
            quantity="test negative log-likelihood, VAE (one stochastic layer) with a VampPrior",
            source="Tomczak & Welling (2018)",
            cite_key="tomczak2018vae",
            table="the test log-likelihoods on dynamically binarized MNIST, VAE with L = 1",
            protocol=Protocol(
                data="MNIST, 50,000 train / 10,000 validation / 10,000 test",
                binarization=("dynamic for training; validation and test one seeded draw (fixed)"),
                architecture=(
                    "784-300-300-40, two gated dense layers (300 units) in the encoder and "
                    "in the decoder; 500 pseudo-inputs"
                ),
                objective="ELBO with the VampPrior, KL warm-up over 100 epochs",
                training=(
                    "Adam (lr 5e-4), batch 100, up to 2,000 epochs, early stopping after "
                    "50 epochs without improvement on the validation set"
                ),
                estimate="importance sampling with 5,000 samples (-L_5000)",
                num_train=50_000,
            ),
            note=(
                "protocol from the authors' code (jmtomczak/vae_vampprior: experiment.py "
                "defaults, utils/load_data.py); the value as the paper prints it"
            ),
        ),
        PublishedResult(
            key="kingma2016_iaf",
            value=79.10,
            unit="nats",
            quantity="test negative log-likelihood, convolutional VAE with an IAF posterior",
            source="Kingma et al. (2016)",
            cite_key="kingma2016improved",
            table="Table 1 (IAF, depth 8, width 1920)",
            protocol=Protocol(
                data="MNIST",
                binarization="dynamic (as the paper describes its MNIST experiments)",
                architecture="a convolutional ResNet VAE with IAF (depth 8, width 1920)",
                objective="ELBO with the IAF posterior",
                training="as in the paper",
                estimate="importance-sampled log p(x), as in the paper's Table 1",
            ),
            note=(
                "quoted as secondary sources give it; the book could not check the paper's "
                "table offline. A much larger, convolutional model: no protocol of this "
                "book matches it"
            ),
        ),
    ]
}


def published(key: str) -> PublishedResult:
    """The published result named ``key``.

    Raises:
      KeyError: naming the known keys, if ``key`` is not one of them.
    """
    try:
        return PUBLISHED[key]
    except KeyError:
        raise KeyError(f"no published result {key!r}; known: {sorted(PUBLISHED)}") from None


def published_table(keys: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    """Rows (one per key) with the value and every protocol field, for a side-by-side table.

    Args:
      keys: keys of :data:`PUBLISHED`.

    Returns:
      One dict per key with the :data:`TABLE_COLUMNS`: ``source`` (with the table),
      ``value``, ``quantity`` and the text fields of the :class:`Protocol`, all as
      strings (``pandas.DataFrame(rows)`` shows them). A run of the book gives a row
      with the same columns through :meth:`vaelib.ProtocolCard.as_row`.
    """
    rows = []
    for key in keys:
        r = published(key)
        protocol = dataclasses.asdict(r.protocol)
        rows.append(
            {
                "source": f"{r.source}, {r.table}",
                "value": f"{r.value:.2f} {r.unit}",
                "quantity": r.quantity,
                **{c: protocol[c] for c in TABLE_COLUMNS[3:]},
            }
        )
    return rows
