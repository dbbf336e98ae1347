"""xla_cpu: default XLA:CPU flags are added to XLA_FLAGS, and a user's own setting wins."""

from mathft_jax import xla_cpu


def test_defaults_are_added_to_empty_or_other_flags():
    env = {}
    assert xla_cpu.apply_default_flags(env) == "--xla_cpu_use_xnnpack=false"
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    xla_cpu.apply_default_flags(env)
    assert env["XLA_FLAGS"].split() == [
        "--xla_force_host_platform_device_count=8",
        "--xla_cpu_use_xnnpack=false",
    ]


def test_a_flag_the_user_set_is_kept_and_not_repeated():
    env = {"XLA_FLAGS": "--xla_cpu_use_xnnpack=true"}
    xla_cpu.apply_default_flags(env)
    xla_cpu.apply_default_flags(env)
    assert env["XLA_FLAGS"] == "--xla_cpu_use_xnnpack=true"
