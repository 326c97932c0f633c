"""The two built-in reference points of VIUBench: a random guesser and a non-learned vision solver.

Both write their answers in the exact formats the strict parser accepts, so their scores measure the
guess and never the formatting.

Random guess (``random``), uniform over each task's answer space:

* counting: each of the three counts is drawn uniformly from ``1..F*I`` (``1..9`` easy, ``1..16`` hard),
  the range the generator can produce. Whatever the true count is, a shape is right with probability
  ``1/9`` (easy) or ``1/16`` (hard): 11.1 % and 6.3 %, the paper's random row.
* jigsaw: a permutation of the ``n`` clips drawn uniformly (``1/720`` and ``1/40320``).
* grounding: the guessed interval is as long as the longest perturbed stretch the generator makes (16 of
  48 frames, a third of the clip) and starts at a frame drawn uniformly from every start where it fits
  (``0..32``). Against the generator's segments (length uniform in 8..16 frames, start uniform) its
  expected IoU is about 25.5 %, in line with the paper's 25.2-25.9.

``random:prior`` (the rule ``"prior"`` of :data:`~videossr.tasks.base.RANDOM_RULES`, the default being
``"uniform"``) guesses with each task's ``prior_answer`` instead: the generator's own distribution. Only
grounding's differs from its uniform guess (length uniform in 8..16, start uniform): about 21.6 %.

Heuristic (``heuristic``), classical computer vision with no learned weights; each task's solver lives in
its own folder (``videossr/tasks/<task>/solver.py``) and is re-exported here under its old name:

* grounding: frame-to-frame change detection. For the spatial and colour perturbations the solver also
  knows the perturbation named in the question and tests, at every frame boundary, whether applying it
  (or its inverse) to one side makes the two frames match again; a boundary where it does is an entry
  into or an exit from the perturbed stretch. For ``shuffle`` (and perturbations it has no inverse for)
  it looks for the 8-16 frame stretch whose frame-to-frame changes stand out most.
* counting: each frame is compared with the per-pixel median of its eight nearest neighbours; blobs of changed
  pixels that are large, solid, of one colour and over scenery the neighbours agree on are classified by
  their outline (three corners: triangle, four: square, round: circle) and summed over frames.
* jigsaw: frame continuity. The cost of putting clip ``b`` right after clip ``a`` is how different the
  first frame of ``b`` is from the last frame of ``a`` (and from a linear extrapolation of ``a``'s last
  two frames); the cheapest order of all clips is found exactly by dynamic programming over subsets.
"""

from __future__ import annotations

import zlib

import numpy as np

from videossr.tasks import TASKS, task_for_subtype
from videossr.tasks.counting.solver import count_shapes, solve_counting
from videossr.tasks.grounding.solver import frames_to_interval, solve_grounding
from videossr.tasks.jigsaw.solver import best_order, continuity_cost, jigsaw_digits, solve_jigsaw
from videossr.tasks.vision import frame_distance, robust_z, small_frames
from videossr.types import Sample

#: Frames of a clip, as the generator samples them.
NUM_FRAMES = 48


def item_rng(item_id: str, seed: int = 0) -> np.random.Generator:
    """A generator seeded by the item id, so a resumed or re-ordered run guesses the same answers."""
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(item_id.encode("utf-8"))])


def random_guess(
    subtype: str,
    rng: np.random.Generator,
    fps: float,
    num_frames: int = NUM_FRAMES,
    num_clips: int | None = None,
    rule: str = "uniform",
) -> str:
    """One random guess in the answer space of ``subtype``: the task's own ``random_guess`` under ``rule``.

    Args:
        subtype: e.g. ``"counting_hard"``, ``"grounding_mirror"``, ``"jigsaw_easy"``, ``"jigsaw_5clips"``.
        rng: the source of randomness (see :func:`item_rng`).
        fps: the clip's frame rate on the virtual timeline (grounding answers are in seconds).
        num_frames: frames in the grounding clip.
        num_clips: number of jigsaw clips, when the subtype name does not say.
        rule: ``"uniform"`` (the task's ``random_answer``) or ``"prior"`` (its ``prior_answer``); any
            other raises ``ValueError``.
    """
    try:
        task = task_for_subtype(subtype)
    except ValueError as err:
        raise ValueError(f"no random guess for subtype {subtype!r}: {err}") from None
    return task.random_guess(rng, rule=rule, fps=fps, num_frames=num_frames, num_clips=num_clips or 0)


def heuristic_answer(sample: Sample) -> str:
    """The heuristic solver's reply to one sample: its task's ``heuristic_answer`` (the solvers above).

    Raises ``ValueError`` for a task with no heuristic solver (``heuristic = None``) or an unknown one.
    """
    cls = TASKS.get(sample.task)
    if cls is None:
        raise ValueError(f"the heuristic baseline has no solver for task {sample.task!r}")
    return cls.heuristic_answer(sample)


__all__ = [
    "NUM_FRAMES",
    "best_order",
    "continuity_cost",
    "count_shapes",
    "frame_distance",
    "frames_to_interval",
    "heuristic_answer",
    "item_rng",
    "jigsaw_digits",
    "random_guess",
    "robust_z",
    "small_frames",
    "solve_counting",
    "solve_grounding",
    "solve_jigsaw",
]
