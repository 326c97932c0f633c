"""The ``random`` backend: each task's uniform guess (``random`` / ``random:prior``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from videossr.evaluation.backends.base import Backend, BackendError, Prediction, _chunks
from videossr.evaluation.baselines import GroundingGuess, item_rng, random_guess
from videossr.evaluation.data import BenchItem
from videossr.tasks import TASKS


class RandomBackend(Backend):
    """Uniform guesses in each answer space; never looks at the frames.

    Args:
        seed: base seed; each item's guess is seeded by ``(seed, item id)`` so a resumed run is identical.
        grounding: ``"max_length"`` (default) or ``"prior"``; see :mod:`videossr.evaluation.baselines`.
    """

    name = "random"
    default_batch_size = 256

    @classmethod
    def spec_args(cls, rest: str) -> dict[str, Any]:
        """``random:prior`` -> ``{"grounding": "prior"}``."""
        return {"grounding": rest} if rest else {}

    def __init__(self, seed: int = 0, grounding: GroundingGuess = "max_length"):
        self.seed = int(seed)
        self.grounding = grounding

    def predict(self, items: Sequence[BenchItem], batch_size: int = 256) -> Iterator[list[Prediction]]:
        for batch in _chunks(items, batch_size):
            out = []
            for item in batch:
                try:
                    # Each task's own random_answer: tasks that ignore clips, frames or fps ignore them.
                    reply = random_guess(
                        item.subtype,
                        item_rng(item.id, self.seed),
                        fps=item.fps,
                        num_frames=item.num_frames,
                        num_clips=item.num_videos,
                        grounding=self.grounding,
                    )
                except ValueError as err:  # e.g. a grounding item without fps: no guess in seconds
                    raise BackendError(f"item {item.id}: {err}") from None
                out.append(Prediction(item, reply))
            yield out

    def describe(self) -> dict[str, Any]:
        # Each task says its own guess in words (for grounding, the guess this backend was told to make).
        rules = {cls.short: cls.random_rule(grounding=self.grounding) for cls in TASKS.values()}
        return {"backend": "random", "seed": self.seed, "grounding_guess": self.grounding, "rules": rules}
