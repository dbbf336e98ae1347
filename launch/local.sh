#!/usr/bin/env bash
# Run one mathft_jax stage on this machine: one process, or N processes on loopback that form one
# multi-host JAX job on fake CPU devices with gloo collectives (multi-host code paths, no hardware).
#
#   launch/local.sh --stage train --gin_file gin/models/tiny.gin --gin_file gin/ssft.gin \
#       --gin.MODEL_DIR=runs/ssft
#   launch/local.sh --num_processes 2 --devices_per_process 4 --stage train \
#       --gin_file gin/models/tiny.gin --gin_file gin/ssft.gin --gin.MODEL_DIR=runs/ssft_2proc
#
# With N > 1, process i gets env JAX_PLATFORMS=cpu, JAX_CPU_COLLECTIVES_IMPLEMENTATION=gloo,
# XLA_FLAGS=--xla_force_host_platform_device_count=D and MATHFT_COORDINATOR_ADDRESS=127.0.0.1:PORT,
# MATHFT_NUM_PROCESSES=N, MATHFT_PROCESS_ID=i; the trainer also gets the same values as
# `--coordinator_address --num_processes --process_id`. Each process logs to LOG_DIR/process_i.log;
# when one fails the others are stopped and its log tail is printed.
set -euo pipefail

readonly STAGES="train decode score evaluate recipe"

usage() {
  cat <<EOF
Usage: launch/local.sh (--stage STAGE | --module M) [options] [gin flags] [-- stage flags]

  --stage STAGE             one of: $STAGES (runs python -m mathft_jax.STAGE)
  --module M                any Python module instead (python -m M), e.g. a test helper
  --num_processes N         JAX processes on loopback (default 1)
  --devices_per_process D   fake CPU devices per process (default: real devices when N=1, 1 when N>1)
  --port PORT               coordinator port on 127.0.0.1 (default 8476)
  --log_dir DIR             per-process logs when N>1 (default: a new temporary folder)
  --gin_file F              gin file, repeatable
  --gin.NAME=VALUE          gin binding shorthand, repeatable; also --gin_bindings=B, --gin_search_paths=P
  --env KEY=VALUE           environment variable for the stage, repeatable
  --python PY               interpreter (default \$PYTHON, else python3)
  --dry_run                 print the commands instead of running them
  -h, --help                this text
Anything after -- goes to the stage verbatim.
EOF
}

PROG=local.sh
# shellcheck source=launch/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STAGE="" MODULE="" NUM_PROCESSES=1 DEVICES="" PORT=8476 LOG_DIR="" PYTHON=${PYTHON:-python3}
DRY_RUN=0 GIN_ARGS=() ENV_ARGS=() EXTRA_ARGS=()
while [[ $# -gt 0 ]]; do
  SHIFT=1
  case $1 in
    -h | --help) usage; exit 0 ;;
    --stage | --stage=*) optval "$@"; STAGE=$VALUE ;;
    --module | --module=*) optval "$@"; MODULE=$VALUE ;;
    --num_processes | --num_processes=*) optval "$@"; NUM_PROCESSES=$VALUE ;;
    --devices_per_process | --devices_per_process=*) optval "$@"; DEVICES=$VALUE ;;
    --port | --port=*) optval "$@"; PORT=$VALUE ;;
    --log_dir | --log_dir=*) optval "$@"; LOG_DIR=$VALUE ;;
    --gin_file | --gin_file=*) optval "$@"; GIN_ARGS+=("--gin_file=$VALUE") ;;
    --gin_bindings | --gin_bindings=*) optval "$@"; GIN_ARGS+=("--gin_bindings=$VALUE") ;;
    --gin_search_paths | --gin_search_paths=*) optval "$@"; GIN_ARGS+=("--gin_search_paths=$VALUE") ;;
    --gin.*=*) GIN_ARGS+=("$1") ;;
    --env | --env=*)
      optval "$@"
      [[ $VALUE =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env expects KEY=VALUE, got '$VALUE'"
      ENV_ARGS+=("$VALUE")
      ;;
    --python | --python=*) optval "$@"; PYTHON=$VALUE ;;
    --dry_run) DRY_RUN=1 ;;
    --) shift; EXTRA_ARGS=("$@"); SHIFT=$# ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift "$SHIFT"
done

if [[ -n $STAGE ]]; then
  [[ -z $MODULE ]] || die "give --stage or --module, not both"
  [[ " $STAGES " == *" $STAGE "* ]] || die "--stage '$STAGE' is not one of: $STAGES"
  MODULE=mathft_jax.$STAGE
fi
[[ -n $MODULE ]] || die "--stage STAGE (one of: $STAGES) or --module M is required"
[[ $NUM_PROCESSES =~ ^[1-9][0-9]*$ ]] || die "--num_processes must be >= 1, got '$NUM_PROCESSES'"
[[ -z $DEVICES || $DEVICES =~ ^[1-9][0-9]*$ ]] ||
  die "--devices_per_process must be >= 1, got '$DEVICES'"
[[ $PORT =~ ^[0-9]+$ ]] || die "--port must be a number, got '$PORT'"
if [[ $NUM_PROCESSES -gt 1 ]]; then DEVICES=${DEVICES:-1}; fi

# The command of process $1 (in CMD).
build_cmd() {
  local id=$1
  CMD=(env)
  if [[ -n $DEVICES ]]; then
    CMD+=(JAX_PLATFORMS=cpu XLA_FLAGS=--xla_force_host_platform_device_count="$DEVICES")
  fi
  local args=("${GIN_ARGS[@]}" "${EXTRA_ARGS[@]}")
  if [[ $NUM_PROCESSES -gt 1 ]]; then
    local coordinator=127.0.0.1:$PORT
    CMD+=(JAX_CPU_COLLECTIVES_IMPLEMENTATION=gloo MATHFT_COORDINATOR_ADDRESS="$coordinator"
      MATHFT_NUM_PROCESSES="$NUM_PROCESSES" MATHFT_PROCESS_ID="$id")
    if [[ $STAGE == train ]]; then
      args+=(--coordinator_address="$coordinator" --num_processes="$NUM_PROCESSES"
        --process_id="$id")
    fi
  fi
  CMD+=("${ENV_ARGS[@]}" "$PYTHON" -m "$MODULE" "${args[@]}")
}

if [[ $NUM_PROCESSES == 1 ]]; then
  build_cmd 0
  if [[ $DRY_RUN == 1 ]]; then print_cmd "${CMD[@]}"; else exec "${CMD[@]}"; fi
  exit 0
fi

if [[ $DRY_RUN == 1 ]]; then
  for ((i = 0; i < NUM_PROCESSES; i++)); do
    build_cmd "$i"
    print_cmd "${CMD[@]}"
  done
  exit 0
fi

LOG_DIR=${LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mathft_jax_local.XXXXXX")}
mkdir -p "$LOG_DIR"
printf 'local.sh: %d processes, logs in %s\n' "$NUM_PROCESSES" "$LOG_DIR" >&2
PIDS=()
# Stop the processes this script started (by pid) if it exits early or is interrupted.
stop_children() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_children EXIT
for ((i = 0; i < NUM_PROCESSES; i++)); do
  build_cmd "$i"
  "${CMD[@]}" >"$LOG_DIR/process_$i.log" 2>&1 &
  PIDS+=("$!")
done

RUNNING=("${PIDS[@]}")
while [[ ${#RUNNING[@]} -gt 0 ]]; do
  STATUS=0
  DONE=""
  wait -n -p DONE "${RUNNING[@]}" || STATUS=$?
  for i in "${!PIDS[@]}"; do
    [[ ${PIDS[$i]} == "$DONE" ]] || continue
    if [[ $STATUS != 0 ]]; then
      printf 'local.sh: process %d failed (exit %d); last lines of %s:\n' "$i" "$STATUS" \
        "$LOG_DIR/process_$i.log" >&2
      tail -n 20 "$LOG_DIR/process_$i.log" >&2
      exit "$STATUS"
    fi
  done
  REMAINING=()
  for pid in "${RUNNING[@]}"; do
    if [[ $pid != "$DONE" ]]; then REMAINING+=("$pid"); fi
  done
  RUNNING=("${REMAINING[@]}")
done
trap - EXIT
printf 'local.sh: all %d processes finished; logs in %s\n' "$NUM_PROCESSES" "$LOG_DIR" >&2
