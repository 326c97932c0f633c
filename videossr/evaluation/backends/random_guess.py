"""The ``random`` backend: each task's random guess (``random`` / ``random:prior``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from videossr.evaluation.backends.base import Backend, BackendError, Prediction, _chunks
from videossr.evaluation.baselines import item_rng, random_guess
from videossr.evaluation.data import BenchItem
from videossr.tasks import TASKS
from videossr.tasks.base import check_random_rule


class RandomBackend(Backend):
    """Random guesses in each answer space; never looks at the frames.

    Args:
        seed: base seed; each item's guess is seeded by ``(seed, item id)`` so a resumed run is identical.
        rule: one of :data:`~videossr.tasks.base.RANDOM_RULES`, the same for every task, which each task
            interprets: ``"uniform"`` (default, its ``random_answer``) or ``"prior"`` (its
            ``prior_answer``, the generator's own distribution); see :mod:`videossr.evaluation.baselines`.
    """

    name = "random"
    default_batch_size = 256

    @classmethod
    def spec_args(cls, rest: str) -> dict[str, Any]:
        """``random:prior`` -> ``{"rule": "prior"}``."""
        return {"rule": rest} if rest else {}

    def __init__(self, seed: int = 0, rule: str = "uniform"):
        try:
            self.rule = check_random_rule(rule)
        except ValueError as err:
            raise BackendError(f"random:{rule}: {err}") from None
        self.seed = int(seed)

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
                        rule=self.rule,
                    )
                except ValueError as err:  # e.g. an item without fps where answers are in seconds
                    raise BackendError(f"item {item.id}: {err}") from None
                out.append(Prediction(item, reply))
            yield out

    def describe(self) -> dict[str, Any]:
        # Each task says in words its own guess under this backend's rule.
        rules = {cls.short: cls.random_rule(self.rule) for cls in TASKS.values()}
        return {"backend": "random", "seed": self.seed, "rule": self.rule, "rules": rules}
