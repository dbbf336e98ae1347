"""The trainer loop in-process: start precedence, best checkpoint, NaN stop, half-written steps, gin."""

import json
import os
import shutil

import gin
import jax
import numpy as np
import pytest
import train_fakes

from mathft_jax import train as train_main
from mathft_jax.runtime import checkpoints
from mathft_jax.training import metrics_logging, trainer


def run(model_dir, steps, stage="ssft", loop=None, ckpt=None, val=None, **kw):
    """One `trainer.train` call on the fake task and tiny model; `loop`, `ckpt`, `val` override
    fields of TrainLoopConfig, CheckpointConfig, ValidationConfig, `kw` arguments of `train`."""
    loop_fields = dict(
        model_dir=str(model_dir), stage=stage, train_steps=steps, task_name="fake",
        feature_lengths={"inputs": 4, "targets": 12}, batch_size=8, log_every=1,
    )  # fmt: skip
    args = dict(
        model_config=train_fakes.TINY, batch_iterator_fn=train_fakes.fake_batch_iterator,
        vocabulary=train_fakes.FakeVocab(),
        loop=trainer.TrainLoopConfig(**{**loop_fields, **(loop or {})}),
        checkpoint=trainer.CheckpointConfig(**{"every": 2, **(ckpt or {})}),
        validation=trainer.ValidationConfig(**{"every": 0, **(val or {})}),
    )  # fmt: skip
    args.update(kw)
    return trainer.train(**args)


@pytest.fixture(autouse=True)
def _gin_defaults():
    gin.clear_config()
    gin.bind_parameter("make_schedule.peak_learning_rate", 3e-3)
    yield
    gin.clear_config()


@pytest.mark.slow
def test_start_precedence_and_best(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    out = run(a, 4, val={"every": 2, "best_metric": "validation/loss"})
    assert out["start"] == "scratch"
    best = json.loads((a / "best_checkpoint.json").read_text())
    assert best["step"] == 4 and best["metric"] == "validation/loss"  # loss falls: last is best
    evals = [r for r in metrics_logging.read_log(str(a)) if "validation/loss" in r]
    assert [r["step"] for r in evals] == [2, 4] and evals[1]["validation/loss"] < evals[0][
        "validation/loss"
    ]
    # load_params(MODEL_DIR) gives the best step's params, equal to the final state's.
    loaded = checkpoints.load_params(str(a))
    for x, y in zip(jax.tree.leaves(loaded), jax.tree.leaves(out["state"].params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))

    # A new stage starts from INITIAL_CHECKPOINT_PATH (params only), records it, then resumes.
    assert run(b, 2, ckpt={"initial_checkpoint_path": str(a)})["start"] == "initial"
    info = json.loads((b / "run_info.json").read_text())
    assert info == {"stage": "ssft", "initial_checkpoint": str(a)}
    assert run(b, 4, ckpt={"initial_checkpoint_path": str(a)})["start"] == "resume"
    with pytest.raises(ValueError, match="will be IGNORED"):
        run(b, 6, ckpt={"initial_checkpoint_path": str(tmp_path / "other")})
    # Another stage must not silently resume from this stage's checkpoints.
    with pytest.raises(ValueError, match="holds checkpoints of stage 'ssft'"):
        run(b, 6, stage="verifier_xent")


@pytest.mark.slow
def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    run(tmp_path, 2)
    gin.bind_parameter("make_schedule.peak_learning_rate", float("inf"))
    with pytest.raises(FloatingPointError, match="at step 3.*Last good checkpoint: step 2"):
        run(tmp_path, 4)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2"]
    params = checkpoints.load_params(str(tmp_path))
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(params))


@pytest.mark.slow
def test_steps_between_nan_checks_are_checked_before_saving(tmp_path):
    run(tmp_path, 2)
    gin.bind_parameter("make_schedule.peak_learning_rate", float("inf"))
    with pytest.raises(FloatingPointError, match="at step 4.*Last good checkpoint: step 2"):
        # Step 3 goes bad unchecked; step 4 would save.
        run(tmp_path, 6, loop={"nan_check_every": 100})
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2"]


@pytest.mark.slow
def test_half_written_checkpoint_is_ignored(tmp_path):
    run(tmp_path, 2)
    # What a crash mid-save leaves: orbax's temporary name, never finalized (renamed) to "4".
    shutil.copytree(
        tmp_path / "checkpoints" / "2", tmp_path / "checkpoints" / "4.orbax-checkpoint-tmp-1"
    )
    manager = checkpoints.make_manager(str(tmp_path))
    assert manager.latest_step() == 2
    manager.close()
    assert checkpoints._step_dir(str(tmp_path)).endswith("checkpoints/2")
    out = run(tmp_path, 3)
    assert out["start"] == "resume" and out["step"] == 3
    assert [r["step"] for r in metrics_logging.read_log(str(tmp_path))] == [1, 2, 3]


def test_a_tied_best_metric_picks_the_step_orbax_keeps(tmp_path):
    """Learning rate 0: every evaluation ties. Orbax's BestN keeps the latest of tied steps and
    deletes the others, so best_checkpoint.json must name that one (and it must exist)."""
    gin.bind_parameter("make_schedule.peak_learning_rate", 0.0)
    run(
        tmp_path, 6, ckpt={"every": 2, "keep_last": 1},
        val={"every": 2, "best_metric": "validation/loss"},
    )  # fmt: skip
    best = json.loads((tmp_path / "best_checkpoint.json").read_text())
    assert best["step"] == 6 and os.path.isdir(best["path"])
    assert sorted(int(p) for p in os.listdir(tmp_path / "checkpoints")) == [6]


def test_bad_gin_names_the_binding(tmp_path):
    cfg = tmp_path / "bad.gin"
    cfg.write_text("import mathft_jax.training.trainer\ntrain.no_such_knob = 3\n")
    with pytest.raises(ValueError, match="no_such_knob"):
        train_main.parse_gin([f"--gin_file={cfg}"])
    with pytest.raises(ValueError, match=r"Objective.kind='mlee'"):
        trainer.objectives.Objective(kind="mlee")
    with pytest.raises(ValueError, match="unknown flag"):
        train_main.parse_gin(["--gin_fil=ssft.gin"])


@pytest.mark.slow
def test_verifier_xent_learns_a_learnable_label(tmp_path):
    """The verifier path end to end (label position, S, Eq. 9, accuracy metric) on a task whose
    label is a function of the prompt: validation accuracy must leave chance (0.5) far behind."""
    obj = trainer.objectives.Objective("verifier_xent", label_ids=train_fakes.LABEL_IDS)
    gin.bind_parameter("make_schedule.peak_learning_rate", 1e-2)
    gin.bind_parameter("make_schedule.decay", "constant")
    run(
        tmp_path, 60, objective=obj, batch_iterator_fn=train_fakes.fake_verifier_iterator,
        loop={"feature_lengths": {"inputs": 6, "targets": 2}, "batch_size": 32, "log_every": 20},
        val={"every": 60, "best_metric": "validation/accuracy", "best_mode": "max"},
    )  # fmt: skip
    acc = [
        r["validation/accuracy"]
        for r in metrics_logging.read_log(str(tmp_path))
        if "validation/accuracy" in r
    ]
    assert acc[-1] > 0.9, acc


def test_an_earlier_best_survives_keep_last_and_progress_is_shown(tmp_path, caplog):
    """best_mode "max" on a falling loss makes the first evaluation the best: orbax must keep it
    beside the latest step, best_checkpoint.json name it; the console line and TB are written."""
    import logging

    with caplog.at_level(logging.INFO, logger="mathft_jax.train"):
        run(
            tmp_path, 6, ckpt={"keep_last": 1},
            val={"every": 2, "best_metric": "validation/loss", "best_mode": "max"},
        )  # fmt: skip
    best = json.loads((tmp_path / "best_checkpoint.json").read_text())
    assert best["step"] == 2 and os.path.isdir(best["path"])
    assert sorted(int(p) for p in os.listdir(tmp_path / "checkpoints")) == [2, 6]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert any(
        all(word in line for word in ("step 6/6", "loss", "lr", "tokens/s", "ETA"))
        for line in lines
    ), lines
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / "tb"))


@pytest.mark.slow
def test_a_stage_starts_from_an_hf_checkpoint_folder(tmp_path):
    """INITIAL_CHECKPOINT_PATH may be a transformers folder (config.json + safetensors): its
    weights, not a random init, are where training starts."""
    from mathft_jax.models import hf_io, transformer

    params = transformer.init_params(train_fakes.TINY, jax.random.key(7))
    hf_io.save_hf_checkpoint(tmp_path / "hf", train_fakes.TINY, params)
    gin.bind_parameter("make_schedule.peak_learning_rate", 0.0)  # no update: params stay put
    out = run(tmp_path / "run", 1, ckpt={"initial_checkpoint_path": str(tmp_path / "hf")})
    assert out["start"] == "initial"
    for x, y in zip(jax.tree.leaves(out["state"].params), jax.tree.leaves(params), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)


def test_a_resume_drops_the_log_rows_after_its_step(tmp_path):
    log_file = tmp_path / "train_log.jsonl"
    rows = [{"step": s, "train/loss": 1.0 / s} for s in (1, 2, 3, 4)]
    log_file.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 5, "tr')
    assert metrics_logging.drop_rows_after(str(log_file), 2) == 3  # 3, 4 and the torn line
    assert metrics_logging.read_log(str(tmp_path)) == rows[:2]
    assert metrics_logging.drop_rows_after(str(tmp_path / "absent.jsonl"), 2) == 0


@pytest.mark.slow
def test_a_crash_after_the_checkpoint_leaves_one_log_row_per_step(tmp_path):
    run(tmp_path, 4)  # checkpoints at 2 and 4, log rows 1..4
    shutil.rmtree(tmp_path / "checkpoints" / "4")  # as if it crashed before saving step 4
    assert run(tmp_path, 4)["start"] == "resume"  # from 2: steps 3 and 4 are logged again
    steps = [r["step"] for r in metrics_logging.read_log(str(tmp_path))]
    assert steps == [1, 2, 3, 4]


def test_a_second_trainer_on_one_model_dir_stops_naming_the_first(tmp_path):
    import subprocess
    import sys

    from mathft_jax import locks

    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time; from mathft_jax import locks\n"
            f"with locks.hold({str(tmp_path)!r}, 'train', is_dir=True):\n"
            "    print('GOT', flush=True); time.sleep(60)"
        )], stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )  # fmt: skip
    try:
        assert holder.stdout.readline().startswith("GOT")
        with pytest.raises(locks.LockHeldError, match=f"in use by train .*pid {holder.pid}"):
            run(tmp_path, 2)
        assert not (tmp_path / "checkpoints").exists()  # stopped before any work
    finally:
        holder.kill()
        holder.wait()
    assert run(tmp_path, 2)["step"] == 2  # the dead holder's lock is taken over
