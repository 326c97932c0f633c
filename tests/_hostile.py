"""Hostile replies shared by the linear-time parsing test and its benchmark."""

from __future__ import annotations


def hostile_replies(size: int) -> dict[str, str]:
    """Replies that make backtracking patterns quadratic, each about ``size`` characters."""
    return {
        "digits": "9" * size,
        "digits then dash": "1" * (size - 1) + "-",
        "one then spaces": "1" + " " * (size - 2) + "x",
        "open think tags": "<think>" * (size // 7),
        "open answer tags": "<answer>" * (size // 8),
        "open boxes": "\\boxed{" * (size // 7),
        "shape words": "3 circle " * (size // 9),
        "comma digits": "1," * (size // 2),
        "dashes": "1 - " * (size // 4),
        "exponents": "1e309-" * (size // 6),
        "tabs after a shape": "circles" + "\t" * (size - 7),
        "dots": "." * size,
        "colons": "1:" * (size // 2),
        "mixed prose": ("The clip starts at 3.5 s and ends at 9.0 s; I count 3 circles. " * (size // 64))[
            :size
        ],
    }
