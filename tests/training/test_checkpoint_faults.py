"""Faults around checkpoints (issue 14): a full disk, corrupt steps, a diverging run, a
checkpoint loaded into the wrong model. Tiny model, fake task; the end-to-end ones are slow."""

import dataclasses
import errno
import logging
import os
import time

import jax
import numpy as np
import pytest
import train_fakes
from orbax.checkpoint._src.path import atomicity
from test_trainer import _gin_defaults, run  # noqa: F401  (the autouse gin fixture)

from mathft_jax.models import hf_io, transformer
from mathft_jax.runtime import checkpoints
from mathft_jax.training import divergence, metrics_logging
from mathft_jax.training.train_config import DivergenceGuard

BIG = dataclasses.replace(train_fakes.TINY, embed_dim=64)


def _slow_batches(*args, **kwargs):
    for batch in train_fakes.fake_batch_iterator(*args, **kwargs):
        time.sleep(0.3)
        yield batch


@pytest.mark.slow
def test_a_failed_save_stops_training_at_once_in_one_line(tmp_path, monkeypatch):
    """A full disk while step 5 is written: today it surfaces at the next save (step 10)."""
    finalize = atomicity.AtomicRenameTemporaryPath.finalize

    async def full_disk(self):
        if self.get_final().name == "10":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.get()))
        await finalize(self)

    monkeypatch.setattr(atomicity.AtomicRenameTemporaryPath, "finalize", full_disk)
    with pytest.raises(checkpoints.CheckpointError) as info:
        run(tmp_path, 30, ckpt={"every": 5}, batch_iterator_fn=_slow_batches)
    msg = str(info.value).splitlines()[0]  # gin adds "In call to configurable" lines
    assert "No space left on device" in msg, msg
    assert f"saving checkpoint step 10 to {tmp_path}/checkpoints/10 failed" in msg
    last = max(r["step"] for r in metrics_logging.read_log(str(tmp_path)))
    assert last < 15, last  # today: noticed by the save at step 15
    steps = [p for p in os.listdir(tmp_path / "checkpoints") if p.isdigit()]
    assert steps == ["5"]
    assert checkpoints.verify_manifest(str(tmp_path / "checkpoints" / "5")) is None
    checkpoints.load_params(str(tmp_path / "checkpoints" / "5"), model_config=train_fakes.TINY)


def _biggest(root):
    files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
    return max((f for f in files if not f.endswith(checkpoints.MANIFEST)), key=os.path.getsize)


def _truncate(path):
    os.truncate(path, os.path.getsize(path) // 2)


def _flip(path):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))


@pytest.mark.slow
@pytest.mark.parametrize("damage", [_truncate, os.remove, _flip])
def test_a_corrupt_latest_step_falls_back_to_the_previous_one(tmp_path, damage, caplog):
    run(tmp_path, 4)
    assert os.path.exists(tmp_path / "checkpoints" / "4" / checkpoints.MANIFEST)
    damage(_biggest(tmp_path / "checkpoints" / "4" / "params"))
    with caplog.at_level(logging.WARNING):
        out = run(tmp_path, 5)
    text = caplog.text
    assert f"checkpoint {tmp_path}/checkpoints/4 is unusable" in text, text
    assert "resuming from step 2, the newest usable checkpoint" in text
    assert os.path.isdir(tmp_path / "checkpoints" / "4.unusable")  # kept for a look
    steps = [r["step"] for r in metrics_logging.read_log(str(tmp_path))]
    assert steps[-3:] == [3, 4, 5] and out["step"] == 5  # steps 3.. ran again from step 2


@pytest.mark.slow
def test_no_usable_step_is_one_clear_error(tmp_path):
    run(tmp_path, 4)
    for step in ("2", "4"):
        _truncate(_biggest(tmp_path / "checkpoints" / step / "params"))
    with pytest.raises(checkpoints.CheckpointError, match="no usable checkpoint") as info:
        run(tmp_path, 5)
    line = str(info.value).splitlines()[0]
    assert "step 4: " in line and "step 2: " in line


@pytest.mark.slow
def test_non_finite_params_are_refused_on_restore(tmp_path, caplog):
    """A step without a manifest (an older run) whose params hold NaN: refused, step 2 used."""
    run(tmp_path, 4)
    os.remove(tmp_path / "checkpoints" / "4" / checkpoints.MANIFEST)
    real = checkpoints.restore

    def nan_at_4(manager, step, target):
        params, opt = real(manager, step, target)
        if step == 4:
            params = jax.tree.map(lambda x: x * np.nan, params)
        return params, opt

    caplog.set_level(logging.INFO)
    checkpoints.restore = nan_at_4
    try:
        run(tmp_path, 5)
    finally:
        checkpoints.restore = real
    assert "non-finite parameter values" in caplog.text
    assert "resuming from step 2" in caplog.text
    assert "has no manifest.json (written by an older run): not verified" in caplog.text


@pytest.mark.slow
def test_a_checkpoint_of_another_model_names_the_first_mismatch(tmp_path):
    run(tmp_path / "a", 2)
    shape = r"is \[32, 32\] stored but \[32, 64\] in the model config"
    with pytest.raises(
        ValueError, match=rf"checkpoint {tmp_path}/a/checkpoints/2: param .*{shape}"
    ):
        run(tmp_path / "a", 3, model_config=BIG)
    with pytest.raises(
        ValueError, match=rf"{tmp_path}/a/checkpoints/2: param .*{shape}.*--gin_file"
    ):
        run(
            tmp_path / "b",
            1,
            model_config=BIG,
            ckpt={"initial_checkpoint_path": str(tmp_path / "a")},
        )


def test_a_truncated_safetensors_file_is_named(tmp_path):
    params = transformer.init_params(train_fakes.TINY, jax.random.key(0))
    hf_io.save_hf_checkpoint(tmp_path, train_fakes.TINY, params)
    _truncate(tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=f"{tmp_path}/model.safetensors: truncated"):
        checkpoints.load_params(str(tmp_path), model_config=train_fakes.TINY)


def _health(**guard):
    return divergence.Health(
        DivergenceGuard(**{"warmup_steps": 5, **guard}), "fake", "runs/x/checkpoints"
    )


def _metrics(loss, grad_norm=1.0):
    return {"loss": loss, "grad_norm": grad_norm, "update_norm": 0.1}


def test_a_finite_blow_up_stops_naming_a_checkpoint_saved_before_it():
    health = _health()
    for step in range(1, 11):
        health.check(_metrics(2.0 - 0.01 * step), step, lambda: [])
    with pytest.raises(FloatingPointError, match="diverging at step 11.*loss 1.5e\\+04") as info:
        health.check(_metrics(1.5e4), 11, lambda: [4, 8])
    assert "Last good checkpoint: step 8 in runs/x/checkpoints" in str(info.value)
    with pytest.raises(FloatingPointError, match="grad_norm 500"):
        _check_all(_health(), [_metrics(2.0)] * 10 + [_metrics(2.0, 500.0)])


def _check_all(health, metrics, saved=()):
    for step, m in enumerate(metrics, 1):
        health.check(m, step, lambda: list(saved))


def test_last_good_predates_the_first_trip_and_none_is_said_plainly():
    # stop=False: the trip at step 11 is only warned about; the NaN at 14 names step 10, not 12.
    health = _health(stop=False)
    _check_all(health, [_metrics(2.0)] * 10 + [_metrics(300.0)] * 3)
    with pytest.raises(FloatingPointError, match="Last good checkpoint: step 10 in"):
        health.check(_metrics(float("nan")), 14, lambda: [10, 12])
    with pytest.raises(FloatingPointError) as info:
        _health().check(_metrics(float("nan")), 3, lambda: [])
    assert "no checkpoint was saved before step 3" in str(info.value)
    assert "None" not in str(info.value)
    # Before warm-up, and when disabled, a jump is not flagged.
    _check_all(_health(), [_metrics(2.0)] * 4 + [_metrics(1e4)])
    _check_all(_health(enabled=False), [_metrics(2.0)] * 10 + [_metrics(1e4)])


def test_a_resumed_run_is_armed_by_its_train_log():
    """After a resume the medians start from train_log.jsonl: a jump at the first step trips."""
    health = _health()
    rows = [{"step": s, "train/loss": 2.0, "train/grad_norm": 1.0} for s in range(1, 11)]
    assert health.seed(rows + [{"step": 12, "train/loss": 9e9}], 10) == 10
    with pytest.raises(
        FloatingPointError, match="diverging at step 11.*Last good checkpoint: step 10"
    ):
        health.check(_metrics(80.0), 11, lambda: [10])
