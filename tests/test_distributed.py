"""Where a job's multi-host settings come from (`mathft_jax.distributed`); joining a real
two-process job is tested in tests/launch/test_launch_local.py."""

import pytest

from mathft_jax import distributed

ENV = {
    "MATHFT_COORDINATOR_ADDRESS": "10.0.0.1:1234",
    "MATHFT_NUM_PROCESSES": "4",
    "MATHFT_PROCESS_ID": "2",
}


def test_flags_are_split_from_gin_flags_and_win_over_env():
    rest, settings = distributed.split_flags(
        ["--gin_file=ssft.gin", "--process_id=3", "--gin.X=1"], environ=ENV
    )
    assert rest == ["--gin_file=ssft.gin", "--gin.X=1"]
    assert settings == {"process_id": "3", "coordinator_address": "10.0.0.1:1234",
                        "num_processes": "4"}  # fmt: skip


def test_no_flags_no_env_is_a_single_process():
    assert distributed.split_flags(["--gin_file=a.gin"], environ={}) == (["--gin_file=a.gin"], {})


@pytest.mark.parametrize("value, expected", [("1", {"auto": "1"}), ("0", {}), ("", {})])
def test_multihost_env_asks_for_cluster_autodetection(value, expected):
    assert distributed.split_flags([], environ={"MATHFT_MULTIHOST": value})[1] == expected


def test_a_coordinator_without_process_id_names_what_is_missing():
    with pytest.raises(ValueError, match="--process_id .*MATHFT_PROCESS_ID"):
        distributed.initialize({"coordinator_address": "h:1", "num_processes": "2"})
