"""Turning model replies into answers.

Two modes:

* ``"strict"`` (default) follows the paper's reference verifiers: grounding needs the whole (stripped)
  reply to be ``a-b``, where a number may be written ``8``, ``8.``, ``8.5`` or ``.5``; counting takes
  every integer in the reply and needs exactly three; jigsaw needs the stripped reply to be a
  permutation of the clip numbers. Anything else is unparsable.
* ``"lenient"`` first drops reasoning (``<think>`` blocks), then reads the last ``<answer>...</answer>``
  or ``\\boxed{...}`` if there is one, then looks for the answer in natural phrasing ("from 14.5s to
  26.2s", "Answer: 3, 1, 4", "3 circles, 1 square and 4 triangles", "3 > 1 > 2 > 4"). It never rewards
  hedging: a reply that offers two different intervals, count triples or orders is unparsable, so it
  cannot score higher than committing to one of them.

Parsers return ``None`` for replies they cannot read and never raise on a reply of any shape. They run in
time linear in the length of the reply: every regular expression here either is anchored, or starts
with a look-behind that stops a match from restarting inside a run of digits or spaces, and the tag
scanners use ``str.find`` with a moving start. A reward is called on every rollout of every training
step, so a reply of a megabyte must cost milliseconds, not minutes (``tests/perf/bench_parsing.py``).
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any, Literal

Mode = Literal["strict", "lenient"]
SHAPES = ("circle", "square", "triangle")

#: Counts longer than this many digits are all "huge": they can never match a real count, and Python
#: refuses to turn more than 4,300 digits into an int (``sys.get_int_max_str_digits``).
_MAX_COUNT_DIGITS = 18
HUGE_COUNT = 10**_MAX_COUNT_DIGITS

# A number as the reference writes or accepts it: 8, 8., 8.5 or .5.
_REF_NUMBER = r"(?:\d++(?:\.\d*+)?+|\.\d++)"  # possessive: a long number is read once
_STRICT_INTERVAL = re.compile(r"(" + _REF_NUMBER + r")\s*-\s*(" + _REF_NUMBER + r")")


#: Parts of a reply visited at most: a reply is a handful of messages, and a self-containing list
#: (``a = []; a += [a, a]``) or a doubling tree of shared lists would otherwise take 2**depth steps.
_MAX_PARTS = 65536
_MAX_DEPTH = 32


def completion_text(completion: Any) -> str:
    """The text of a reply given in any shape TRL or a user might pass.

    Accepts a string, a chat message ``{"role", "content"}``, a list of messages (the last assistant
    turn is used), content parts ``[{"type": "text", "text": ...}]``, bytes, a numpy array, or ``None``.
    Anything else is read through ``str()``. It never raises and never runs long: containers that hold
    themselves are cut at the cycle, and at most a few thousand parts are visited. Subclasses of ``str``,
    ``bytes``, ``dict`` and ``list`` are read through the base type's own methods, so overridden
    methods that raise cannot reach the verifiers. (A reply of more parts than that is cut there.)
    """
    budget = [_MAX_PARTS]
    try:
        return _text(completion, 0, budget, set())
    except Exception:  # noqa: BLE001 - a hostile object's hooks may raise anything; it is then no reply
        return ""


def _plain(text: str) -> str:
    """``text`` as an exact ``str``: for a subclass, a copy made without calling any of its methods."""
    return text if type(text) is str else "".join((text,))


def _text(obj: Any, depth: int, budget: list[int], path: set[int]) -> str:
    budget[0] -= 1
    if depth > _MAX_DEPTH or budget[0] < 0:  # no reply is nested this deep or this wide
        return ""
    if obj is None:
        return ""
    if isinstance(obj, str):
        return _plain(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes.decode(bytes(memoryview(obj)), "utf-8", errors="replace")
    if id(obj) in path:  # a container inside itself: the cycle adds nothing
        return ""
    if isinstance(obj, dict):
        path.add(id(obj))
        try:
            for key in ("content", "text"):
                if dict.__contains__(obj, key):
                    return _text(dict.__getitem__(obj, key), depth + 1, budget, path)
            return ""
        finally:
            path.discard(id(obj))
    items: list | None = None
    if isinstance(obj, (list, tuple)):  # the base type's iterator: a subclass's __iter__ is not called
        items = list(list.__iter__(obj) if isinstance(obj, list) else tuple.__iter__(obj))
    elif type(obj).__module__ == "numpy" and hasattr(obj, "tolist"):  # an array of parts or a numpy str
        value = obj.tolist()
        return _text(value, depth + 1, budget, path) if value is not obj else ""
    if items is not None:
        path.add(id(obj))
        try:
            if items and all(isinstance(m, dict) and dict.__contains__(m, "role") for m in items):
                replies = [m for m in items if dict.get(m, "role") == "assistant"] or items
                return _text(replies[-1], depth + 1, budget, path)
            return "".join(_text(p, depth + 1, budget, path) for p in items)
        finally:
            path.discard(id(obj))
    try:
        text = str(obj)
    except Exception:  # noqa: BLE001 - an arbitrary object's __str__ may raise anything; it is no reply
        return ""
    return _plain(text) if isinstance(text, str) else ""


# ---- the final-answer part of a natural reply (lenient mode) ---------------------------------------
_THINK_OPEN, _THINK_CLOSE = re.compile("<think>", re.I), re.compile("</think>", re.I)
_ANSWER_OPEN, _ANSWER_CLOSE = re.compile("<answer>", re.I), re.compile("</answer>", re.I)


def _drop_think_blocks(text: str) -> str:
    """``text`` without its closed ``<think>...</think>`` blocks (leftmost, non-overlapping)."""
    kept, i = [], 0
    while True:
        start = _THINK_OPEN.search(text, i)
        end = None if start is None else _THINK_CLOSE.search(text, start.end())
        if end is None:
            break
        kept.append(text[i : start.start()])
        i = end.end()
    kept.append(text[i:])
    return " ".join(kept)


def _last_answer_tag(text: str) -> str | None:
    """Contents of the last complete ``<answer>...</answer>`` (leftmost, non-overlapping scan)."""
    found, i = None, 0
    while True:
        start = _ANSWER_OPEN.search(text, i)
        end = None if start is None else _ANSWER_CLOSE.search(text, start.end())
        if end is None:
            return found
        found = text[start.end() : end.start()]
        i = end.end()


_BOX_OPEN = re.compile(r"\\boxed\s*\{")


def _last_box(text: str) -> str | None:
    """Contents of the ``\\boxed{...}`` that opens last among those whose braces balance.

    Vectorised over the text, so nested or unbalanced boxes cost linear time. Each box's opening is
    first replaced by one NUL character (in C); with ``depth`` the brace depth after each character, the
    box opening at ``j`` closes at the first later position whose depth drops below ``depth[j]``, and it
    has a close iff the minimum depth after ``j`` does.
    """
    if "\\boxed" not in text:
        return None
    import numpy as np

    marked = _BOX_OPEN.sub("\x00", text.replace("\x00", ""))
    # "surrogatepass": a lone surrogate (a reply decoded with surrogateescape, or cut mid-pair) is one
    # code unit like any other character, so positions still match the text.
    codes = np.frombuffer(marked.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    is_open = codes == 0
    starts = np.flatnonzero(is_open)
    if starts.size == 0:
        return None
    depth = np.cumsum((is_open | (codes == ord("{"))).astype(np.int64) - (codes == ord("}")))
    # suffix_min[i] = min(depth[i:]); a sentinel after the end never closes anything.
    suffix_min = np.minimum.accumulate(np.append(depth, np.iinfo(np.int64).max)[::-1])[::-1]
    closed = np.flatnonzero(suffix_min[starts + 1] <= depth[starts] - 1)
    if closed.size == 0:
        return None
    j = int(starts[closed[-1]])
    close = j + 1 + int(np.argmax(depth[j + 1 :] <= depth[j] - 1))
    return marked[j + 1 : close].replace("\x00", "\\boxed{")


def extract_final(text: str) -> str:
    """The part of a natural reply that holds the final answer (lenient mode's first step)."""
    text = _drop_think_blocks(text)
    last_close = None
    for last_close in _THINK_CLOSE.finditer(text):  # noqa: B007 - only the last one matters
        pass
    if last_close is not None:  # a leading or stray closing tag: what follows the last one is the answer
        text = text[last_close.end() :]
    tag = _last_answer_tag(text)
    if tag is not None:
        return tag
    box = _last_box(text)
    if box is not None:
        return box
    return text


# ---- grounding ------------------------------------------------------------------------------------
# A lenient interval is "<number>[unit] <separator> <number>[unit]", optionally bracketed. Every
# quantifier is possessive and a match may only start where no digit, letter, "." or ":" precedes it,
# so each character is looked at a bounded number of times. A number must not run into letters:
# "1e309" is no number at all, so "1e309-1e310" can never read as 1 to 309.
_NUM = r"\d++(?::\d{1,2}+)?+(?:\.\d*+)?+|\.\d++"
# The first number's look-behind comes after its first character so that the engine can skip ahead to a
# digit or "." instead of trying the look-behind at every position. It may not start an exponent's
# digits either: in "1e-400-2" the 400 belongs to 1e-400, so no interval 400-2 is read there.
_NOT_EXPONENT = r"(?<![\d.][eE][-+]\d)"
_FIRST_NUM = (
    r"(?:\d(?<![\w.:]\d)" + _NOT_EXPONENT + r"|\.(?<![\w.:]\.)(?<![\d.][eE][-+]\.)(?=\d))"
    r"\d*+(?::\d{1,2}+)?+(?:\.\d*+)?+"
)
_UNIT = r"(?:\s*+(?:seconds|second|secs|sec|s)(?![A-Za-z0-9_]))?(?![A-Za-z0-9_])"
_SEP = r"\s*+[\])]?\s*+(?:[-–—~,]|(?:to|until|till|through|and)(?![A-Za-z]))\s*+[\[(]?\s*+"
# Scanning uses the pattern without groups: findall then returns one string per match, much cheaper to
# build and de-duplicate than tuples when a hostile reply holds hundreds of thousands of matches. Each
# distinct match is then read again with the grouped pattern.
_LENIENT_INTERVAL_SCAN = re.compile(f"(?:{_FIRST_NUM}){_UNIT}{_SEP}(?:{_NUM}){_UNIT}", re.IGNORECASE)
_LENIENT_INTERVAL = re.compile(f"({_FIRST_NUM}){_UNIT}{_SEP}({_NUM}){_UNIT}", re.IGNORECASE)


def _seconds(token: str) -> float:
    if ":" in token:
        minutes, seconds = token.split(":", 1)
        return int(count_value(minutes)) * 60 + float(seconds)
    return float(token)


def _lenient_intervals(text: str, stop_after: int = 2) -> set[tuple[float, float]]:
    """The distinct intervals written in ``text`` (at most ``stop_after``: more means hedging anyway)."""
    found: set[tuple[float, float]] = set()
    for match in set(_LENIENT_INTERVAL_SCAN.findall(text)):  # de-duplicated in C before any Python work
        a, b = _LENIENT_INTERVAL.match(match).groups()  # type: ignore[union-attr]
        x, y = _seconds(a), _seconds(b)
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        found.add((round(x, 3), round(y, 3)))
        if len(found) >= stop_after:
            break
    return found


def parse_interval(completion: Any, mode: Mode = "strict") -> tuple[float, float] | None:
    """``(start, end)`` in seconds, or ``None``.

    Strict mode returns the two numbers as written (a reversed interval stays reversed and scores 0);
    lenient mode sorts them.

    Example:
        >>> parse_interval("14.5-26.2")
        (14.5, 26.2)
        >>> parse_interval(" 8.-.5 ")
        (8.0, 0.5)
        >>> parse_interval("It happens from 14.5s to 26.2s.", mode="lenient")
        (14.5, 26.2)
        >>> parse_interval("14.5-26.2 or maybe 3-9", mode="lenient") is None
        True
    """
    text = completion_text(completion)
    if mode == "strict":
        m = _STRICT_INTERVAL.fullmatch(text.strip())
        return None if m is None else (float(m.group(1)), float(m.group(2)))
    found = _lenient_intervals(extract_final(text))
    if len(found) != 1:
        return None
    a, b = found.pop()
    return (min(a, b), max(a, b))


# ---- counting -------------------------------------------------------------------------------------
# The look-behinds keep a failed match from restarting inside the same run of digits (the quadratic
# trap of r"\d+..." patterns on a long number). The labelled patterns run on the lower-cased reply;
# the first starts with a digit so the engine can skip ahead to digits, then checks that no digit
# precedes it. They scan without groups (one string per match, cheap to build and de-duplicate);
# each distinct match is then read with _SHAPE_WORD and _INT.
_LABELLED = [
    re.compile(r"\d(?<!\d\d)\d*+[ \t]*+(?:circle|square|triangle)s?\b"),  # "3 circles"
    re.compile(r"\b(?:circle|square|triangle)s?[ \t]*+(?::|=|-|—|is|are)?[ \t]*+\d+"),  # "circles: 3"
]
_SHAPE_WORD = re.compile(r"circle|square|triangle")
_TRIPLE_SEP = r"(?:\s*+[,;/]\s*+|\s++)"  # possessive: a long run of spaces is crossed once
_TRIPLE = re.compile(r"(?<!\d)\d++" + _TRIPLE_SEP + r"\d++" + _TRIPLE_SEP + r"\d++")
_INT = re.compile(r"\d+")


def count_value(digits: str) -> int:
    """An integer from a run of digits; runs over 18 significant digits all read as ``HUGE_COUNT``.

    Leading zeros of any script are dropped before the digits are counted, as ``int()`` ignores them:
    twenty Arabic-Indic zeros then a 3 are the count 3, not a huge number.
    """
    digits = digits.lstrip("0")
    if digits and not digits.isascii():  # zeros of other scripts (only then: ASCII is the common case)
        import unicodedata

        start = 0
        while start < len(digits) and unicodedata.decimal(digits[start], -1) == 0:
            start += 1
        digits = digits[start:]
    digits = digits or "0"
    return int(digits) if len(digits) <= _MAX_COUNT_DIGITS else HUGE_COUNT


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
    text = completion_text(completion)
    if mode == "strict":
        ints = _INT.findall(text)
        return tuple(count_value(s) for s in ints) if len(ints) == 3 else None  # type: ignore[return-value]
    final = extract_final(text)
    lower = final.lower()
    # Labelled counts, in either word order ("3 circles" or "circles: 3"). Each style is read on its
    # own; a style that gives one shape two different counts is hedging.
    styles = []
    if any(shape in lower for shape in SHAPES):  # skip two full scans for replies that name no shape
        for pattern in _LABELLED:
            labelled: dict[str, set[int]] = {s: set() for s in SHAPES}
            for match in set(pattern.findall(lower)):  # de-duplicated in C before any Python work
                counts = labelled[_SHAPE_WORD.search(match).group()]  # type: ignore[union-attr]
                counts.add(count_value(_INT.search(match).group()))  # type: ignore[union-attr]
                if len(counts) > 1:
                    return None
            if all(len(v) == 1 for v in labelled.values()):
                styles.append(tuple(next(iter(labelled[s])) for s in SHAPES))
    if len(set(styles)) == 1:
        return styles[0]  # type: ignore[return-value]
    if len(set(styles)) > 1:
        return None
    first_ints = [m.group() for m in itertools.islice(_INT.finditer(final), 4)]  # stops at the 4th
    if len(first_ints) == 3:
        return tuple(count_value(s) for s in first_ints)  # type: ignore[return-value]
    if len(first_ints) < 3:
        return None
    triples: set[tuple[int, ...]] = set()
    for match in set(_TRIPLE.findall(final)):
        triples.add(tuple(count_value(x) for x in _INT.findall(match)))
        if len(triples) > 1:
            return None
    return triples.pop() if triples else None  # type: ignore[return-value]


# ---- jigsaw ---------------------------------------------------------------------------------------
_DIGIT_RUN = re.compile(r"\d(?:[\s,;>|→\-]*+\d)*+")
_NON_DIGIT = re.compile(r"\D+")
_DIGIT = re.compile(r"\d")


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
    if not isinstance(n, int) or not 1 <= n <= 9:
        return None
    text = completion_text(completion)
    if mode == "strict":
        s = text.strip()
        return tuple(int(c) for c in s) if _is_perm(s, n) else None
    final = extract_final(text)
    candidates = set()
    for run in set(_DIGIT_RUN.findall(final)):  # de-duplicated in C before any Python work
        if len(run) > 64 or len(run) < n:  # an order of at most 9 clips with separators fits in 64
            continue
        digits = _NON_DIGIT.sub("", run)
        if _is_perm(digits, n):
            candidates.add(digits)
            if len(candidates) > 1:
                return None
    if not candidates:
        digits = "".join(m.group() for m in itertools.islice(_DIGIT.finditer(final), n + 1))  # stops early
        if _is_perm(digits, n):
            candidates.add(digits)
    if len(candidates) != 1:
        return None
    return tuple(int(c) for c in candidates.pop())
