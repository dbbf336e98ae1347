r"""The paper's comparisons, one command each; entry point `mathft_jax.experiment`.

    python -m mathft_jax.experiment --gin_file=gin/experiments/scr.gin [--gin.WORK_DIR="'runs/x'"]

Experiments (`ExperimentConfig.name`), each a plan of the recipe's stages (`recipes.paper`:
train_stage, decode_stage, score_stage, evaluate_stage) over variants:
  sources    SSFT on each solution source (`ssft_sources`) + the few-shot baseline of the
             pretrained model (`fewshot`, needs a base checkpoint) -> Pass@1, Maj1@N, Pass@N
  scr        verifiers (`verifiers`: Eq. 9 cross-entropy, Eq. 8 margin) on samples of one SSFT
             model -> Maj1@N, re-rank-all, SCR-K and the samples each scores per problem
  multitask  generators (`generators`): SSFT alone, sequential multi-task (generator -> verifier ->
             generator), contrastive (Eq. 10-11), joint margin / cross-entropy (Eq. 12-13)

Stages are keyed by their configuration: each lives in `WORK_DIR/stages/<stage>-<hash>/`, the hash
over what the stage's job depends on (stage gin files, bindings, the init checkpoint, the data
file, model and data gin). Variants and experiments sharing a stage (one SSFT feeds every verifier;
`scr` and `multitask` share SSFT, the sampled pool and the verifier under one WORK_DIR) run it
once; a variant that differs gets its own folder instead of stopping the run. The recipe's DONE.json
marker and its recorded-command check stay the backstop: a setting the key misses still stops the
run rather than reusing a mismatched output. `stop_after = "<stage>"` ends a run after that stage
(names are printed by the plan at the start). Results: `WORK_DIR/<experiment>/results.md` (one
table, all rows, 95% CIs) and `metrics_vs_n.png` (every row, CI bands).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import gin
from etils import epath

from mathft_jax import paths_io
from mathft_jax.evaluation import report
from mathft_jax.recipes import paper, results

EXPERIMENTS = ("sources", "scr", "multitask")
# Fields of RecipeConfig each kind of stage's job depends on (beyond the call's own arguments).
_JOB_FIELDS = ("model_gin", "common_gin_files", "common_bindings", "tokenizer")
_KEY_FIELDS = {
    "train": _JOB_FIELDS,
    "decode": (*_JOB_FIELDS, "seed", "source", "decode_bindings"),
    "score": (*_JOB_FIELDS, "score_bindings"),
    "evaluate": ("ks", "seed"),
}


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One comparison; the stages' settings come from RecipeConfig (recipe_smoke / recipe_math).

    Variants are {id: spec}; the id names the stages (`ssft-<id>`, `verifier-<id>`, ...) and a
    spec may hold `label` (the table's row name), `bindings` (of the variant's training stage),
    `gin` (its stage file), `task_kind` (a pool task: verifier_xent | verifier_pairs |
    contrastive_pairs) and `init` ("base" | "ssft" | "verifier"; generators only).
    """

    name: str = gin.REQUIRED
    stop_after: str | None = None
    # sources: SSFT data per source (bindings such as MIXTURE_OR_TASK_NAME = 'math_ssft_prm800k').
    ssft_sources: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=lambda: {"reference": {"label": "reference solutions"}}
    )
    # sources: decode the pretrained model (RecipeConfig.base_checkpoint) with these bindings.
    fewshot: bool = True
    fewshot_bindings: Sequence[str] = ("build_prompt_fn.style = 'kshot'", "build_prompt_fn.k = 4")
    # scr: verifier variants trained on the SSFT model's samples.
    verifiers: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=lambda: {
            "xent": {"label": "Eq. 9 cross-entropy", "gin": "verifier_xent.gin",
                     "task_kind": "verifier_xent"},
            "margin": {"label": "Eq. 8 margin", "gin": "verifier_margin.gin",
                       "task_kind": "verifier_pairs"},
        }
    )  # fmt: skip
    # multitask: generator variants compared with SSFT alone (always the first row).
    generators: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    # Notes printed under the table (what a synthetic stand-in does not cover, ...).
    notes: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.name not in EXPERIMENTS:
            raise ValueError(
                f"ExperimentConfig.name must be one of {EXPERIMENTS}, got {self.name!r}"
            )
        for what, variants in (
            ("ssft_sources", self.ssft_sources),
            ("verifiers", self.verifiers),
            ("generators", self.generators),
        ):
            for vid, spec in variants.items():
                if not vid.replace("_", "").isalnum():
                    raise ValueError(f"ExperimentConfig.{what}: id {vid!r} must be [A-Za-z0-9_]")
                unknown = set(spec) - {"label", "bindings", "gin", "task_kind", "init"}
                if unknown:
                    raise ValueError(f"ExperimentConfig.{what}[{vid!r}]: unknown keys {unknown}")
                if what == "generators" and vid == "ssft":
                    raise ValueError("ExperimentConfig.generators: 'ssft' is SSFT alone's row")
                if spec.get("init", "ssft") not in ("base", "ssft", "verifier"):
                    raise ValueError(f"ExperimentConfig.{what}[{vid!r}].init: {spec['init']!r}")


class StopAfter(Exception):
    """Raised after the stage named by `stop_after` has run."""


def _rel(value: Any, work: str) -> Any:
    """Paths under WORK_DIR as `$WORK/...`: a key does not depend on where WORK_DIR lives."""
    if isinstance(value, (list, tuple)):
        return [_rel(v, work) for v in value]
    if isinstance(value, dict):
        return {k: _rel(v, work) for k, v in value.items()}
    if isinstance(value, epath.Path):
        value = str(value)
    return value.replace(work, "$WORK") if isinstance(value, str) else value


def stage_key(kind: str, cfg: paper.RecipeConfig, work: str, **inputs: Any) -> str:
    """A short hash of what a stage's job depends on: the same configuration, the same folder."""
    fields = {f: getattr(cfg, f) for f in _KEY_FIELDS[kind]}
    if kind == "train" or kind == "decode" or kind == "score":
        fields["job_bindings"] = cfg.job_bindings()
    blob = json.dumps(
        {"kind": kind, **_rel(fields, work), **_rel(inputs, work)}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


class Stages:
    """Runs (or, with `dry=True`, only names) keyed stages under `work/stages`."""

    def __init__(self, work: epath.Path, stop_after: str | None = None, dry: bool = False):
        self.work = work
        self.root = work / "stages"
        self.stop_after = stop_after
        self.dry = dry
        self.names: list[str] = []  # logical stage names in run order (repeats once)
        self.folders: dict[str, str] = {}  # logical name -> folder under stages/

    def _begin(self, name: str, kind: str, cfg: paper.RecipeConfig, **inputs: Any) -> str:
        # The folder names the job, not the variant: equal settings share it across variants and
        # experiments (`ssft-<hash>`, `verifier_xent-<hash>`, `decode-<hash>`, ...).
        role = epath.Path(inputs["stage_gin"]).stem if kind == "train" else kind
        folder = f"{role}-{stage_key(kind, cfg, str(self.work), **inputs)}"
        if name in self.folders and self.folders[name] != folder:
            raise ValueError(f"experiment stage {name!r} planned twice with different settings")
        if name not in self.folders:
            self.names.append(name)
        self.folders[name] = folder
        return folder

    def _end(self, name: str) -> None:
        if not self.dry and name == self.stop_after:
            raise StopAfter(name)

    def train(self, name, cfg, stage_gin, bindings, init_from) -> str:
        folder = self._begin(
            name, "train", cfg, stage_gin=stage_gin, bindings=list(bindings), init=init_from
        )
        if self.dry:
            return f"{self.root}/{folder}/model/checkpoints/0"
        ckpt = paper.train_stage(cfg, self.root, folder, stage_gin, bindings, init_from)
        self._end(name)
        return ckpt

    def decode(self, name, cfg, checkpoint, split, num_problems, num_samples) -> epath.Path:
        folder = self._begin(
            name, "decode", cfg, checkpoint=checkpoint, split=split,
            num_problems=num_problems, num_samples=num_samples,
        )  # fmt: skip
        if self.dry:
            return self.root / folder / "candidates.jsonl"
        out = paper.decode_stage(
            cfg, self.root, folder, checkpoint, split, num_problems, num_samples
        )
        self._end(name)
        return out

    def score(self, name, cfg, verifier, pool) -> epath.Path:
        folder = self._begin(name, "score", cfg, verifier=verifier, pool=pool)
        if self.dry:
            return self.root / folder / "scored.jsonl"
        out = paper.score_stage(cfg, self.root, folder, verifier, pool)
        self._end(name)
        return out

    def evaluate(self, name, cfg, scored) -> dict[str, Any]:
        folder = self._begin(name, "evaluate", cfg, scored=scored)
        if self.dry:
            return {}
        out = paper.evaluate_stage(cfg, self.root, folder, scored)
        self._end(name)
        return out


def _label(vid: str, spec: Mapping[str, Any]) -> str:
    return str(spec.get("label", vid))


def _ssft(st: Stages, cfg: paper.RecipeConfig, extra: Sequence[str] = (), name: str = "ssft"):
    binds = [*cfg.generator_bindings(), *cfg.ssft_bindings, *extra]
    return st.train(name, cfg, cfg.ssft_gin, binds, cfg.base_checkpoint)


def _test_decode(st: Stages, cfg: paper.RecipeConfig, name: str, ckpt: str) -> epath.Path:
    return st.decode(name, cfg, ckpt, cfg.test_split, cfg.test_problems, cfg.test_num_samples)


def _pool(st: Stages, cfg: paper.RecipeConfig, ssft: str) -> epath.Path:
    return st.decode(
        "sample_train", cfg, ssft, cfg.train_split, cfg.train_sample_problems,
        cfg.train_num_samples,
    )  # fmt: skip


def _verifier(st, cfg, name, pool, ssft, spec: Mapping[str, Any]) -> str:
    vcfg = dataclasses.replace(
        cfg,
        verifier_gin=spec.get("gin", cfg.verifier_gin),
        verifier_task_kind=spec.get("task_kind", cfg.verifier_task_kind),
        verifier_bindings=[*cfg.verifier_bindings, *spec.get("bindings", ())],
    )
    return st.train(name, vcfg, vcfg.verifier_gin, paper.verifier_stage_bindings(vcfg, pool), ssft)


def run_sources(st: Stages, cfg: paper.RecipeConfig, exp: ExperimentConfig):
    rows = {}
    for vid, spec in exp.ssft_sources.items():
        ssft = _ssft(st, cfg, spec.get("bindings", ()), name=f"ssft-{vid}")
        pool = _test_decode(st, cfg, f"decode-{vid}", ssft)
        rows[_label(vid, spec)] = st.evaluate(f"evaluate-{vid}", cfg, pool)
    notes = list(exp.notes)
    if exp.fewshot and cfg.base_checkpoint:
        kcfg = dataclasses.replace(
            cfg, decode_bindings=[*cfg.decode_bindings, *exp.fewshot_bindings]
        )
        pool = _test_decode(st, kcfg, "decode-fewshot", cfg.base_checkpoint)
        rows["few-shot (pretrained)"] = st.evaluate("evaluate-fewshot", kcfg, pool)
        notes.append(f"few-shot row: the base checkpoint decoded with {list(exp.fewshot_bindings)}")
    elif exp.fewshot:
        notes.append("few-shot row left out: no RecipeConfig.base_checkpoint (pretrained model)")
    return (lambda: results.generator_table(rows, notes)), rows, ["maj1", "pass@n"]


def run_scr(st: Stages, cfg: paper.RecipeConfig, exp: ExperimentConfig):
    ssft = _ssft(st, cfg)
    pool = _pool(st, cfg, ssft)
    test = _test_decode(st, cfg, "decode-ssft", ssft)
    rows = {}
    for vid, spec in exp.verifiers.items():
        verifier = _verifier(st, cfg, f"verifier-{vid}", pool, ssft, spec)
        scored = st.score(f"score-{vid}", cfg, verifier, test)
        rows[_label(vid, spec)] = st.evaluate(f"evaluate-{vid}", cfg, scored)
    metrics = ["maj1", "rerank_all", *[f"scr{k}" for k in cfg.ks]]  # verifiers side by side
    return (lambda: results.scr_table(rows, cfg.ks, exp.notes)), rows, metrics


def run_multitask(st: Stages, cfg: paper.RecipeConfig, exp: ExperimentConfig):
    ssft = _ssft(st, cfg)
    inits = {"base": cfg.base_checkpoint, "ssft": ssft}
    if any(spec.get("init") == "verifier" for spec in exp.generators.values()):
        pool = _pool(st, cfg, ssft)
        vid, spec = next(iter(exp.verifiers.items()), ("recipe", {}))
        inits["verifier"] = _verifier(st, cfg, f"verifier-{vid}", pool, ssft, spec)
    gens = {"SSFT alone": ssft}
    for vid, spec in exp.generators.items():
        binds = list(spec.get("bindings", ()))
        stage_gin = spec.get("gin", cfg.ssft_gin)
        if spec.get("task_kind"):  # a pair objective on the graded samples of the SSFT model
            # Same budget as the verifier stage; chosen like every generator (greedy Pass@1).
            pcfg = dataclasses.replace(
                cfg,
                verifier_task_kind=spec["task_kind"],
                verifier_bindings=[*cfg.generator_bindings(), *cfg.verifier_bindings, *binds],
            )
            binds = paper.verifier_stage_bindings(pcfg, _pool(st, cfg, ssft))
        else:
            binds = [*cfg.generator_bindings(), *cfg.ssft_bindings, *cfg.multitask_bindings, *binds]
        init = inits[spec.get("init", "ssft")]
        gens[_label(vid, spec)] = st.train(f"gen-{vid}", cfg, stage_gin, binds, init)
    rows = {}
    for i, (label, ckpt) in enumerate(gens.items()):
        vid = "ssft" if i == 0 else list(exp.generators)[i - 1]
        pool = _test_decode(st, cfg, f"decode-{vid}", ckpt)
        rows[label] = st.evaluate(f"evaluate-{vid}", cfg, pool)
    return (lambda: results.generator_table(rows, exp.notes)), rows, ["maj1", "pass@n"]


_RUNNERS = {"sources": run_sources, "scr": run_scr, "multitask": run_multitask}


def plan(cfg: paper.RecipeConfig, exp: ExperimentConfig) -> list[str]:
    """The experiment's stage names in run order (nothing runs)."""
    st = Stages(paths_io.as_path(cfg.work_dir), dry=True)
    _RUNNERS[exp.name](st, cfg, exp)
    return st.names


def run_experiment(cfg: paper.RecipeConfig, exp: ExperimentConfig) -> str | None:
    """Runs the experiment's stages (shared and finished ones once) and writes its table and plot.

    Returns the table, or None when `stop_after` ended the run early.
    """
    work = paths_io.as_path(cfg.work_dir)
    names = plan(cfg, exp)
    if exp.stop_after is not None and exp.stop_after not in names:
        raise ValueError(
            f"ExperimentConfig.stop_after={exp.stop_after!r} names no stage of {exp.name!r}; "
            f"its stages: {names}"
        )
    print(f"[experiment] {exp.name}: stages {names}", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    start = time.time()
    st = Stages(work, stop_after=exp.stop_after)
    try:
        make_table, rows, plot_metrics = _RUNNERS[exp.name](st, cfg, exp)
    except StopAfter as stop:
        print(f"[experiment] {exp.name}: stopped after {stop} (stop_after)", flush=True)
        return None
    out = work / exp.name
    out.mkdir(parents=True, exist_ok=True)
    header = f"# Experiment: {exp.name}\n\nWORK_DIR {cfg.work_dir}; stages: " + ", ".join(
        f"{n} ({st.folders[n]})" for n in st.names
    )
    table = f"{header}\n\n{make_table()}"
    (out / "results.md").write_text(table)
    (out / "results.json").write_text(
        json.dumps({k: {m: v for m, v in r.items() if m != "per_problem"}
                    for k, r in rows.items()}, indent=1) + "\n"
    )  # fmt: skip
    report.plot_vs_n(dict(rows), out / "metrics_vs_n.png", title=exp.name, metrics=plot_metrics)
    print(
        f"\n[experiment] {exp.name}: done in {time.time() - start:.0f} s; table in "
        f"{out / 'results.md'}, curves in {out / 'metrics_vs_n.png'}\n"
    )
    print(table)
    return table
