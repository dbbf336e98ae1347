#!/usr/bin/env bash
#SBATCH --job-name=mathft_jax
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --output=%x-%j.out
# Run one mathft_jax stage on GPU nodes of a SLURM allocation: one JAX process per task (one task
# per node, each using all its GPUs), started together by `srun`. Submit from the repo root:
#
#   sbatch --nodes=4 launch/gpu_slurm.sh --stage train \
#       --gin_file gin/models/llama3_8b.gin --gin_file gin/ssft.gin --gin.MODEL_DIR=/shared/runs/ssft
#
# or run it inside `salloc`. Process 0 is the coordinator, on the first host of
# $SLURM_JOB_NODELIST (`scontrol show hostnames`); the trainer gets
# `--coordinator_address=HOST:PORT --num_processes=$SLURM_NTASKS --process_id=$SLURM_PROCID`
# and every stage the same values in env MATHFT_COORDINATOR_ADDRESS, MATHFT_NUM_PROCESSES and
# MATHFT_PROCESS_ID. The script stands alone (sbatch runs a copy of it, so it sources nothing);
# the package must be installed (`pip install -e .` with `jax[cuda12]`) in the environment srun sees.
set -euo pipefail

readonly STAGES="train decode score evaluate recipe"
PROG=launch/gpu_slurm.sh

usage() {
  cat <<EOF
Usage: sbatch [sbatch options] $PROG --stage STAGE [options] [gin flags] [-- stage flags]

Required:
  --stage STAGE         one of: $STAGES
Options:
  --gin_file F          gin file, repeatable (relative to --repo)
  --gin.NAME=VALUE      gin binding shorthand, repeatable; also --gin_bindings=B, --gin_search_paths=P
  --env KEY=VALUE       environment variable for the stage, repeatable
  --port PORT           coordinator port on the first host (default 8476)
  --repo DIR            repo root the tasks run in (default \$SLURM_SUBMIT_DIR, else the current dir)
  --python PY           Python interpreter on the nodes (default python3)
  --dry_run             print the srun command instead of running it
  -h, --help            this text
Anything after -- goes to the stage verbatim. Must run inside a SLURM allocation (sbatch, salloc).
EOF
}

die() {
  printf 'gpu_slurm.sh: error: %s\n' "$1" >&2
  printf 'Run gpu_slurm.sh --help for usage.\n' >&2
  exit 2
}

# One word, shell-quoted for reading: bare when safe, else in '...'.
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    printf '%s' "$1"
  else
    printf '%s' "${1@Q}"
  fi
}

# Prints the command (one shell-quoted line) in dry-run mode; runs it otherwise.
run() {
  if [[ $DRY_RUN == 1 ]]; then
    local out="" arg
    for arg in "$@"; do
      out+="${out:+ }$(quote "$arg")"
    done
    printf '%s\n' "$out"
  else
    "$@"
  fi
}

# Value of an option given as `--opt value` or `--opt=value`; sets SHIFT to the words consumed.
optval() {
  if [[ $1 == *=* ]]; then
    VALUE=${1#*=}
    SHIFT=1
  elif [[ $# -ge 2 ]]; then
    VALUE=$2
    SHIFT=2
  else
    die "$1 needs a value"
  fi
}

STAGE="" PORT=8476 REPO=${SLURM_SUBMIT_DIR:-$PWD} PYTHON=python3 DRY_RUN=0
GIN_ARGS=() ENV_ARGS=() EXTRA_ARGS=()
while [[ $# -gt 0 ]]; do
  SHIFT=1
  case $1 in
    -h | --help) usage; exit 0 ;;
    --stage | --stage=*) optval "$@"; STAGE=$VALUE ;;
    --gin_file | --gin_file=*) optval "$@"; GIN_ARGS+=("--gin_file=$VALUE") ;;
    --gin_bindings | --gin_bindings=*) optval "$@"; GIN_ARGS+=("--gin_bindings=$VALUE") ;;
    --gin_search_paths | --gin_search_paths=*) optval "$@"; GIN_ARGS+=("--gin_search_paths=$VALUE") ;;
    --gin.*=*) GIN_ARGS+=("$1") ;;
    --env | --env=*)
      optval "$@"
      [[ $VALUE =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env expects KEY=VALUE, got '$VALUE'"
      ENV_ARGS+=("$VALUE")
      ;;
    --port | --port=*) optval "$@"; PORT=$VALUE ;;
    --repo | --repo=*) optval "$@"; REPO=$VALUE ;;
    --python | --python=*) optval "$@"; PYTHON=$VALUE ;;
    --dry_run) DRY_RUN=1 ;;
    --) shift; EXTRA_ARGS=("$@"); SHIFT=$# ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift "$SHIFT"
done

[[ -n $STAGE ]] || die "--stage is required (one of: $STAGES)"
[[ " $STAGES " == *" $STAGE "* ]] || die "--stage '$STAGE' is not one of: $STAGES"
[[ $PORT =~ ^[0-9]+$ ]] || die "--port must be a number, got '$PORT'"
[[ -n ${SLURM_JOB_NODELIST:-} && -n ${SLURM_NTASKS:-} ]] ||
  die "SLURM_JOB_NODELIST / SLURM_NTASKS are unset: submit with 'sbatch $PROG ...' or run inside salloc"

HOSTS=()
mapfile -t HOSTS < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
[[ ${#HOSTS[@]} -gt 0 && -n ${HOSTS[0]} ]] ||
  die "'scontrol show hostnames $SLURM_JOB_NODELIST' printed no host"
COORDINATOR="${HOSTS[0]}:$PORT"

STAGE_ARGS=("${GIN_ARGS[@]}" "${EXTRA_ARGS[@]}")
# Each task learns its own id from srun's SLURM_PROCID, so the per-task part is expanded inside it
# (single quotes on purpose).
# shellcheck disable=SC2016
TASK='export MATHFT_PROCESS_ID="$SLURM_PROCID"; exec "$@"'
if [[ $STAGE == train ]]; then
  STAGE_ARGS+=(--coordinator_address="$COORDINATOR" --num_processes="$SLURM_NTASKS")
  # shellcheck disable=SC2016
  TASK='export MATHFT_PROCESS_ID="$SLURM_PROCID"; exec "$@" --process_id="$SLURM_PROCID"'
fi
run srun --ntasks="$SLURM_NTASKS" --kill-on-bad-exit=1 --chdir="$REPO" \
  bash -c "$TASK" mathft_jax_task \
  env MATHFT_COORDINATOR_ADDRESS="$COORDINATOR" MATHFT_NUM_PROCESSES="$SLURM_NTASKS" \
  "${ENV_ARGS[@]}" "$PYTHON" -m "mathft_jax.$STAGE" "${STAGE_ARGS[@]}"
