"""The heuristic solver of Temporal Jigsaw: frame continuity, exact best order.

The cost of putting clip ``b`` right after clip ``a`` is how different the first frame of ``b`` is from
the last frame of ``a`` (and from a linear extrapolation of ``a``'s last two frames); the cheapest order
of all clips is found exactly by dynamic programming over subsets (Held-Karp).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from videossr.tasks.vision import small_frames


def jigsaw_digits(original_order: Sequence[int]) -> str:
    """The answer for a recovered order: ``original_order[k]`` is the displayed index of clip ``k``."""
    return "".join(str(int(d) + 1) for d in original_order)


def continuity_cost(clips: Sequence[np.ndarray]) -> np.ndarray:
    """``cost[a, b]``: how badly clip ``b`` continues clip ``a`` (first frame vs. last frame)."""
    small = [small_frames(c, side=32) for c in clips]
    n = len(small)
    cost = np.zeros((n, n))
    for a in range(n):
        last = small[a][-1]
        guess = 2 * small[a][-1] - small[a][-2] if len(small[a]) > 1 else last
        for b in range(n):
            if a != b:
                first = small[b][0]
                cost[a, b] = float(np.abs(first - last).mean() + 0.5 * np.abs(first - guess).mean())
    np.fill_diagonal(cost, np.inf)
    return cost


def best_order(cost: np.ndarray) -> list[int]:
    """The cheapest path visiting every clip once (Held-Karp over subsets; fine up to ~12 clips)."""
    n = len(cost)
    if n == 1:
        return [0]
    full = 1 << n
    dp = np.full((full, n), np.inf)
    parent = np.full((full, n), -1, dtype=np.int64)
    for j in range(n):
        dp[1 << j, j] = 0.0
    for mask in range(1, full):
        for last in range(n):
            value = dp[mask, last]
            if not np.isfinite(value):
                continue
            for nxt in range(n):
                if mask & (1 << nxt):
                    continue
                new = mask | (1 << nxt)
                candidate = value + cost[last, nxt]
                if candidate < dp[new, nxt]:
                    dp[new, nxt] = candidate
                    parent[new, nxt] = last
    mask, last = full - 1, int(np.argmin(dp[full - 1]))
    order = []
    while last >= 0:
        order.append(last)
        prev = int(parent[mask, last])
        mask ^= 1 << last
        last = prev
    return order[::-1]


def solve_jigsaw(clips: Sequence[np.ndarray]) -> str:
    """Answer the jigsaw digits for clips shown in display order."""
    return jigsaw_digits(best_order(continuity_cost(clips)))
