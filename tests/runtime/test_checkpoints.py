"""Checkpoint I/O (`mathft_jax.runtime.checkpoints`) on a gs:// MODEL_DIR (a fake bucket)."""

import pytest

from mathft_jax.runtime import checkpoints


def test_checkpoint_json_and_start_decision_on_a_gs_model_dir(bucket):
    model_dir = "gs://bucket/runs/ssft"
    checkpoints.write_json(f"{model_dir}/{checkpoints.RUN_INFO}", {"stage": "ssft"})
    assert (bucket / "bucket/runs/ssft/run_info.json").exists()
    assert not (bucket / "bucket/runs/ssft/run_info.json.tmp").exists()
    start, reason = checkpoints.decide_start(model_dir, "ssft", None, 3)
    assert start == "resume" and f"RESUMING from {model_dir} step 3" in reason
    with pytest.raises(ValueError, match="holds checkpoints of stage 'ssft'"):
        checkpoints.decide_start(model_dir, "verifier", None, 3)
