#!/usr/bin/env bash
# Run one mathft_jax stage on every worker of a Cloud TPU VM or pod slice (gcloud tpu-vm).
#
#   launch/tpu_pod.sh --tpu my-v4-32 --zone us-central2-b --project my-proj --stage train \
#       --model_dir gs://my-bucket/runs/ssft \
#       --gin_file gin/models/llama3_1b.gin --gin_file gin/ssft.gin --gin.TRAIN_STEPS=2000
#
# What it runs (print it first with --dry_run):
#   1. ship the code: `git archive` of --ref into a tarball, `gcloud ... scp --worker=all`;
#      or, with --git_url, `git clone` + checkout of --ref on each worker;
#   2. on all workers: unpack, `pip install -e . jax[tpu]` (skip with --skip_setup);
#   3. on all workers at once: `python3 -m mathft_jax.STAGE` with the gin flags. Every TPU worker is
#      one JAX process. Each stage gets env MATHFT_MULTIHOST=1, which asks it to call
#      `jax.distributed.initialize()` with no arguments: on TPU, JAX reads the coordinator, process
#      count and id from the TPU metadata (no flag: the entry points reject flags they do not know).
#   0. first, with --topology (e.g. v5p:2x4x4), on this host: `python3 -m mathft_jax.plan` compiles the
#      stage's step for that topology (libtpu, no TPU needed) with the same gin flags and prints
#      per-chip memory, FLOPs and collectives; a job that does not fit is refused (--force runs it
#      anyway). The plan runs in --dry_run too: it only compiles here. $MATHFT_PLAN_PYTHON picks
#      the interpreter (default python3).
# MODEL_DIR must be on GCS (gs://...): all workers write one orbax checkpoint through tensorstore.
# Only committed code is shipped in scp mode (git archive of --ref, default HEAD).
set -euo pipefail

readonly STAGES="train decode score evaluate recipe"
PROG=$(basename "$0")
REPO=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<EOF
Usage: $PROG --tpu NAME --zone ZONE --stage STAGE [options] [gin flags] [-- stage flags]

Required:
  --tpu NAME            TPU VM / pod slice name (gcloud compute tpus tpu-vm list)
  --zone ZONE           its zone, e.g. us-central2-b
  --stage STAGE         one of: $STAGES
Options:
  --project P           GCP project (default: gcloud's configured project)
  --model_dir gs://...  passed as --gin.MODEL_DIR=...; must be a gs:// path
  --gin_file F          gin file, repeatable (relative to the repo root on the workers)
  --gin.NAME=VALUE      gin binding shorthand, repeatable; also --gin_bindings=B, --gin_search_paths=P
  --env KEY=VALUE       environment variable for the stage on every worker, repeatable
  --ref REF             git ref to ship (default HEAD)
  --git_url URL         clone URL on the workers instead of scp'ing a tarball
  --workdir DIR         code folder on the workers, relative to home (default mathft_jax)
  --tarball PATH        local tarball written in scp mode (default \${TMPDIR:-/tmp}/mathft_jax-NAME.tar.gz)
  --jax_spec SPEC       pip requirement for JAX on TPU (default 'jax[tpu]')
  --skip_setup          do not ship code or pip install; just run the stage
  --topology T          TPU topology of the slice (e.g. v5e:4x4, v5p:2x4x4): plan the stage first
                        and refuse it if it does not fit in HBM (train, decode, score)
  --force               run even when the plan says the job does not fit
  --dry_run             print the commands instead of running them
  -h, --help            this text
Anything after -- goes to the stage verbatim (e.g. evaluate's --candidates=FILE).
EOF
}

# shellcheck source=launch/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Prints the command (one shell-quoted line) in dry-run mode; runs it otherwise.
run() {
  if [[ $DRY_RUN == 1 ]]; then
    print_cmd "$@"
  else
    "$@"
  fi
}

TPU="" ZONE="" PROJECT="" STAGE="" MODEL_DIR="" REF="HEAD" GIT_URL="" WORKDIR="mathft_jax"
TARBALL="" JAX_SPEC="jax[tpu]" SKIP_SETUP=0 DRY_RUN=0 TOPOLOGY="" FORCE=0
GIN_ARGS=() ENV_ARGS=() EXTRA_ARGS=()

while [[ $# -gt 0 ]]; do
  SHIFT=1
  case $1 in
    -h | --help) usage; exit 0 ;;
    --tpu | --tpu=*) optval "$@"; TPU=$VALUE ;;
    --zone | --zone=*) optval "$@"; ZONE=$VALUE ;;
    --project | --project=*) optval "$@"; PROJECT=$VALUE ;;
    --stage | --stage=*) optval "$@"; STAGE=$VALUE ;;
    --model_dir | --model_dir=*) optval "$@"; MODEL_DIR=$VALUE ;;
    --gin_file | --gin_file=*) optval "$@"; GIN_ARGS+=("--gin_file=$VALUE") ;;
    --gin_bindings | --gin_bindings=*) optval "$@"; GIN_ARGS+=("--gin_bindings=$VALUE") ;;
    --gin_search_paths | --gin_search_paths=*) optval "$@"; GIN_ARGS+=("--gin_search_paths=$VALUE") ;;
    --gin.*=*) GIN_ARGS+=("$1") ;;
    --env | --env=*)
      optval "$@"
      [[ $VALUE =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env expects KEY=VALUE, got '$VALUE'"
      ENV_ARGS+=("$VALUE")
      ;;
    --ref | --ref=*) optval "$@"; REF=$VALUE ;;
    --git_url | --git_url=*) optval "$@"; GIT_URL=$VALUE ;;
    --workdir | --workdir=*) optval "$@"; WORKDIR=$VALUE ;;
    --tarball | --tarball=*) optval "$@"; TARBALL=$VALUE ;;
    --jax_spec | --jax_spec=*) optval "$@"; JAX_SPEC=$VALUE ;;
    --topology | --topology=*) optval "$@"; TOPOLOGY=$VALUE ;;
    --force) FORCE=1 ;;
    --skip_setup) SKIP_SETUP=1 ;;
    --dry_run) DRY_RUN=1 ;;
    --) shift; EXTRA_ARGS=("$@"); SHIFT=$# ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift "$SHIFT"
done

[[ -n $TPU ]] || die "--tpu NAME is required"
[[ -n $ZONE ]] || die "--zone ZONE is required"
[[ -n $STAGE ]] || die "--stage is required (one of: $STAGES)"
[[ " $STAGES " == *" $STAGE "* ]] || die "--stage '$STAGE' is not one of: $STAGES"
if [[ -n $MODEL_DIR ]]; then
  # A local path would be a different folder on every worker: the checkpoint would be torn apart.
  [[ $MODEL_DIR == gs://?* ]] || die "--model_dir must be a gs:// path on TPU pods, got '$MODEL_DIR'"
  GIN_ARGS+=("--gin.MODEL_DIR=$MODEL_DIR")
fi
# The workdir is deleted and re-created on the workers: keep it a plain relative path.
[[ $WORKDIR =~ ^[A-Za-z0-9_][A-Za-z0-9_./-]*$ && $WORKDIR != *..* ]] ||
  die "--workdir must be a relative path without '..', got '$WORKDIR'"
TARBALL=${TARBALL:-${TMPDIR:-/tmp}/mathft_jax-$TPU.tar.gz}

# The plan: compile the stage for the slice's topology here and refuse a job that does not fit.
if [[ -n $TOPOLOGY && " train decode score " == *" $STAGE "* ]]; then
  PLAN=("${MATHFT_PLAN_PYTHON:-python3}" -m mathft_jax.plan --topology="$TOPOLOGY" --stage="$STAGE"
    "${GIN_ARGS[@]}")
  echo "# plan: $(quote_all "${PLAN[@]}")" >&2
  PLAN_RC=0
  (cd "$REPO" && "${PLAN[@]}") >&2 || PLAN_RC=$?
  if [[ $PLAN_RC == 3 ]]; then
    if [[ $FORCE == 1 ]]; then
      echo "$PROG: the plan says $STAGE does not fit on $TOPOLOGY; running anyway (--force)" >&2
    else
      die "the plan says $STAGE does not fit on $TOPOLOGY (figures above); change the batch or partitioning, or pass --force"
    fi
  elif [[ $PLAN_RC != 0 ]]; then
    [[ $FORCE == 1 ]] || die "the plan for $TOPOLOGY failed (exit $PLAN_RC, above); --force skips it"
  fi
elif [[ -z $TOPOLOGY && " train decode score " == *" $STAGE "* ]]; then
  echo "$PROG: no --topology given: memory is not checked before the job (e.g. --topology v5e:4x4)" >&2
fi

GCLOUD=(gcloud compute tpus tpu-vm)
TARGET=(--zone="$ZONE")
if [[ -n $PROJECT ]]; then TARGET+=(--project="$PROJECT"); fi
TARGET+=(--worker=all)
readonly REMOTE_TARBALL=/tmp/mathft_jax_code.tar.gz
INSTALL=$(quote_all python3 -m pip install --quiet -e . "$JAX_SPEC")

if [[ $SKIP_SETUP == 0 ]]; then
  if [[ -n $GIT_URL ]]; then
    FETCH="(test -d $(quote_all "$WORKDIR/.git") || git clone --quiet $(quote_all "$GIT_URL" "$WORKDIR"))"
    FETCH+=" && git -C $(quote_all "$WORKDIR") fetch --quiet origin $(quote_all "$REF")"
    FETCH+=" && git -C $(quote_all "$WORKDIR") checkout --quiet --detach FETCH_HEAD"
  else
    run git -C "$REPO" archive --format=tar.gz --output="$TARBALL" "$REF"
    run "${GCLOUD[@]}" scp "$TARBALL" "$TPU:$REMOTE_TARBALL" "${TARGET[@]}"
    FETCH="rm -rf $(quote_all "$WORKDIR") && mkdir -p $(quote_all "$WORKDIR")"
    FETCH+=" && tar -xzf $REMOTE_TARBALL -C $(quote_all "$WORKDIR")"
  fi
  run "${GCLOUD[@]}" ssh "$TPU" "${TARGET[@]}" \
    --command="set -e; $FETCH && cd $(quote_all "$WORKDIR") && $INSTALL"
fi

STAGE_ARGS=("${GIN_ARGS[@]}" "${EXTRA_ARGS[@]}")
STAGE_CMD=$(quote_all env MATHFT_MULTIHOST=1 "${ENV_ARGS[@]}" python3 -m "mathft_jax.$STAGE" \
  "${STAGE_ARGS[@]}")
run "${GCLOUD[@]}" ssh "$TPU" "${TARGET[@]}" --command="cd $(quote_all "$WORKDIR") && $STAGE_CMD"
