"""paths_io: URLs survive normalisation, local paths become absolute, JSON files are written whole;
the trainer's checkpoint bookkeeping keeps a gs:// path as given."""

import json
import os

import pytest

from mathft_jax import paths_io
from mathft_jax.runtime import checkpoints


@pytest.mark.parametrize(
    "url", ["gs://bucket/x", "gs://bucket/runs/ssft/", "s3://b/k.json", "gs://b/a b/c"]
)
def test_urls_are_kept_as_they_are(url):
    assert paths_io.is_url(url)
    assert paths_io.normalize(url) == url
    assert os.path.abspath(url) != url  # what the trainer did before: /cwd/gs:/bucket/x


def test_local_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not paths_io.is_url("runs/ssft")
    assert paths_io.normalize("runs/ssft") == str(tmp_path / "runs" / "ssft")
    assert paths_io.normalize("./a/../b") == str(tmp_path / "b")
    assert paths_io.normalize(tmp_path / "c") == str(tmp_path / "c")  # PathLike too
    assert paths_io.normalize("/abs/path") == "/abs/path"


def test_json_round_trip_on_local_paths(tmp_path):
    path = tmp_path / "deep" / "info.json"
    assert paths_io.read_json(path) is None
    paths_io.makedirs(path.parent)
    paths_io.write_json(str(path), {"step": 3, "path": "gs://b/x"})
    assert paths_io.read_json(str(path)) == {"step": 3, "path": "gs://b/x"}
    assert json.loads(path.read_text()) == {"step": 3, "path": "gs://b/x"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["info.json"]  # no .tmp left
    paths_io.write_json(path, {"step": 4})  # overwrites
    assert paths_io.read_json(path) == {"step": 4}


def test_open_file_text_is_utf8_and_appends(tmp_path):
    path = tmp_path / "c.jsonl"
    with paths_io.open_file(path, "a") as f:
        f.write("π\n")
    with paths_io.open_file(str(path), "a") as f:
        f.write("∑\n")
    assert path.read_bytes() == "π\n∑\n".encode()
    with paths_io.open_file(path) as f:
        assert list(f) == ["π\n", "∑\n"]


def test_checkpoint_json_files_keep_their_format(tmp_path):
    path = tmp_path / checkpoints.BEST
    best = {"step": 2, "metric": "m", "value": 0.5, "path": "p"}
    checkpoints.write_json(str(path), best)
    assert path.read_text() == json.dumps(best, indent=1)  # the bytes the trainer always wrote
    assert checkpoints.read_json(str(path)) == best
    assert checkpoints.read_json(str(tmp_path / "missing.json")) is None


def test_decide_start_keeps_a_gs_initial_checkpoint(tmp_path):
    start, reason = checkpoints.decide_start(str(tmp_path), "ssft", "gs://b/runs/base", None)
    assert start == "initial" and "INITIAL_CHECKPOINT_PATH=gs://b/runs/base " in reason
    # Resuming checks the given path against the recorded one: a URL must compare as given.
    paths_io.write_json(
        tmp_path / checkpoints.RUN_INFO,
        {"stage": "ssft", "initial_checkpoint": "gs://b/runs/base"},
    )
    start, _ = checkpoints.decide_start(str(tmp_path), "ssft", "gs://b/runs/base", 5)
    assert start == "resume"
    with pytest.raises(ValueError, match="IGNORED"):
        checkpoints.decide_start(str(tmp_path), "ssft", "gs://b/runs/other", 5)
