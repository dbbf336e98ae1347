"""docs/tpu_plan.md's rendering from the rows' JSON (no compile)."""

import json

from mathft_jax.planning import chips, table


def _row(fits: bool, extra: list[str]) -> dict:
    return {
        "fits": fits, "total_bytes": 18 * chips.GiB, "hbm_bytes": 16 * chips.GiB,
        "over_bytes": 2 * chips.GiB if not fits else 0, "flops": {"total": 2e15},
        "roofline_seconds_lower_bound": 2.5, "extra": extra,
    }  # fmt: skip


def test_render_names_the_fallback_that_fits_and_none_when_none_does(tmp_path):
    (tmp_path / "a__v5e_2x2__ssft.json").write_text(json.dumps(_row(True, ["--gin.ACCUM_STEPS=2"])))
    (tmp_path / "b__v5e_2x2__ssft.json").write_text(
        json.dumps(_row(False, ["--gin.ACCUM_STEPS=8"]))
    )
    (tmp_path / "c__v5e_2x2__ssft.json").write_text(json.dumps(_row(False, [])))
    page = table.render(tmp_path, ["a", "b", "c", "d"], ["v5e:2x2"], ["ssft"], "cmd")
    rows = {line.split(" | ")[0][2:]: line for line in page.splitlines() if line.startswith("| ")}
    assert rows["a"].endswith("| ACCUM_STEPS=2 |")
    assert (
        "| **no** |" in rows["b"]
        and "none (figures with the last tried: ACCUM_STEPS=8)" in rows["b"]
    )
    assert rows["c"].endswith("| none |")
    assert "- d v5e:2x2 ssft" in page


def test_train_rows_try_their_tpu_gin_last_and_the_page_names_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gin" / "tpu").mkdir(parents=True)
    (tmp_path / "gin" / "tpu" / "m_v5e_2x2.gin").write_text("ACCUM_STEPS = 8\n")
    tuned = ["--gin_file=gin/tpu/m_v5e_2x2.gin"]
    tries = table.row_tries("m", "v5e:2x2", "ssft")
    assert tries[0] == [] and tries[-1] == tuned and len(tries) == 2 + len(table.FALLBACKS["ssft"])
    assert table.row_tries("m", "v5e:2x2", "ssft", tuned_only=True) == [tuned]
    assert table.row_tries("m", "v5e:2x2", "score")[-1] != tuned  # train stages only
    assert table.row_tries("m", "v5p:2x4x4", "ssft", tuned_only=True) == []
    (tmp_path / "m__v5e_2x2__ssft.json").write_text(json.dumps(_row(True, tuned)))
    page = table.render(tmp_path, ["m"], ["v5e:2x2"], ["ssft"], "cmd")
    assert "| yes |" in page and page.count("| gin/tpu/m_v5e_2x2.gin |") == 1


def test_decode_rows_fall_back_to_fewer_problems_per_call_while_they_divide_over_the_chips():
    assert table.row_tries("m", "v5e:2x2", "decode") == [[], ["--gin.run_decode.batch_size=4"]]
    for topology in ("v5e:4x4", "v5p:2x4x4", "v6e:2x4"):
        assert table.row_tries("m", topology, "decode") == [[]]
    args = table.row_args("m", "v5e:2x2", "decode", ["--gin.run_decode.batch_size=4"])
    assert "--gin.run_decode.batch_size=8" in args and args[-1] == "--gin.run_decode.batch_size=4"
    assert "--gin.load_model.unstack_layers=False" in args
