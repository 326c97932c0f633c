"""Turning model replies into answers.

Two modes:

* ``"strict"`` (default) follows the paper's reference verifiers exactly: grounding needs the whole
  reply to be ``a-b``; counting takes every integer in the reply and needs exactly three; jigsaw needs
  the stripped reply to be a permutation of the clip numbers. Anything else is unparsable.
* ``"lenient"`` first drops reasoning (``<think>`` blocks), then reads the last ``<answer>...</answer>``
  or ``\\boxed{...}`` if there is one, then looks for the answer in natural phrasing ("from 14.5s to
  26.2s", "Answer: 3, 1, 4", "3 circles, 1 square and 4 triangles", "3 > 1 > 2 > 4"). It never rewards
  hedging: a reply that offers two different intervals, count triples or orders is unparsable, so it
  cannot score higher than committing to one of them.

Parsers never raise; they return ``None`` for replies they cannot read.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Mode = Literal["strict", "lenient"]
SHAPES = ("circle", "square", "triangle")

_STRICT_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")
_NUM = r"(\d+(?::\d{1,2})?(?:\.\d+)?)"
_UNIT = r"\s*(?:s|sec|secs|second|seconds)?\s*"
_LENIENT_INTERVAL = re.compile(
    r"[\[(]?\s*" + _NUM + _UNIT + r"(?:-|–|—|~|to|until|till|through|and|,)\s*" + _NUM + _UNIT + r"[\])]?",
    re.IGNORECASE,
)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)


def completion_text(completion: Any) -> str:
    """The text of a reply given in any shape TRL or a user might pass.

    Accepts a string, a chat message ``{"role", "content"}``, a list of messages (the last assistant
    turn is used), content parts ``[{"type": "text", "text": ...}]``, bytes, or ``None``.
    """
    try:
        if completion is None:
            return ""
        if isinstance(completion, str):
            return completion
        if isinstance(completion, bytes):
            return completion.decode("utf-8", errors="replace")
        if isinstance(completion, dict):
            if "content" in completion:
                return completion_text(completion["content"])
            if "text" in completion:
                return completion_text(completion["text"])
            return ""
        if isinstance(completion, (list, tuple)):
            if completion and all(isinstance(m, dict) and "role" in m for m in completion):
                replies = [m for m in completion if m.get("role") == "assistant"] or list(completion)
                return completion_text(replies[-1])
            return "".join(completion_text(p) for p in completion)
        return str(completion)
    except Exception:  # noqa: BLE001 - a reply of any shape must never crash a reward
        return ""


def _box_contents(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}``, with nested braces balanced."""
    out = []
    for m in re.finditer(r"\\boxed\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end() : i - 1])
    return out


def extract_final(text: str) -> str:
    """The part of a natural reply that holds the final answer (lenient mode's first step)."""
    text = _THINK.sub(" ", text)
    if "</think>" in text.lower():  # an opened-but-unclosed or leading think block
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    tags = _ANSWER_TAG.findall(text)
    if tags:
        return tags[-1]
    boxes = _box_contents(text)
    if boxes:
        return boxes[-1]
    return text


def _seconds(token: str) -> float:
    if ":" in token:
        minutes, seconds = token.split(":", 1)
        return int(minutes) * 60 + float(seconds)
    return float(token)


# ---- grounding ------------------------------------------------------------------------------------
def parse_interval(completion: Any, mode: Mode = "strict") -> tuple[float, float] | None:
    """``(start, end)`` in seconds, or ``None``.

    Example:
        >>> parse_interval("14.5-26.2")
        (14.5, 26.2)
        >>> parse_interval("It happens from 14.5s to 26.2s.", mode="lenient")
        (14.5, 26.2)
        >>> parse_interval("14.5-26.2 or maybe 3-9", mode="lenient") is None
        True
    """
    try:
        text = completion_text(completion)
        if mode == "strict":
            m = _STRICT_INTERVAL.match(text.strip())
            if not m:
                return None
            return float(m.group(1)), float(m.group(2))
        final = extract_final(text)
        found = {(round(_seconds(a), 3), round(_seconds(b), 3)) for a, b in _LENIENT_INTERVAL.findall(final)}
        if len(found) != 1:
            return None
        a, b = found.pop()
        return (min(a, b), max(a, b))
    except Exception:  # noqa: BLE001
        return None


# ---- counting -------------------------------------------------------------------------------------
_LABELLED = [
    re.compile(r"(\d+)[ \t]*(circle|square|triangle)s?\b", re.IGNORECASE),
    re.compile(r"\b(circle|square|triangle)s?[ \t]*(?::|=|-|—|is|are)?[ \t]*(\d+)", re.IGNORECASE),
]
_TRIPLE = re.compile(r"(\d+)\s*[,;/ ]\s*(\d+)\s*[,;/ ]\s*(\d+)")


def parse_counts(completion: Any, mode: Mode = "strict") -> tuple[int, int, int] | None:
    """``(circles, squares, triangles)`` or ``None``.

    Example:
        >>> parse_counts("3,1,4")
        (3, 1, 4)
        >>> parse_counts("Answer: 3 circles, 1 square and 4 triangles.", mode="lenient")
        (3, 1, 4)
        >>> parse_counts("3,1,4 or 2,1,4", mode="lenient") is None
        True
    """
    try:
        text = completion_text(completion)
        if mode == "strict":
            ints = re.findall(r"\d+", text)
            if len(ints) != 3:
                return None
            return int(ints[0]), int(ints[1]), int(ints[2])
        final = extract_final(text)
        # Labelled counts, in either word order ("3 circles" or "circles: 3"). Each style is read on
        # its own; a style that gives one shape two different counts is hedging.
        styles = []
        for pattern, num_group, shape_group in ((_LABELLED[0], 1, 2), (_LABELLED[1], 2, 1)):
            labelled: dict[str, set[int]] = {s: set() for s in SHAPES}
            for m in pattern.finditer(final):
                labelled[m.group(shape_group).lower()].add(int(m.group(num_group)))
            if any(len(v) > 1 for v in labelled.values()):
                return None
            if all(len(v) == 1 for v in labelled.values()):
                styles.append(tuple(next(iter(labelled[s])) for s in SHAPES))
        if len(set(styles)) == 1:
            return styles[0]  # type: ignore[return-value]
        if len(set(styles)) > 1:
            return None
        ints = re.findall(r"\d+", final)
        if len(ints) == 3:
            return int(ints[0]), int(ints[1]), int(ints[2])
        triples = {tuple(int(x) for x in m) for m in _TRIPLE.findall(final)}
        if len(triples) == 1:
            return triples.pop()  # type: ignore[return-value]
        return None
    except Exception:  # noqa: BLE001
        return None


# ---- jigsaw ---------------------------------------------------------------------------------------
_DIGIT_RUN = re.compile(r"\d(?:[\s,;>|→\-]*\d)*")


def _is_perm(digits: str, n: int) -> bool:
    return len(digits) == n and sorted(digits) == [str(i) for i in range(1, n + 1)]


def parse_order(completion: Any, n: int, mode: Mode = "strict") -> tuple[int, ...] | None:
    """The predicted order as ``n`` clip numbers, or ``None``.

    Example:
        >>> parse_order("3124", 4)
        (3, 1, 2, 4)
        >>> parse_order("The order is Clip 3 > Clip 1 > Clip 2 > Clip 4", 4, mode="lenient")
        (3, 1, 2, 4)
    """
    try:
        if not 1 <= n <= 9:
            return None
        text = completion_text(completion)
        if mode == "strict":
            s = text.strip()
            return tuple(int(c) for c in s) if _is_perm(s, n) else None
        final = extract_final(text)
        candidates = set()
        for run in _DIGIT_RUN.findall(final):
            digits = re.sub(r"\D", "", run)
            if _is_perm(digits, n):
                candidates.add(digits)
        if not candidates:
            digits = "".join(re.findall(r"\d", final))
            if _is_perm(digits, n):
                candidates.add(digits)
        if len(candidates) != 1:
            return None
        return tuple(int(c) for c in candidates.pop())
    except Exception:  # noqa: BLE001
        return None
