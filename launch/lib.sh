# Helpers sourced by launch/local.sh and launch/tpu_pod.sh (launch/gpu_slurm.sh keeps its own
# copy: sbatch runs a copy of the script from its spool folder, where nothing can be sourced).
# The sourcing script sets PROG (its name, for error messages).

die() {
  printf '%s: error: %s\n' "$PROG" "$1" >&2
  printf 'Run launch/%s --help for usage.\n' "$PROG" >&2
  exit 2
}

# One word, shell-quoted for reading and for a remote shell: bare when safe, else in '...'.
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    printf '%s' "$1"
  else
    printf '%s' "${1@Q}"
  fi
}

# Joins arguments into one shell-quoted string (a remote `--command`, a dry-run line).
quote_all() {
  local out="" arg
  for arg in "$@"; do
    out+="${out:+ }$(quote "$arg")"
  done
  printf '%s' "$out"
}

# Prints a command as one shell-quoted line.
print_cmd() {
  printf '%s\n' "$(quote_all "$@")"
}

# Value of an option given as `--opt value` or `--opt=value`; sets VALUE, and SHIFT to the words
# consumed.
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
