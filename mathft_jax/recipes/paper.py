r"""The paper's whole pipeline (Liu et al. 2023, Sections 3-5); entry point `mathft_jax.recipe`.

    python -m mathft_jax.recipe --gin_file=gin/recipe_smoke.gin [--gin.WORK_DIR="'runs/smoke'"]

Stages, each its own job in its own folder under WORK_DIR, each starting from the previous stage's
chosen checkpoint in a fresh MODEL_DIR (never resuming another stage's run):

  1. ssft          generator SSFT (Eq. 3), checkpoint chosen on validation
  2. sample_train  N samples per training problem from the SSFT model (the verifier's data)
  3. verifier      verifier fine-tuning (Eq. 8 or 9) initialised from the SSFT checkpoint
  4. multitask     SSFT again, initialised from the verifier checkpoint (sequential multi-task)
  5. decode_*      N samples + greedy on the test split, for the SSFT and the multi-task generator
  6. score_*       verifier score S_cls of every test sample
  7. evaluate_*    Pass@1, Pass@N, Maj1@N, MajK@N, re-rank-all, SCR-K (mathft_jax.evaluation)

A stage whose `DONE.json` exists is skipped, so a rerun after a crash continues where it stopped
(and decode/score themselves skip problems already written); a stage done with other settings
(its recorded command differs) stops the recipe, naming what changed, instead of reusing outputs
that do not match them. Every stage runs as a subprocess of
the ordinary entry points (`python -m mathft_jax.train|decode|score`), exactly the commands a user
would type; the log of each is `WORK_DIR/<stage>/log.txt`. WORK_DIR may be a gs:// URL: the
recipe's own files go through `etils.epath` (`mathft_jax.paths_io`).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import gin
from etils import epath

from mathft_jax import candidates, locks, paths_io
from mathft_jax.evaluation import grade, report, summary

# RecipeConfig.ssft_data -> the SSFT task on MATH problems (data/math_tasks.py).
SSFT_TASKS = {"math": "math_ssft_human", "prm800k": "math_ssft_prm800k", "mix": "math_ssft_mix"}


@gin.configurable
@dataclasses.dataclass(frozen=True)
class RecipeConfig:
    """Everything the recipe needs; bound in gin (gin/recipe_smoke.gin is the built-in default)."""

    work_dir: str = gin.REQUIRED
    model_gin: str = "models/tiny.gin"
    # Extra gin files/bindings every train/decode/score job gets (e.g. the synth data file).
    common_gin_files: Sequence[str] = ()
    common_bindings: Sequence[str] = ()
    ssft_gin: str = "ssft.gin"
    verifier_gin: str = "verifier_xent.gin"
    # `verifier_xent` (Eq. 9), `verifier_pairs` (Eq. 8, 12-13) or `contrastive_pairs` (Eq. 10-11):
    # the task built from the sampled pool.
    verifier_task_kind: str = "verifier_xent"
    # The verifier's TASK_FEATURE_LENGTHS. The data gin files come after the stage file and bind
    # TASK_FEATURE_LENGTHS to the SSFT lengths; without this the verifier saw only the last 48
    # bytes of its prompt (synth), never the problem. None keeps whatever the gin files bind.
    verifier_feature_lengths: str | None = "%VERIFIER_FEATURE_LENGTHS"
    ssft_bindings: Sequence[str] = ()
    verifier_bindings: Sequence[str] = ()
    multitask_bindings: Sequence[str] = ()
    # Sampling on the training split for verifier data.
    train_sample_problems: int = 256
    train_num_samples: int = 16
    # Evaluation decoding on the test split.
    test_problems: int | None = None
    test_num_samples: int = 64
    decode_bindings: Sequence[str] = ()
    score_bindings: Sequence[str] = ()
    source: str = "synth"
    # The SSFT data (source "math"): "math" (human solutions, math_ssft_human), "prm800k" (PRM800K
    # GPT-4 solutions, math_ssft_prm800k; needs $MATHFT_PRM800K_DIR), "mix" (both), "auto"
    # (prm800k when $MATHFT_PRM800K_DIR is set, else math: §4.2 finds GPT-4's better), or None
    # (whatever the gin files bind).
    ssft_data: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    ks: Sequence[int] = (1, 2, 4)
    seed: int = 0
    # SSFT starts from this checkpoint (a pretrained HF folder for a real model); None = random init.
    base_checkpoint: str | None = None
    # A `tokenizer.json` (HF) or `.model` (SentencePiece) file for every job; None = the gin default.
    tokenizer: str | None = None
    # How generator stages pick their checkpoint on the validation split: "greedy_pass_at_1" (the
    # paper's choice: greedy decoding graded at each evaluation) or "loss" (validation loss).
    generator_selection: str = "greedy_pass_at_1"
    selection_problems: int = 100
    # Extra bindings of the selection hook (e.g. greedy_pass_at_1_hook.max_decode_len = 72).
    # The hook decodes a seeded sample of `selection_problems` stratified by subject.
    selection_bindings: Sequence[str] = ()
    # How the verifier stage picks its checkpoint: "within_problem_auc" (the pool's validation
    # problems, each problem's samples ranked by S_cls: what SCR and re-ranking depend on;
    # `inference.hooks.verifier_ranking_hook`) or "gin" (the stage gin's, e.g. validation accuracy).
    verifier_selection: str = "within_problem_auc"
    # Extra bindings of that hook (e.g. verifier_ranking_hook.max_len = 1536).
    verifier_selection_bindings: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.generator_selection not in ("greedy_pass_at_1", "loss"):
            raise ValueError(
                "RecipeConfig.generator_selection must be 'greedy_pass_at_1' or 'loss', got "
                f"{self.generator_selection!r}"
            )
        if self.verifier_selection not in ("within_problem_auc", "gin"):
            raise ValueError(
                "RecipeConfig.verifier_selection must be 'within_problem_auc' or 'gin', got "
                f"{self.verifier_selection!r}"
            )
        if self.ssft_data not in (None, *SSFT_TASKS, "auto"):
            raise ValueError(
                f"RecipeConfig.ssft_data must be one of {(*SSFT_TASKS, 'auto')} or None, got "
                f"{self.ssft_data!r}"
            )
        if self.tokenizer and not self.tokenizer.endswith((".json", ".model")):
            raise ValueError(
                f"RecipeConfig.tokenizer={self.tokenizer!r}: expected a tokenizer.json (HF) or a "
                "SentencePiece .model file"
            )

    def job_bindings(self) -> list[str]:
        """Bindings every train/decode/score job gets: the tokenizer, then `common_bindings`."""
        binds = []
        if self.tokenizer:
            kind = "hf" if self.tokenizer.endswith(".json") else "sentencepiece"
            binds += [
                f"get_vocabulary.kind = {kind!r}",
                f"get_vocabulary.path = {self.tokenizer!r}",
            ]
        return [*binds, *self.common_bindings]

    def ssft_task(self) -> str | None:
        """The SSFT task `ssft_data` names ("auto" read from $MATHFT_PRM800K_DIR now), or None."""
        data = self.ssft_data
        if data == "auto":
            data = "prm800k" if os.environ.get("MATHFT_PRM800K_DIR") else "math"
        return SSFT_TASKS[data] if data else None

    def generator_bindings(self) -> list[str]:
        """The generator stages' (SSFT, multi-task SSFT) task and checkpoint selection."""
        task = self.ssft_task()
        data = [f"MIXTURE_OR_TASK_NAME = {task!r}"] if task else []
        if self.generator_selection == "loss":
            return [
                *data,
                "ValidationConfig.best_metric = 'validation/loss'",
                "ValidationConfig.best_mode = 'min'",
            ]
        return [
            *data,
            "import mathft_jax.inference.hooks",
            "ValidationConfig.hooks = [@greedy_pass_at_1_hook()]",
            f"greedy_pass_at_1_hook.source = {self.source!r}",
            "greedy_pass_at_1_hook.split = 'validation'",
            f"greedy_pass_at_1_hook.num_problems = {self.selection_problems}",
            "ValidationConfig.best_metric = 'validation/greedy_pass_at_1'",
            "ValidationConfig.best_mode = 'max'",
            *self.selection_bindings,
        ]


# ----------------------------------------------------------------------------- stage plumbing


def _gin_args(files: Sequence[str], bindings: Sequence[str]) -> list[str]:
    return [f"--gin_file={f}" for f in files] + [f"--gin_bindings={b}" for b in bindings]


def _quote(value: str) -> str:
    """A Python string literal for a gin binding (paths may hold quotes or backslashes)."""
    return repr(str(value))


def _done_marker(stage_dir: epath.Path) -> epath.Path:
    return stage_dir / "DONE.json"


def run_stage(name: str, work_dir: epath.Path, module: str, args: Sequence[str]) -> dict[str, Any]:
    """Runs `python -m module args` unless the stage is done; returns its DONE record.

    The subprocess's output goes to the console and to `<stage>/log.txt`. A failed stage stops the
    recipe with the log's path; nothing of earlier stages is lost.
    """
    stage_dir = work_dir / name
    marker = _done_marker(stage_dir)
    cmd = [sys.executable, "-m", module, *args]
    if marker.exists():
        record = json.loads(marker.read_text())
        # The interpreter may differ between machines; the job and its settings may not.
        if record.get("command", cmd)[1:] != cmd[1:]:
            old, new = record["command"][1:], cmd[1:]
            changed = [a for a in new if a not in old] + [f"(was) {a}" for a in old if a not in new]
            raise ValueError(
                f"recipe stage {name!r} was done with other settings ({marker}): {changed}. "
                f"Its outputs would not match them: delete {stage_dir} and the stages after it to "
                "redo them, or use a new WORK_DIR."
            )
        print(f"[recipe] {name}: done earlier, skipped ({marker})", flush=True)
        return record
    stage_dir.mkdir(parents=True, exist_ok=True)
    print(f"[recipe] {name}: {' '.join(cmd)}", flush=True)
    start = time.time()
    local = not paths_io.is_url(stage_dir)
    # Line-buffered locally, so a kill loses no line; a bucket object is re-uploaded at each flush.
    log_path = stage_dir / "log.txt"
    log_file = (
        open(os.fspath(log_path), "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        if local
        else log_path.open("a", encoding="utf-8")
    )
    with log_file as log:
        proc = _start_child(cmd)
        last_flush = time.time()
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                log.write(line)
                if not local and time.time() - last_flush > 10:
                    log.flush()
                    last_flush = time.time()
                if _worth_showing(line):
                    print(f"  [{name}] {line.rstrip()}", flush=True)
            code = proc.wait()
        finally:
            _stop_child(proc)
    if code != 0:
        raise RuntimeError(
            f"recipe stage {name!r} failed (exit {code}); see {stage_dir / 'log.txt'}. "
            "Rerun the same command to continue from this stage."
        )
    record = {"stage": name, "seconds": round(time.time() - start, 1), "command": cmd}
    marker.write_text(json.dumps(record, indent=1) + "\n")
    print(f"[recipe] {name}: finished in {record['seconds']:.0f} s", flush=True)
    return record


_PR_SET_PDEATHSIG = 1
_CHILDREN: list[subprocess.Popen] = []


def _die_with_parent(parent: int) -> None:
    """In the stage child before exec: SIGTERM when the recipe process dies (Linux), even by
    kill -9; the child's own SIGTERM handling then applies (the trainer saves a checkpoint)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the recipe died before prctl took effect
        os._exit(1)


def _start_child(cmd: Sequence[str]) -> subprocess.Popen:
    """A stage child in its own process group (the recipe's signal handler stops all of it) that
    ends when the recipe process ends, however it ends."""
    parent = os.getpid()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        start_new_session=True,
        preexec_fn=(lambda: _die_with_parent(parent)) if sys.platform == "linux" else None,
    )  # fmt: skip
    _CHILDREN.append(proc)
    return proc


def _stop_child(proc: subprocess.Popen, grace_s: float = 60.0) -> None:
    """SIGTERM to the child's process group, SIGKILL after `grace_s` (a no-op once it ended)."""
    if proc in _CHILDREN:
        _CHILDREN.remove(proc)
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _on_signal(signum: int, frame: Any) -> None:
    """SIGTERM/SIGINT of the recipe: stop the running stage, then exit (its lock is released)."""
    print(f"[recipe] signal {signum}: stopping the running stage", file=sys.stderr, flush=True)
    for proc in list(_CHILDREN):
        _stop_child(proc)
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _recipe_signals() -> Any:
    """Installs `_on_signal` for SIGTERM and SIGINT (main thread only) for the block."""
    old = {}
    with contextlib.suppress(ValueError):
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _worth_showing(line: str) -> bool:
    """Progress and results, not the TensorFlow/XLA start-up noise."""
    noise = (
        "oneDNN",
        "cuda",
        "TF_ENABLE",
        "tensorflow/",
        "absl::InitializeLog",
        "WARNING: All log",
    )
    return bool(line.strip()) and not any(n in line for n in noise)


def chosen_checkpoint_line(name: str, stage_dir: epath.Path) -> str:
    """The validation figure a stage's checkpoint was chosen by (e.g. the verifier's within-problem
    AUC on validation), as a line under the table; empty when the stage recorded none."""
    best = stage_dir / "model" / "best_checkpoint.json"
    record = json.loads(best.read_text()) if best.exists() else {}
    if record.get("value") is None:
        return ""
    return (
        f"{name} checkpoint chosen on validation: {record['metric']} = {record['value']:.3f} "
        f"at step {record['step']}\n"
    )


def chosen_checkpoint(model_dir: epath.Path) -> str:
    """The stage's checkpoint picked on validation (`best_checkpoint.json` written by the trainer)."""
    best = model_dir / "best_checkpoint.json"
    if not best.exists():
        raise FileNotFoundError(f"{best} is missing: the training stage wrote no chosen checkpoint")
    return json.loads(best.read_text())["path"]


# ----------------------------------------------------------------------------- the pipeline


def train_stage(
    cfg: RecipeConfig,
    work: epath.Path,
    name: str,
    stage_gin: str,
    bindings: Sequence[str],
    init_from: str | None,
) -> str:
    """Trains one stage in `work/name/model` and returns its chosen checkpoint's path."""
    model_dir = work / name / "model"
    binds = [
        f"MODEL_DIR={_quote(model_dir)}",
        f"INITIAL_CHECKPOINT_PATH={_quote(init_from) if init_from else None}",
        *cfg.job_bindings(),
        *bindings,
    ]
    files = [stage_gin, cfg.model_gin, *cfg.common_gin_files]
    run_stage(name, work, "mathft_jax.train", _gin_args(files, binds))
    return chosen_checkpoint(model_dir)


def verifier_stage_bindings(cfg: RecipeConfig, pool: epath.Path) -> list[str]:
    """The verifier stage's bindings: its task built from the sampled pool, its feature lengths."""
    binds = [
        "import mathft_jax.data.pool_tasks",
        "MIXTURE_OR_TASK_NAME = @pool_verifier_task()",
        f"pool_verifier_task.candidates_path = {_quote(pool)}",
        f"pool_verifier_task.kind = {_quote(cfg.verifier_task_kind)}",
        "pool_verifier_task.prefix = 'recipe'",
    ]
    # Contrastive pairs are generator-form (SSFT prompt -> solution): they keep the SSFT lengths.
    if cfg.verifier_feature_lengths is not None and cfg.verifier_task_kind != "contrastive_pairs":
        binds.append(f"TASK_FEATURE_LENGTHS = {cfg.verifier_feature_lengths}")
    # A contrastive stage trains a generator: its gin's selection stays.
    if (
        cfg.verifier_selection == "within_problem_auc"
        and cfg.verifier_task_kind != "contrastive_pairs"
    ):
        binds += [
            "import mathft_jax.inference.hooks",
            "ValidationConfig.hooks = [@verifier_ranking_hook()]",
            f"verifier_ranking_hook.candidates_path = {_quote(pool)}",
            "ValidationConfig.best_metric = 'validation/within_problem_auc'",
            "ValidationConfig.best_mode = 'max'",
            *cfg.verifier_selection_bindings,
        ]
    return [*binds, *cfg.verifier_bindings]


def decode_stage(
    cfg: RecipeConfig,
    work: epath.Path,
    name: str,
    checkpoint: str,
    split: str,
    num_problems: int | None,
    num_samples: int,
) -> epath.Path:
    """Samples `num_samples` solutions (and the greedy one) per problem into a candidates file."""
    output = work / name / "candidates.jsonl"
    binds = [
        f"CHECKPOINT_PATH={_quote(checkpoint)}",
        f"OUTPUT={_quote(output)}",
        f"NUM_SAMPLES={num_samples}",
        f"SEED={cfg.seed}",
        f"run_decode.source={_quote(cfg.source)}",
        f"run_decode.split={_quote(split)}",
        f"run_decode.num_problems={num_problems}",
        *cfg.job_bindings(),
        *cfg.decode_bindings,
    ]
    files = [cfg.model_gin, "decode.gin", *cfg.common_gin_files]
    run_stage(name, work, "mathft_jax.decode", _gin_args(files, binds))
    return output


def score_stage(
    cfg: RecipeConfig, work: epath.Path, name: str, verifier: str, pool: epath.Path
) -> epath.Path:
    """Adds the verifier's S_cls to every sample of `pool`."""
    output = work / name / "scored.jsonl"
    binds = [
        f"CHECKPOINT_PATH={_quote(verifier)}",
        f"CANDIDATES={_quote(pool)}",
        f"OUTPUT={_quote(output)}",
        *cfg.job_bindings(),
        *cfg.score_bindings,
    ]
    files = [cfg.model_gin, "score.gin", *cfg.common_gin_files]
    run_stage(name, work, "mathft_jax.score", _gin_args(files, binds))
    return output


def evaluate_stage(
    cfg: RecipeConfig, work: epath.Path, name: str, scored: epath.Path
) -> dict[str, Any]:
    """Grades, clusters and reports one scored candidates file (in-process: no JAX needed)."""
    out_dir = work / name
    metrics_path = out_dir / "metrics.json"
    if _done_marker(out_dir).exists() and metrics_path.exists():
        print(f"[recipe] {name}: done earlier, skipped", flush=True)
        return json.loads(metrics_path.read_text())
    print(f"[recipe] {name}: grading and clustering {scored}", flush=True)
    rows = candidates.read_candidates(scored)  # local or gs://
    result = summary.summarize(grade.grade_all(rows), ks=cfg.ks, seed=cfg.seed)
    result["candidates"] = str(scored)
    _write_report(result, out_dir, title=name)
    _done_marker(out_dir).write_text(json.dumps({"stage": name}) + "\n")
    return result


# `evaluation.report` writes plain local files; a URL WORK_DIR goes through a copy.
def _write_report(result: dict[str, Any], out_dir: epath.Path, title: str) -> None:
    if not paths_io.is_url(out_dir):
        report.write_report(result, out_dir, title=title)
        return
    with tempfile.TemporaryDirectory() as tmp:
        report.write_report(result, tmp, title=title)
        out_dir.mkdir(parents=True, exist_ok=True)
        for file in epath.Path(tmp).iterdir():
            file.copy(out_dir / file.name, overwrite=True)


def _cell(stat: dict[str, Any] | None) -> str:
    """`mean [low, high]` (the 95% CI), `mean` alone without one, `-` when absent."""
    if not stat or stat.get("mean") is None or stat["mean"] != stat["mean"]:
        return "-"
    return report.format_stat(stat)


# Paired differences the table reports between the first two generators (key, title).
DIFF_KEYS = (("greedy_correct", "Pass@1"), ("mean_acc", "mean sample acc."), ("maj1", "Maj1@N"))


def paper_table(results: dict[str, dict[str, Any]], ks: Sequence[int]) -> str:
    """The smoke run's headline table: one row per generator, metrics at the full pool size N, each
    with its 95% CI; then the second generator minus the first, paired over problems."""
    cols = ["Pass@1", "mean sample acc.", "Maj1@N"] + [f"Maj{k}@N" for k in ks if k != 1]
    cols += ["Pass@N", "re-rank all"] + [f"SCR-{k}" for k in ks] + ["verifier AUC within"]
    lines = ["| model | N | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for model, result in results.items():
        n = str(max(result["ns"]))
        row = result["by_n"][n]
        stats = [result["pass1"], result.get("mean_sample_accuracy"), row["maj1"]]
        stats += [row[f"maj{k}"] for k in ks if k != 1]
        stats += [row["pass@n"], row.get("rerank_all")] + [row.get(f"scr{k}") for k in ks]
        stats.append(result.get("verifier_within_auc"))
        lines.append(f"| {model} | {n} | " + " | ".join(_cell(s) for s in stats) + " |")
    first = next(iter(results.values()))
    lines.append("")
    lines.append(
        f"{first.get('num_problems', '?')} problems; mean [95% CI over problems]. Pass@1 is "
        f"{first['pass1']['kind']}; mean sample acc. is the fraction of correct samples; SCR-K "
        "re-ranks only the samples of the top-K clusters; verifier AUC within: mean over problems "
        "with right and wrong samples of the AUC of verifier scores among that problem's samples."
    )
    if len(results) >= 2 and all("per_problem" in r for r in results.values()):
        (name_a, a), (name_b, b) = list(results.items())[:2]
        n = str(max(a["ns"]))
        keys = [*DIFF_KEYS, *[(f"scr{k}", f"SCR-{k}") for k in ks[-1:]]]
        keys = [(key, title) for key, title in keys if a["per_problem"][0].get(key) is not None]
        cells = [
            f"{title} {_signed(summary.paired_difference(a['per_problem'], b['per_problem'], key))}"
            for key, title in keys
        ]
        lines.append(
            f"{name_b} - {name_a} (paired over problems, N = {n}, 95% CI): " + "; ".join(cells)
        )
    return "\n".join(lines) + "\n"


def _signed(stat: dict[str, Any]) -> str:
    """A paired difference with its CI; no CI on a single problem (it is not defined)."""
    return report.format_stat(stat, signed=True)


def run_recipe(cfg: RecipeConfig) -> str:
    """Runs every stage (skipping finished ones) and returns the headline table."""
    work = paths_io.as_path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    # One recipe per WORK_DIR; its stage children end with it (`_start_child`, `_on_signal`).
    with _recipe_signals(), locks.hold(cfg.work_dir, "recipe", is_dir=True):
        return _run_stages(cfg, work)


def _run_stages(cfg: RecipeConfig, work: epath.Path) -> str:
    start = time.time()
    generator_binds = [*cfg.generator_bindings(), *cfg.ssft_bindings]
    ssft = train_stage(cfg, work, "ssft", cfg.ssft_gin, generator_binds, cfg.base_checkpoint)
    pool = decode_stage(
        cfg,
        work,
        "sample_train",
        ssft,
        cfg.train_split,
        cfg.train_sample_problems,
        cfg.train_num_samples,
    )
    verifier = train_stage(
        cfg, work, "verifier", cfg.verifier_gin, verifier_stage_bindings(cfg, pool), ssft
    )
    multitask = train_stage(
        cfg,
        work,
        "multitask",
        cfg.ssft_gin,
        [*generator_binds, *cfg.multitask_bindings],
        verifier,
    )
    results = {}
    for model, ckpt in (("ssft", ssft), ("multitask", multitask)):
        test_pool = decode_stage(
            cfg,
            work,
            f"decode_{model}",
            ckpt,
            cfg.test_split,
            cfg.test_problems,
            cfg.test_num_samples,
        )
        scored = score_stage(cfg, work, f"score_{model}", verifier, test_pool)
        results[model] = evaluate_stage(cfg, work, f"evaluate_{model}", scored)
    table = paper_table(results, cfg.ks) + chosen_checkpoint_line("verifier", work / "verifier")
    (work / "results.md").write_text(table)
    report.plot_vs_n(results, work / "metrics_vs_n.png")
    print(
        f"\n[recipe] all stages done in {time.time() - start:.0f} s; table in "
        f"{work / 'results.md'}, curves in {work / 'metrics_vs_n.png'}\n"
    )
    print(table)
    return table
