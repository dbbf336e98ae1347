"""PRM800K as SSFT data (§4.2): GPT-4-written correct samples only unless asked, a cap per problem,
matched to MATH problems (Lightman split); its pair tasks carry the MATH reference solution; and
recipe_math trains SSFT on it when $MATHFT_PRM800K_DIR is set. A tiny fake PRM800K folder."""

import json

import gin
import pytest

from mathft_jax import gin_flags
from mathft_jax.data import problems, registry, tasks
from mathft_jax.recipes import paper


def _phase2(problem, truth, steps):
    return {"question": {"problem": problem, "ground_truth_answer": truth,
                         "pre_generated_steps": steps}, "label": {"finish_reason": "solution"}}  # fmt: skip


def _phase1_human(problem, truth, text):
    step = {"completions": [{"text": "Hmm.", "rating": -1}], "chosen_completion": None,
            "human_completion": {"text": text, "rating": 1}}  # fmt: skip
    answer = {
        "completions": [{"text": f"# Answer\n\n{truth}", "rating": 1}],
        "chosen_completion": 0,
    }
    return {"question": {"problem": problem, "ground_truth_answer": truth},
            "label": {"steps": [step, answer], "finish_reason": "solution"}}  # fmt: skip


@pytest.fixture
def prm_dir(tmp_path, monkeypatch):
    p = problems.load_problems("math", "train")[0]
    lines = [_phase2(p.problem, p.answer, [f"GPT-4 way {i}.", f"# Answer\n\n{p.answer}"])
             for i in range(6)]  # fmt: skip
    lines.append(_phase2(p.problem, p.answer, ["Wrong.", "# Answer\n\n-98765"]))
    lines.append(_phase1_human(p.problem, p.answer, "A labeler's step."))
    (tmp_path / "phase2_train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    monkeypatch.setenv("MATHFT_PRM800K_DIR", str(tmp_path))
    tasks.register_builtin_tasks()
    gin.clear_config()
    yield p
    gin.clear_config()


def _ssft_targets():
    return [ex["targets"] for ex in registry.get_task("math_ssft_prm800k").examples("train")]


def test_prm800k_ssft_keeps_gpt4_correct_samples_capped_per_problem(prm_dir):
    targets = _ssft_targets()
    assert len(targets) == 4  # prm800k_ssft_options.max_per_problem default
    assert all(t.startswith("GPT-4 way") for t in targets)  # no wrong, no labeler-written sample
    assert targets == _ssft_targets()  # the seeded choice is stable
    gin.bind_parameter("prm800k_ssft_options.max_per_problem", None)
    assert len(_ssft_targets()) == 6
    gin.bind_parameter("prm800k_ssft_options.gpt4_only", False)
    assert sum("A labeler's step." in t for t in _ssft_targets()) == 1


def test_prm800k_pairs_carry_the_math_reference_solution(prm_dir):
    pairs = registry.get_task("math_verifier_pairs").examples("train")
    assert pairs and all(ex["gen_targets"] == prm_dir.solution for ex in pairs)


@pytest.mark.parametrize(
    ("ssft_data", "env", "task"),
    [("auto", True, "math_ssft_prm800k"), ("auto", False, "math_ssft_human"),
     ("mix", True, "math_ssft_mix"), ("math", True, "math_ssft_human"), (None, True, None)],
)  # fmt: skip
def test_recipe_math_ssft_data_follows_prm800k_dir(ssft_data, env, task, tmp_path, monkeypatch):
    if env:
        monkeypatch.setenv("MATHFT_PRM800K_DIR", str(tmp_path))
    else:
        monkeypatch.delenv("MATHFT_PRM800K_DIR", raising=False)
    gin.clear_config()
    try:
        gin_flags.setup_gin(
            ["--gin_file=recipe_math.gin", "--gin.BASE_CHECKPOINT='b'", "--gin.TOKENIZER='t.json'"]
        )
        assert gin.query_parameter("RecipeConfig.ssft_data") == "auto"  # recipe_math's default
        cfg = paper.RecipeConfig(ssft_data=ssft_data)
    finally:
        gin.clear_config()
    binds = [b for b in cfg.generator_bindings() if b.startswith("MIXTURE_OR_TASK_NAME")]
    assert binds == ([f"MIXTURE_OR_TASK_NAME = {task!r}"] if task else [])
