"""vaelib.published: every number has its source, table and protocol, cited in references.bib."""

import pathlib
import re

import pytest

from vaelib.published import (
    PUBLISHED,
    TABLE_COLUMNS,
    Protocol,
    PublishedResult,
    published,
    published_table,
)

BIB_KEYS = set(
    re.findall(
        r"@\w+\{([\w:-]+),",
        (pathlib.Path(__file__).resolve().parents[1] / "references.bib").read_text(),
    )
)


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_every_result_is_complete_and_cited(key):
    result = PUBLISHED[key]
    assert result.key == key
    assert result.cite_key in BIB_KEYS, f"{result.cite_key} is not in references.bib"
    assert result.table and result.source and result.quantity
    assert all(getattr(result.protocol, f) for f in TABLE_COLUMNS[3:])
    assert 50 < result.value < 150  # nats per MNIST image: a typo guard, not a check of the paper


def test_burda_table_is_monotone_as_printed():
    """Within Burda et al.'s Table 1, more samples in training never made the NLL worse."""
    for model in ("vae1", "iwae1"):
        values = [
            PUBLISHED[f"burda2015_{model}_k{k}"].value
            for k in (1, 5, 50)
            if f"burda2015_{model}_k{k}" in PUBLISHED
        ]
        assert values == sorted(values, reverse=True)


def test_lookup_and_table():
    assert published("burda2015_vae1_k1").value == 86.76
    with pytest.raises(KeyError, match="known:"):
        published("nope")
    rows = published_table(["burda2015_vae1_k1", "rezende2015_diag"])
    assert [r["value"] for r in rows] == ["86.76 nats", "89.90 nats"]
    assert rows[1]["binarization"].startswith("fixed")
    assert "upper bound" in rows[1]["estimate"]


def test_stated_sizes_agree_with_the_protocol_text():
    """num_train and passes, where given, are the numbers the protocol's text states."""
    for result in PUBLISHED.values():
        protocol = result.protocol
        if protocol.num_train is not None:
            assert f"{protocol.num_train:,} train" in protocol.data
        if protocol.passes is not None:
            assert f"{protocol.passes:,} passes" in protocol.training
    assert published("burda2015_vae1_k1").protocol.num_train == 60_000
    assert published("burda2015_vae1_k1").protocol.passes == 3**8 // 2  # 3^0 + ... + 3^7
    assert set(published_table(["rezende2015_diag"])[0]) == set(TABLE_COLUMNS)


def test_bad_value_is_refused():
    protocol = Protocol(*"abcdef")
    with pytest.raises(ValueError, match="must be a number"):
        PublishedResult("k", float("nan"), "nats", "q", "s", "c", "t", protocol)
