"""The real-model job (gin/real_model_smollm2.gin): its gin binds a whole job, and in miniature
(slow: one problem, two samples, two SSFT steps) every stage runs on the real checkpoint."""

import json
import os
import subprocess
import sys

import gin
import pytest

from mathft_jax import gin_flags
from mathft_jax.recipes import paper, real_model


def test_real_model_gin_binds_the_job():
    gin.clear_config()
    try:
        gin_flags.setup_gin(["--gin_file=real_model_smollm2.gin"], finalize=True)
        assert real_model.recipe_job() == "real_model"
        cfg = gin.query_parameter("run_real_model_job.cfg").scoped_configurable_fn()
        assert isinstance(cfg, paper.RecipeConfig)
        assert (cfg.model_gin, cfg.test_problems, cfg.test_num_samples) == (
            "models/smollm2_135m.gin",
            10,
            4,
        )
        assert gin.query_parameter("run_real_model_job.kshot") == 4
        # The sizes measured to fit 30 minutes on 2 cores (26 min 39 s; see the gin file).
        assert gin.query_parameter("%SSFT_STEPS") == 10
        assert gin.query_parameter("run_real_model_job.validation_examples") == 16
    finally:
        gin.clear_config()


@pytest.mark.slow
def test_every_stage_runs_on_the_real_model(smollm2_gguf, tmp_path, math_data_dir):
    from conftest import REPO_ROOT

    work = tmp_path / "job"
    # One CPU device, as a user runs it (conftest gives test processes 8 fake devices).
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), XLA_FLAGS="")
    cmd = [
        sys.executable,
        "-m",
        "mathft_jax.recipe",
        "--gin_file=gin/real_model_smollm2.gin",
        f"--gin.WORK_DIR='{work}'",
        f"--gin.GGUF='{smollm2_gguf}'",
        "--gin.TEST_PROBLEMS=1",
        "--gin.NUM_SAMPLES=2",
        "--gin.SSFT_STEPS=2",
        "--gin.run_real_model_job.validation_examples=4",
        "--gin.RecipeConfig.decode_bindings=['run_decode.max_prompt_len = 1024', "
        "'run_decode.max_decode_len = 16', 'run_decode.batch_size = 1']",
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (work / "results.md").read_text()
    assert "| 4-shot base | 2 |" in table and "| SSFT | 2 |" in table
    assert "validation loss" in table and (work / "metrics_vs_n.png").stat().st_size > 0
    rows = [json.loads(x) for x in (work / "decode_baseline" / "candidates.jsonl").open()]
    assert len(rows) == 1 and len(rows[0]["samples"]) == 2 and "greedy" in rows[0]
