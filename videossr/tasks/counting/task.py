"""Task B, Object Counting: count filled shapes drawn over some frames of the clip.

The paper's rules and formulas, as this module implements them:

* each of circle, square and triangle is drawn on ``1..F`` frames with ``1..I`` instances per frame
  (easy ``F = I = 3``, hard ``F = I = 4``); frames of one shape are more than 8 frames apart, and a
  frame carries one shape type;
* a shape has a random colour (each channel 50-255), rotation and size (20-40 % of the short side),
  and lies wholly inside the central 70 % of the frame: its centre is drawn from that box shrunk by
  ``0.75 x size`` on every side, and no vertex of a square or triangle, nor the edge of a circle,
  is farther than ``0.75 x size`` from its centre;
* answer ``circles,squares,triangles``;
* training reward: per shape ``max(0, 1 - |pred - true| / true)``, averaged over the three shapes;
* VIUBench metric: per shape exact match, averaged over the three shapes;
* strict 0/1 reward: all three counts right.

Difficulty knob (:mod:`videossr.tasks.base`), each parameter piecewise linear through the points of
:data:`KNOB` (integers rounded half up), none ever easier at a higher level:

| level | shape types | frames per shape F | instances per frame I | size (short side) |
|---|---|---|---|---|
| 0 | 1 | 1 | 1 | 30-40 % |
| 0.5 (``easy``) | 3 | 3 | 3 | 20-40 % |
| 0.75 (``hard``) | 3 | 4 | 4 | 20-40 % |
| 1 | 3 | 5 | 5 | 20-40 % |

With fewer than 3 types, the types drawn (uniformly, without replacement) are the only ones on screen;
the others' counts are 0 (the reward then asks for exactly 0 for them).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from videossr.errors import ClipUnusable
from videossr.parsing import SHAPES, Mode, parse_counts
from videossr.tasks.base import Task, knob, knob_int
from videossr.tasks.counting.solver import solve_counting
from videossr.types import Clip, Sample

#: difficulty -> (F, I): each shape on 1..F frames with 1..I instances per frame.
DIFFICULTIES = {"easy": (3, 3), "hard": (4, 4)}
MIN_GAP = 8  # frames carrying the same shape are more than this many frames apart
BOX = (0.15, 0.85)  # the central 70 % of the frame, as fractions of its width and height
MARGIN = 0.75  # a shape's centre keeps this many sizes from the box's edges
SIZE = (0.2, 0.4)  # the paper's size range, as fractions of the frame's short side

#: The difficulty knob: ``{parameter: ((level, value), ...)}``, linear between the points.
KNOB: dict[str, tuple[tuple[float, float], ...]] = {
    "types": ((0.0, 1.0), (0.5, 3.0), (1.0, 3.0)),
    "frames": ((0.0, 1.0), (0.5, 3.0), (0.75, 4.0), (1.0, 5.0)),
    "instances": ((0.0, 1.0), (0.5, 3.0), (0.75, 4.0), (1.0, 5.0)),
    # Larger shapes below the paper's setting only: above it, smaller shapes would overlap less, and the
    # crowding of 5 x 5 instances is what makes the top of the scale hard (measured with the heuristic
    # solver).
    "size_low": ((0.0, 0.3), (0.5, 0.2), (1.0, 0.2)),
    "size_high": ((0.0, 0.4), (0.5, 0.4), (1.0, 0.4)),
}


def setting_at(level: float) -> dict[str, Any]:
    """The generation parameters at a point of the difficulty knob.

    Example:
        >>> setting_at(0.75)
        {'types': 3, 'frames': 4, 'instances': 4, 'size': (0.2, 0.4)}
    """
    return {
        "types": knob_int(level, KNOB["types"]),
        "frames": knob_int(level, KNOB["frames"]),
        "instances": knob_int(level, KNOB["instances"]),
        "size": (knob(level, KNOB["size_low"]), knob(level, KNOB["size_high"])),
    }


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
        difficulty: ``"easy"`` (up to 3 frames x 3 instances per shape) or ``"hard"`` (4 x 4), the
            paper's settings; or a point of the difficulty knob in ``[0, 1]`` (a float or numeric string,
            :func:`setting_at`), recorded in the subtype (``counting@0.3``) and ``params["difficulty"]``.
        reasoning: ask for think/answer tags instead of a direct answer.
    """

    name = "object_counting"
    short = "counting"
    description = (
        "Object Counting: filled circles, squares and triangles are drawn on some frames; answer the "
        "totals as `circles,squares,triangles`."
    )
    answer_format = "circles,squares,triangles, e.g. 3,1,4"
    options = {"difficulty": (tuple(DIFFICULTIES), "easy: up to 3 frames x 3 shapes per type; hard: 4 x 4")}
    benchmark_subtypes = ("counting_easy", "counting_hard")
    benchmark_headers = ("C-E", "C-H")
    benchmark_group_header = "Cnt"
    benchmark_position = 0
    metric_key = "per_shape_accuracy"
    metric_type, metric_name = "accuracy", "per-shape accuracy"
    heuristic = (
        "difference to the 8-neighbour temporal median; flat-colour convex blobs over stable scenery, "
        "classified by outline corners and circularity"
    )
    difficulty_help = (
        "counting: shape types 1..3, frames per shape 1..5, instances per frame 1..5, shapes 30-40 % of the "
        "short side at 0 down to the paper's 20-40 % from 0.5 (easy 0.5 = 3 types, 3 x 3; hard 0.75 = 4 x 4)"
    )

    def __init__(self, difficulty: str | float = "easy", reasoning: bool = False):
        super().__init__(reasoning)
        named = self._named_setting(difficulty, DIFFICULTIES)
        if named is not None:
            frames, instances = DIFFICULTIES[named]
            self.setting = {"types": 3, "frames": frames, "instances": instances, "size": SIZE}
        else:
            self.setting = setting_at(self.level)
        # The named setting ("easy"/"hard") or the explicit level, as given: params record it.
        self.difficulty: str | float = difficulty if self.level is None else self.level

    def _setting(self) -> str:
        return "" if self.level is not None else str(self.difficulty)

    @classmethod
    def _from_setting(cls, setting: str, level: float | None, reasoning: bool) -> ObjectCounting | None:
        if level is not None:  # a knob level replaces the named setting
            return cls(difficulty=level, reasoning=reasoning)
        return cls(difficulty=setting, reasoning=reasoning) if setting in DIFFICULTIES else None

    @property
    def max_count(self) -> int:
        """The largest count one shape can reach: ``F * I`` (9 easy, 16 hard)."""
        return self.setting["frames"] * self.setting["instances"]

    def prompt(self) -> str:
        """The question (docs/method.md §12): what to count, that colour, rotation and frames vary, the
        format."""
        text = (
            "Count the circles, squares and triangles that appear in this video. The shapes can have any "
            "colour and any rotation. They can appear on one frame or on several frames, and one frame can "
            "hold more than one shape. Reply with three comma-separated numbers, circles,squares,triangles: "
            "for example, 3 circles, 1 square and 4 triangles is 3,1,4."
        )
        if self.reasoning:
            text += " Put that reply inside <answer> </answer> tags after your reasoning."
        return text

    def _pick_frames(self, rng: np.random.Generator, total: int, per_shape: list[int]) -> list[list[int]]:
        for _ in range(1000):
            used: set[int] = set()
            chosen: list[list[int]] = []
            ok = True
            for k in per_shape:
                mine: list[int] = []
                for _ in range(k):
                    free = [
                        f for f in range(total) if f not in used and all(abs(f - g) > MIN_GAP for g in mine)
                    ]
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
        raise ClipUnusable(f"cannot place shapes {MIN_GAP + 1}+ frames apart in a {total}-frame clip")

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        setting = self.setting
        max_frames, max_inst = setting["frames"], setting["instances"]
        size_low, size_high = setting["size"]
        frames = clip.frames
        total, h, w = frames.shape[:3]
        # Fewer shape types (low levels only): draw which ones appear. At 3 types nothing is drawn here, so
        # the paper's settings consume the generator exactly as before.
        present = set(range(len(SHAPES)))
        if setting["types"] < len(SHAPES):
            present = {int(k) for k in rng.choice(len(SHAPES), setting["types"], replace=False)}
        per_shape = [int(rng.integers(1, max_frames + 1)) if k in present else 0 for k in range(len(SHAPES))]
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
                    size = float(rng.uniform(size_low, size_high)) * short
                    # The centre box: the central 70 % shrunk by MARGIN sizes on each side, so the whole
                    # shape stays inside the 70 % (0.4 x short side leaves it non-empty). Shapes are kept
                    # about one size apart when that is possible.
                    m = MARGIN * size
                    for _attempt in range(50):
                        cx = float(rng.uniform(BOX[0] * w + m, BOX[1] * w - m))
                        cy = float(rng.uniform(BOX[0] * h + m, BOX[1] * h - m))
                        if all(math.hypot(cx - x, cy - y) >= max(size, s2) for x, y, s2 in centres):
                            break
                    angle = float(rng.uniform(0, 2 * math.pi))
                    color = rng.integers(50, 256, size=3)
                    draw_shape(out[f], shape, cx, cy, size, angle, color)
                    centres.append((cx, cy, size))
                    items.append(
                        {
                            "center": [round(cx, 1), round(cy, 1)],
                            "size": round(size, 1),
                            "angle": round(angle, 3),
                            "color": color.tolist(),
                        }
                    )
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

    def random_answer(
        self,
        rng: np.random.Generator,
        *,
        fps: float = 0.0,
        num_frames: int = 48,
        num_clips: int = 1,
    ) -> str:
        """Each count uniform in ``1..F*I``: right with probability 1/9 (easy) or 1/16 (hard) per shape.

        At a knob level with fewer than 3 shape types, each count is first 0 with the generator's
        probability that its shape is absent.
        """
        types = self.setting["types"]
        if types >= len(SHAPES):
            return ",".join(str(int(rng.integers(1, self.max_count + 1))) for _ in SHAPES)
        absent = 1 - types / len(SHAPES)
        counts = [0 if rng.random() < absent else int(rng.integers(1, self.max_count + 1)) for _ in SHAPES]
        return ",".join(map(str, counts))

    @classmethod
    def random_rule(cls, rule: str = "uniform") -> str:
        return "each count uniform in 1..9 (easy) / 1..16 (hard)"

    @classmethod
    def heuristic_answer(cls, sample: Sample) -> str:
        return solve_counting(np.asarray(sample.videos[0]))

    # -- verifiers --------------------------------------------------------------------------------
    @staticmethod
    def _truth(answer: str) -> tuple[int, int, int]:
        parsed = parse_counts(answer, "strict")
        if parsed is None:
            raise ValueError(f"malformed counting answer {answer!r}")
        return parsed

    def parse(
        self, completion: Any, mode: Mode = "strict", answer: str | None = None
    ) -> tuple[int, int, int] | None:
        """``(circles, squares, triangles)`` (see :func:`videossr.parsing.parse_counts`)."""
        return parse_counts(completion, mode)

    def _reward(self, completion: Any, answer: str, mode: Mode) -> float:
        """Mean over the shapes of ``max(0, 1 - |pred - true| / true)``."""
        truth = self._truth(answer)
        pred = self.parse(completion, mode)
        if pred is None:
            return 0.0
        per_shape = []
        for p, t in zip(pred, truth):
            if t == 0:  # never generated (every shape appears at least once); exact match then
                per_shape.append(float(p == 0))
            else:
                # min() first: |p - t| / t of a huge count is a float overflow, and the term is 0 anyway.
                per_shape.append(1.0 - min(abs(p - t), t) / t)
        return sum(per_shape) / 3

    def _score(self, completion: Any, answer: str, mode: Mode) -> float:
        """Per-shape exact match, averaged over the three shapes."""
        truth = self._truth(answer)
        pred = self.parse(completion, mode)
        if pred is None:
            return 0.0
        return sum(float(p == t) for p, t in zip(pred, truth)) / 3

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        truth = self._truth(answer)
        pred = self.parse(completion, mode)
        return float(pred is not None and pred == truth)
