"""Task B, Object Counting: count filled shapes drawn over some frames of the clip (SPEC §4)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from videossr.parsing import SHAPES, Mode, parse_counts
from videossr.tasks.base import Task
from videossr.types import Clip, Sample

#: difficulty -> (F, I): each shape on 1..F frames with 1..I instances per frame.
DIFFICULTIES = {"easy": (3, 3), "hard": (4, 4)}
MIN_GAP = 8  # frames carrying the same shape are more than this many frames apart


def shape_polygon(shape: str, cx: float, cy: float, size: float, angle: float) -> np.ndarray:
    """Vertices of a square or equilateral triangle of side ``size`` centred at ``(cx, cy)``."""
    if shape == "square":
        r = size / math.sqrt(2)  # circumradius of a square of side `size`
        base = [math.pi / 4 + k * math.pi / 2 for k in range(4)]
    else:
        r = size / math.sqrt(3)  # circumradius of an equilateral triangle of side `size`
        base = [-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
    return np.array([[cx + r * math.cos(a + angle), cy + r * math.sin(a + angle)] for a in base])


def draw_shape(frame: np.ndarray, shape: str, cx: float, cy: float, size: float, angle: float, color) -> None:
    """Draw one filled, anti-aliased shape in place. ``size`` is the diameter or side length."""
    import cv2

    shift = 4  # sub-pixel precision for smooth edges
    k = 1 << shift
    color = tuple(int(c) for c in color)
    if shape == "circle":
        cv2.circle(frame, (round(cx * k), round(cy * k)), round(size / 2 * k), color, -1, cv2.LINE_AA, shift)
    else:
        pts = np.round(shape_polygon(shape, cx, cy, size, angle) * k).astype(np.int32)
        cv2.fillPoly(frame, [pts], color, cv2.LINE_AA, shift)


class ObjectCounting(Task):
    """Draw circles, squares and triangles on a few frames and ask how many of each appeared.

    Args:
        difficulty: ``"easy"`` (up to 3 frames x 3 instances per shape) or ``"hard"`` (4 x 4).
        reasoning: ask for think/answer tags instead of a direct answer.
    """

    name = "object_counting"

    def __init__(self, difficulty: str = "easy", reasoning: bool = False):
        super().__init__(reasoning)
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"unknown difficulty {difficulty!r}; choose from {sorted(DIFFICULTIES)}")
        self.difficulty = difficulty

    @property
    def subtype(self) -> str:
        return f"counting_{self.difficulty}"

    def prompt(self) -> str:
        return (
            "Filled geometric shapes (circles, squares and triangles) have been drawn over some frames of "
            "this video. Count every shape you see across all frames: how many circles, how many squares "
            "and how many triangles appear in total? Give the three totals as circles,squares,triangles, "
            "for example 3,1,4. " + self.instruction
        )

    def _pick_frames(self, rng: np.random.Generator, total: int, per_shape: list[int]) -> list[list[int]]:
        for _ in range(1000):
            used: set[int] = set()
            chosen: list[list[int]] = []
            ok = True
            for k in per_shape:
                mine: list[int] = []
                for _ in range(k):
                    free = [f for f in range(total) if f not in used and all(abs(f - g) > MIN_GAP for g in mine)]
                    if not free:
                        ok = False
                        break
                    f = int(rng.choice(free))
                    mine.append(f)
                    used.add(f)
                if not ok:
                    break
                chosen.append(sorted(mine))
            if ok:
                return chosen
        raise ValueError(f"cannot place shapes {MIN_GAP + 1}+ frames apart in a {total}-frame clip")

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        max_frames, max_inst = DIFFICULTIES[self.difficulty]
        frames = clip.frames
        total, h, w = frames.shape[:3]
        per_shape = [int(rng.integers(1, max_frames + 1)) for _ in SHAPES]
        frame_sets = self._pick_frames(rng, total, per_shape)
        out = frames.copy()
        short = min(h, w)
        counts = {s: 0 for s in SHAPES}
        placements: list[dict[str, Any]] = []
        for shape, frame_ids in zip(SHAPES, frame_sets):
            for f in frame_ids:
                n = int(rng.integers(1, max_inst + 1))
                counts[shape] += n
                centres: list[tuple[float, float, float]] = []
                items = []
                for _ in range(n):
                    size = float(rng.uniform(0.2, 0.4)) * short
                    # Centres inside the central 70% of the frame, about one size apart when possible.
                    for _attempt in range(50):
                        cx = float(rng.uniform(0.15 * w, 0.85 * w))
                        cy = float(rng.uniform(0.15 * h, 0.85 * h))
                        if all(math.hypot(cx - x, cy - y) >= max(size, s2) for x, y, s2 in centres):
                            break
                    angle = float(rng.uniform(0, 2 * math.pi))
                    color = rng.integers(50, 256, size=3)
                    draw_shape(out[f], shape, cx, cy, size, angle, color)
                    centres.append((cx, cy, size))
                    items.append({"center": [round(cx, 1), round(cy, 1)], "size": round(size, 1),
                                  "angle": round(angle, 3), "color": color.tolist()})  # fmt: skip
                placements.append({"frame": f, "shape": shape, "instances": n, "items": items})
        placements.sort(key=lambda p: p["frame"])
        answer = ",".join(str(counts[s]) for s in SHAPES)
        return Sample(
            task=self.name,
            subtype=self.subtype,
            parts=[0, self.prompt()],
            answer=answer,
            videos=[out],
            fps=clip.fps,
            params={"difficulty": self.difficulty, "counts": counts, "placements": placements},
        )

    # -- verifiers --------------------------------------------------------------------------------
    @staticmethod
    def _truth(answer: str) -> tuple[int, int, int]:
        parsed = parse_counts(answer, "strict")
        if parsed is None:
            raise ValueError(f"malformed counting answer {answer!r}")
        return parsed

    def _reward(self, completion: Any, answer: str, mode: Mode) -> float:
        pred = parse_counts(completion, mode)
        if pred is None:
            return 0.0
        per_shape = []
        for p, t in zip(pred, self._truth(answer)):
            per_shape.append(float(p == t) if t == 0 else max(0.0, 1.0 - abs(p - t) / t))
        return sum(per_shape) / 3

    def _score(self, completion: Any, answer: str, mode: Mode) -> float:
        pred = parse_counts(completion, mode)
        if pred is None:
            return 0.0
        return sum(float(p == t) for p, t in zip(pred, self._truth(answer))) / 3

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        pred = parse_counts(completion, mode)
        return float(pred is not None and pred == self._truth(answer))
