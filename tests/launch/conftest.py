"""Fakes for the launch-script tests: binaries on PATH that record their argv, and a runner."""

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable, Sequence

import pytest
from subprocess_group import run_in_group

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
LAUNCH = REPO_ROOT / "launch"

# Appends [name, *args] (one JSON list a line) to $FAKE_LOG. Extra behaviour per fake follows it.
_FAKE_HEAD = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
entry = [name, *sys.argv[1:]]
if name == "python3" or os.environ.get("FAKE_RECORD_ENV"):
    entry.append({{k: v for k, v in os.environ.items() if k.startswith("MATHFT_")}})
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
"""

# scontrol: `show hostnames LIST` prints the hosts in $FAKE_HOSTS.
_SCONTROL = """
if sys.argv[1:3] == ["show", "hostnames"]:
    print("\\n".join(os.environ["FAKE_HOSTS"].split()))
"""

# srun: runs its command once per task with SLURM_PROCID set, as srun does (options end at the
# first word that does not start with "-").
_SRUN = """
import subprocess
args = sys.argv[1:]
while args and args[0].startswith("-"):
    args.pop(0)
for task in range(int(os.environ["SLURM_NTASKS"])):
    subprocess.run(args, check=True, env={**os.environ, "SLURM_PROCID": str(task)})
"""

_EXTRA = {"scontrol": _SCONTROL, "srun": _SRUN}


class Fakes:
    """A folder of fake binaries and the log they write to."""

    def __init__(self, root: pathlib.Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "calls.jsonl"

    def add(self, *names: str) -> None:
        for name in names:
            path = self.bin / name
            path.write_text(_FAKE_HEAD.format(python=sys.executable) + _EXTRA.get(name, ""))
            path.chmod(0o755)

    def calls(self) -> list[list]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def fakes(tmp_path: pathlib.Path) -> Fakes:
    return Fakes(tmp_path)


@pytest.fixture
def run_script(fakes: Fakes, tmp_path: pathlib.Path) -> Callable[..., subprocess.CompletedProcess]:
    """Runs launch/<script> with the fakes first on PATH, TMPDIR=tmp_path and extra env."""

    def run(
        script: str,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: os.PathLike | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess:
        full_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MATHFT_", "PYTHON"))
        }
        full_env.update(
            PATH=f"{fakes.bin}{os.pathsep}{os.environ['PATH']}",
            TMPDIR=str(tmp_path),
            FAKE_LOG=str(fakes.log),
            **(env or {}),
        )
        return run_in_group(
            ["bash", str(LAUNCH / script), *args], timeout, env=full_env, cwd=cwd or tmp_path
        )

    return run
