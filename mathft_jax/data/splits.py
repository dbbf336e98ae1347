"""The Lightman et al. (2023) split of MATH, and a deterministic validation carve-out.

The 500 MATH-500 ids are the test set; the other 12,000 problems train, except 500 of them chosen
by a hash of `unique_id` (the smallest SHA-256 of "mathft-validation/" + id) for checkpoint
selection. The choice depends only on the ids, so every run and host agrees on it.
"""

import hashlib
import os
import pathlib
from collections.abc import Iterable

VALIDATION_SIZE = 500
_SALT = "mathft-validation/"


def read_math500_ids(path: str | os.PathLike) -> list[str]:
    """The MATH-500 ids in the file's order (one a line); errors name the file."""
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: MATH-500 id list not found (set MATHFT_DATA_DIR)")
    ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate ids in the MATH-500 list")
    return ids


def _hash(unique_id: str) -> bytes:
    return hashlib.sha256((_SALT + unique_id).encode("utf-8")).digest()


def validation_ids(candidates: Iterable[str], size: int = VALIDATION_SIZE) -> set[str]:
    """The `size` ids with the smallest salted hash: stable under reordering of `candidates`."""
    candidates = sorted(set(candidates), key=_hash)
    if len(candidates) < size:
        raise ValueError(f"validation split needs {size} ids, only {len(candidates)} available")
    return set(candidates[:size])


def lightman_split(
    all_ids: Iterable[str], math500_ids: list[str], validation_size: int = VALIDATION_SIZE
) -> dict[str, list[str]]:
    """{"train", "validation", "test"} -> ids; test keeps the MATH-500 order, others input order."""
    all_ids = list(all_ids)
    known = set(all_ids)
    missing = [i for i in math500_ids if i not in known]
    if missing:
        raise ValueError(
            f"{len(missing)} MATH-500 ids are not in the MATH data, e.g. {missing[:3]}"
        )
    test = set(math500_ids)
    rest = [i for i in all_ids if i not in test]
    val = validation_ids(rest, validation_size)
    return {
        "train": [i for i in rest if i not in val],
        "validation": [i for i in rest if i in val],
        "test": list(math500_ids),
    }
