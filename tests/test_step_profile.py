"""vaelib.speed.step_profile: a profile's JSON round trip and its side-by-side table."""

import json

import pytest

from vaelib.speed import step_profile
from vaelib.speed.hlo import CATEGORIES


def _hand_profile(scale):
    thread_time = dict.fromkeys(CATEGORIES, 0.0)
    thread_time.update({"forward matmuls": 2e-3 * scale, "copies": 1e-3 * scale})
    flops = dict.fromkeys(CATEGORIES, 0.0)
    flops["forward matmuls"] = 2e8
    return step_profile.StepProfile(
        step=10e-3, program=8e-3, cores=2, thread_time=thread_time, flops=flops
    )


def test_profiles_to_json_and_side_by_side():
    tf_like, jax_like = _hand_profile(1.0), _hand_profile(2.0)
    again = step_profile.StepProfile.from_dict(json.loads(json.dumps(tf_like.to_dict())))
    assert again == tf_like
    table = step_profile.format_profiles({"TensorFlow": tf_like, "JAX": jax_like}).splitlines()
    assert table[0].split() == ["TensorFlow", "JAX"]
    matmuls = next(line for line in table if line.startswith("forward matmuls")).split()
    # core ms, then GFLOP/s while running (2e8 FLOPs in 2 ms = 100; in 4 ms = 50), per library
    assert matmuls[2:] == ["2.00", "100", "4.00", "50"]
    copies = next(line for line in table if line.startswith("copies")).split()
    assert copies[1:] == ["1.00", "2.00"]
    assert table[-2].split()[-2:] == ["10.00", "10.00"]  # step (wall ms)
    with pytest.raises(ValueError, match="fields must be exactly"):
        step_profile.StepProfile.from_dict({**tf_like.to_dict(), "extra": 1})
    with pytest.raises(ValueError, match="lacks the categories"):
        step_profile.StepProfile.from_dict({**tf_like.to_dict(), "flops": {}})
    with pytest.raises(ValueError, match="at least one"):
        step_profile.format_profiles({})
