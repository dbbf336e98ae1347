"""Experiments: stage keying, sharing of stages between variants and experiments, stop_after, and
one table with every row. Stage jobs are faked here (no JAX): a fake `run_stage` writes what the
real job would (chosen checkpoint, candidates, scores) and keeps the DONE marker as the recipe does,
so the experiment logic, evaluation and tables are real. The slow end-to-end runs are in
test_experiments_end_to_end.py."""

import json
import re

import gin
import pytest
from etils import epath

from mathft_jax import gin_flags
from mathft_jax.recipes import experiments, paper


@pytest.fixture(autouse=True)
def _clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def _binding(args, name):
    prefix = f"--gin_bindings={name}="
    return next(eval(a[len(prefix) :]) for a in args if a.startswith(prefix))  # noqa: S307


@pytest.fixture
def runs(monkeypatch):
    """Replaces the stage subprocess; returns the list of stage folders that really ran."""
    ran = []

    def fake_run_stage(name, work_dir, module, args):
        stage_dir = work_dir / name
        if (stage_dir / "DONE.json").exists():
            return json.loads((stage_dir / "DONE.json").read_text())
        ran.append(name)
        stage_dir.mkdir(parents=True, exist_ok=True)
        if module == "mathft_jax.train":
            model = epath.Path(_binding(args, "MODEL_DIR"))
            model.mkdir(parents=True, exist_ok=True)
            best = {"path": str(model / "checkpoints" / "1")}
            (model / "best_checkpoint.json").write_text(json.dumps(best))
        elif module == "mathft_jax.decode":
            rows = [
                {"unique_id": f"p{i}", "problem": "?", "answer": "1", "greedy": "\\boxed{1}",
                 "samples": ["\\boxed{1}", "\\boxed{2}", "\\boxed{1}", "\\boxed{3}"]}
                for i in range(3)
            ]  # fmt: skip
            out = epath.Path(_binding(args, "OUTPUT"))
            out.write_text("".join(json.dumps(r) + "\n" for r in rows))
        elif module == "mathft_jax.score":
            rows = [json.loads(x) for x in epath.Path(_binding(args, "CANDIDATES")).open()]
            for r in rows:
                r["verifier_scores"] = [0.1, 0.9, 0.2, 0.8]  # the wrong "2" ranks first
            out = epath.Path(_binding(args, "OUTPUT"))
            out.write_text("".join(json.dumps(r) + "\n" for r in rows))
        record = {"stage": name, "command": ["python", "-m", module, *args]}
        (stage_dir / "DONE.json").write_text(json.dumps(record))
        return record

    monkeypatch.setattr(paper, "run_stage", fake_run_stage)
    return ran


def _configs(name, work, *bindings):
    gin.clear_config()
    gin_flags.setup_gin(
        [f"--gin_file=experiments/{name}.gin", f"--gin.WORK_DIR='{work}'", "--gin.RecipeConfig.test_problems=3",
         *[f"--gin_bindings={b}" for b in bindings]], finalize=True
    )  # fmt: skip
    return paper.RecipeConfig(), experiments.ExperimentConfig()


def _kinds(ran):
    return [re.sub(r"-[0-9a-f]{10}$", "", name) for name in ran]


def test_stage_key_is_the_configuration():
    cfg = paper.RecipeConfig(work_dir="/w")
    key = experiments.stage_key("train", cfg, "/w", stage_gin="ssft.gin", bindings=["A = 1"],
                                init="/w/stages/x/model/checkpoints/3")  # fmt: skip
    same = experiments.stage_key("train", cfg, "/w", stage_gin="ssft.gin", bindings=["A = 1"],
                                 init="/w/stages/x/model/checkpoints/3")  # fmt: skip
    assert key == same and len(key) == 10
    # WORK_DIR moved: the same key (paths under it are relative).
    moved = paper.RecipeConfig(work_dir="/v")
    assert key == experiments.stage_key(
        "train",
        moved,
        "/v",
        stage_gin="ssft.gin",
        bindings=["A = 1"],
        init="/v/stages/x/model/checkpoints/3",
    )
    for changed in (
        {"stage_gin": "ssft.gin", "bindings": ["A = 2"], "init": "/w/stages/x/model/checkpoints/3"},
        {"stage_gin": "ssft.gin", "bindings": ["A = 1"], "init": "/w/stages/y/model/checkpoints/3"},
        {"stage_gin": "contrastive.gin", "bindings": ["A = 1"], "init": "/w/stages/x/model/checkpoints/3"},
    ):  # fmt: skip
        assert experiments.stage_key("train", cfg, "/w", **changed) != key
    other_model = paper.RecipeConfig(work_dir="/w", model_gin="models/llama3_1b.gin")
    assert (
        experiments.stage_key(
            "train",
            other_model,
            "/w",
            stage_gin="ssft.gin",
            bindings=["A = 1"],
            init="/w/stages/x/model/checkpoints/3",
        )
        != key
    )
    # A setting of another kind of stage does not move a training stage.
    other_decode = paper.RecipeConfig(work_dir="/w", decode_bindings=["run_decode.batch_size = 2"])
    assert (
        experiments.stage_key(
            "train",
            other_decode,
            "/w",
            stage_gin="ssft.gin",
            bindings=["A = 1"],
            init="/w/stages/x/model/checkpoints/3",
        )
        == key
    )


def test_scr_trains_ssft_once_for_both_verifiers_and_tables_every_row(tmp_path, runs):
    cfg, exp = _configs("scr", tmp_path)
    table = experiments.run_experiment(cfg, exp)
    # (Evaluation runs in-process, not as a stage job: not in `runs`.)
    assert _kinds(runs) == ["ssft", "decode", "decode", "verifier_xent", "score",
                            "verifier_margin", "score"]  # fmt: skip
    rows = [line.split(" | ")[:2] for line in table.splitlines() if line.startswith("| ")][1:]
    expected = [["| Maj1@N", "none"]]
    for verifier in ("Eq. 9 cross-entropy", "Eq. 8 margin"):
        expected += [
            [f"| {m}", verifier] for m in ("re-rank all", "SCR-1", "SCR-2", "SCR-4", "SCR-8")
        ]
    assert rows == expected
    assert "| Maj1@N | none | 1.000 [1.00, 1.00] | 0 |" in table
    assert "| re-rank all | Eq. 9 cross-entropy | 0.000 [0.00, 0.00] | 4.00 |" in table
    assert "| SCR-1 | Eq. 8 margin | 1.000 [1.00, 1.00] | 2.00 |" in table
    assert (tmp_path / "scr" / "results.md").read_text() == table
    assert (tmp_path / "scr" / "metrics_vs_n.png").read_bytes()[:4] == b"\x89PNG"
    # Both verifiers start from the one SSFT checkpoint.
    ssft = next(n for n in runs if n.startswith("ssft-"))
    for verifier in [n for n in runs if n.startswith("verifier")]:
        command = json.loads((tmp_path / "stages" / verifier / "DONE.json").read_text())["command"]
        init = (
            f"--gin_bindings=INITIAL_CHECKPOINT_PATH='{tmp_path}/stages/{ssft}/model/checkpoints/1'"
        )
        assert init in command

    # Rerun: nothing runs again. A changed margin binding: only its verifier and what follows.
    runs.clear()
    assert experiments.run_experiment(cfg, exp) == table and runs == []
    cfg, exp = _configs("scr", tmp_path, "RecipeConfig.verifier_bindings = ['TRAIN_STEPS = 7']")
    experiments.run_experiment(cfg, exp)
    assert _kinds(runs) == ["verifier_xent", "score", "verifier_margin", "score"]


def test_experiments_share_stages_under_one_work_dir(tmp_path, runs):
    experiments.run_experiment(*_configs("scr", tmp_path))
    runs.clear()
    table = experiments.run_experiment(*_configs("multitask", tmp_path))
    # SSFT, the sampled pool, the Eq. 9 verifier and the SSFT test decode come from scr.
    # The sequential multi-task generator is SSFT again (ssft.gin), from the verifier.
    assert _kinds(runs) == ["ssft", "contrastive", "joint_margin", "joint_xent",
                            "decode", "decode", "decode", "decode"]  # fmt: skip
    labels = [line.split(" | ")[0] for line in table.splitlines() if line.startswith("| ")][1:]
    assert labels == ["| SSFT alone", "| sequential multi-task", "| contrastive (Eq. 10-11)",
                      "| joint margin (Eq. 12)", "| joint cross-entropy (Eq. 13)"]  # fmt: skip
    runs.clear()
    table = experiments.run_experiment(*_configs("sources", tmp_path))
    assert runs == []  # SSFT and its test decode shared with scr (evaluated anew: ks differ)
    assert "| SSFT: synthetic reference solutions | 3 | 4 |" in table
    assert "no pretrained model for a few-shot row" in table


def test_stop_after_ends_the_run_after_that_stage(tmp_path, runs):
    cfg, exp = _configs("scr", tmp_path, "ExperimentConfig.stop_after = 'sample_train'")
    assert experiments.run_experiment(cfg, exp) is None
    assert _kinds(runs) == ["ssft", "decode"]
    assert not (tmp_path / "scr" / "results.md").exists()
    cfg, exp = _configs("scr", tmp_path, "ExperimentConfig.stop_after = 'verifier-margin'")
    assert experiments.run_experiment(cfg, exp) is None
    assert _kinds(runs)[2:] == ["decode", "verifier_xent", "score", "verifier_margin"]
    cfg, exp = _configs("scr", tmp_path, "ExperimentConfig.stop_after = 'verifier'")
    with pytest.raises(ValueError, match=r"stop_after='verifier' names no stage.*verifier-xent"):
        experiments.run_experiment(cfg, exp)


def test_fewshot_row_decodes_the_base_checkpoint_with_the_kshot_prompt(tmp_path, runs):
    cfg, exp = _configs("sources", tmp_path, "RecipeConfig.base_checkpoint = '/ckpt/base'")
    table = experiments.run_experiment(cfg, exp)
    assert "| few-shot (pretrained) | 3 | 4 |" in table
    decodes = [json.loads((tmp_path / "stages" / n / "DONE.json").read_text()) for n in runs
               if n.startswith("decode-")]  # fmt: skip
    kshot = [d for d in decodes if "--gin_bindings=build_prompt_fn.style = 'kshot'" in d["command"]]
    assert len(kshot) == 1 and "--gin_bindings=CHECKPOINT_PATH='/ckpt/base'" in kshot[0]["command"]


def test_bad_experiment_settings_name_the_field():
    with pytest.raises(ValueError, match="ExperimentConfig.name"):
        experiments.ExperimentConfig(name="table2")
    with pytest.raises(ValueError, match=r"verifiers\['x'\]: unknown keys"):
        experiments.ExperimentConfig(name="scr", verifiers={"x": {"lable": "typo"}})
    with pytest.raises(ValueError, match="init"):
        experiments.ExperimentConfig(name="multitask", generators={"g": {"init": "multitask"}})


@pytest.mark.parametrize("name", ["sources", "scr", "multitask"])
def test_math_experiment_configs_plan_every_variant(name, tmp_path):
    gin_flags.setup_gin(
        [f"--gin_file=experiments/{name}_math.gin", "--gin.BASE_CHECKPOINT='/ckpt/llama'",
         "--gin.TOKENIZER='/ckpt/llama/tokenizer.json'", f"--gin.WORK_DIR='{tmp_path}'"],
        finalize=True,
    )  # fmt: skip
    cfg, exp = paper.RecipeConfig(), experiments.ExperimentConfig()
    assert cfg.source == "math" and cfg.base_checkpoint == "/ckpt/llama"
    names = experiments.plan(cfg, exp)
    expected = {
        "sources": ["ssft-human", "ssft-prm800k", "ssft-both", "decode-fewshot"],
        "scr": ["ssft", "sample_train", "verifier-xent", "verifier-margin", "score-margin"],
        "multitask": ["verifier-xent", "gen-sequential", "gen-contrastive", "gen-joint_margin",
                      "gen-joint_xent", "evaluate-joint_xent"],
    }[name]  # fmt: skip
    assert set(expected) <= set(names)
