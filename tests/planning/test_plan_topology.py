"""Topology names and meshes: an unknown one, or a mesh that does not match the chips, stops with
an error listing the valid choices."""

import pytest
from plan_fixtures import gin_config, libtpu_or_skip

from mathft_jax import plan
from mathft_jax.planning import chips, report


@pytest.mark.parametrize("name", ["v9:2x2", "v5e", "v5e:2x2x2", "v5p:4x4", "tpu-v5e-8", "v5e:0x2"])
def test_unknown_topology_lists_the_choices(name):
    with pytest.raises(chips.TopologyError) as e:
        chips.parse_topology(name)
    msg = str(e.value)
    assert name in msg and "v5e:2x2" in msg and "v5p:2x4x4" in msg and "v6e" in msg


def test_known_topologies_parse():
    chip, dims = chips.parse_topology("v5p:2x4x4")
    assert (chip.name, dims, chip.hbm_bytes) == ("v5p", (2, 4, 4), 95 * chips.GiB)
    assert chips.num_chips("v6e:2x4") == 8
    assert chips.CHIPS["v5e"].hbm_bytes == 16 * chips.GiB
    assert chips.CHIPS["v4"].hbm_bytes == chips.CHIPS["v6e"].hbm_bytes == 32 * chips.GiB


def test_cli_exits_2_on_an_unknown_topology(capsys):
    assert plan.main(["--topology", "v7x:2x2", "--gin_file=gin/ssft.gin"]) == 2
    err = capsys.readouterr().err
    assert "unknown topology 'v7x:2x2'" in err and "v5e:4x4" in err


def test_mesh_that_does_not_match_the_chips_lists_the_choices():
    libtpu_or_skip()
    with gin_config(
        "--gin_file=gin/ssft.gin", "--gin_file=gin/partitioning/fsdp.gin",
        "--gin.make_mesh.shape=(1, 8, 1)",
    ):  # fmt: skip
        with pytest.raises(chips.TopologyError) as e:
            report.plan_stage("v5e:2x2", "train")
    msg = str(e.value)
    assert "needs 8 devices, have 4" in msg and "[1, 2, 4]" in msg and "(1, -1, 1)" in msg
