"""Final-answer extraction from a solution text: the last `\\boxed{..}` / `\\fbox{..}`, else PRM800K's
`# Answer` section.

Linear time in the text length whatever it holds (unbalanced braces just end the scan), so it is safe
on hostile model output.
"""

from __future__ import annotations

import re

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_ANSWER_LINE = re.compile(r"^#+ *Answer *$", re.MULTILINE)


def _braced(text: str, start: int) -> str | None:
    """The content of the `{...}` group opening at `text[start]`; None when it never closes.

    A backslash escapes the one character after it: `\\{` is a literal brace, `\\\\}` a line
    break followed by a closing brace.
    """
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
        i += 1
    return None


def _boxed_at(text: str, pos: int, command: str) -> str | None:
    """The argument of `command` at `pos`: `{...}` (nested braces) or `\\boxed 5` (up to `$`/space)."""
    i = pos + len(command)
    if i < len(text) and text[i].isalpha():
        return None  # e.g. `\boxedfoo` is another command
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return None
    if text[i] == "{":
        return _braced(text, i)
    if i == pos + len(command):
        return None  # `\boxed5` without a space or brace is not the short form
    match = re.match(r"[^\s$]+", text[i:])
    return match.group(0) if match else None


_MAX_BOX_TRIES = 16  # each try may scan to the end of the text: bound the work on hostile input


def _last_boxed(text: str) -> str | None:
    best_pos, best = -1, None
    for command in _BOX_COMMANDS:
        pos = text.rfind(command)
        tries = 0
        while pos > best_pos and tries < _MAX_BOX_TRIES:
            tries += 1
            answer = _boxed_at(text, pos, command)
            if answer is not None:
                best_pos, best = pos, answer
                break
            pos = text.rfind(command, 0, pos)
    return best


def extract_answer(solution_text: str) -> str | None:
    """The final answer of a solution, or None when it states none.

    Example: `extract_answer("so $\\boxed{\\frac{1}{2}}$.")` is `"\\frac{1}{2}"`; a PRM800K solution
    ending in a line `# Answer` followed by `5` gives `"5"`.
    """
    if not isinstance(solution_text, str) or not solution_text:
        return None
    boxed = _last_boxed(solution_text)
    if boxed is not None:
        boxed = boxed.strip()
        return boxed or None
    matches = list(_ANSWER_LINE.finditer(solution_text))
    if matches:
        answer = solution_text[matches[-1].end() :].strip()
        answer = answer.split("\n\n")[0].strip()
        return answer or None
    return None
