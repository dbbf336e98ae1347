"""Prompt templates and verifier label token ids."""

import gin
import pytest
import seqio

from mathft_jax.data import prompts, vocabularies


def test_templates_are_the_agreed_text():
    assert prompts.ssft_prompt("1+1?") == "Problem: 1+1?\nSolution: "
    assert prompts.verifier_prompt("P", "X") == (
        "Here is a math problem: P\nHere is a candidate solution: X\n"
        "The above candidate solution is "
    )
    assert prompts.boxed("-\\frac{1}{2}") == "\\boxed{-\\frac{1}{2}}"


def test_verifier_words_bind_in_gin():
    with gin.unlock_config():
        gin.parse_config(
            "verifier_words.correct_word = 'yes'\nverifier_words.incorrect_word = 'no'"
        )
    try:
        assert prompts.verifier_words() == ("yes", "no")
    finally:
        gin.clear_config()
    assert prompts.verifier_words() == ("correct", "incorrect")


def test_label_token_ids_are_first_tokens_and_must_differ():
    vocab = seqio.ByteVocabulary()
    assert vocabularies.verifier_label_token_ids(vocab, "correct", "incorrect") == (
        ord("c") + 3,
        ord("i") + 3,
    )
    with pytest.raises(ValueError, match="share their first token"):
        vocabularies.verifier_label_token_ids(vocab, "correct", "correctly")
