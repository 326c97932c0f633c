"""The ``heuristic`` backend: each task's non-learned solver, on CPU threads."""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Iterator, Sequence
from typing import Any

from videossr.evaluation.backends.base import Backend, Prediction, _chunks, _frames_record
from videossr.evaluation.baselines import heuristic_answer
from videossr.evaluation.data import BenchItem
from videossr.tasks import TASKS


class HeuristicBackend(Backend):
    """The non-learned vision solver, run on CPU threads (OpenCV and NumPy release the GIL).

    Args:
        num_workers: threads decoding and solving items in parallel.
    """

    name = "heuristic"

    def __init__(self, num_workers: int | None = None):
        self.num_workers = num_workers or min(4, os.cpu_count() or 1)

    @staticmethod
    def _solve(item: BenchItem) -> Prediction:
        sample = item.sample()
        return Prediction(item, heuristic_answer(sample), _frames_record(sample.videos, sample.fps))

    def predict(self, items: Sequence[BenchItem], batch_size: int = 8) -> Iterator[list[Prediction]]:
        with cf.ThreadPoolExecutor(self.num_workers) as pool:
            for batch in _chunks(items, max(batch_size, self.num_workers)):
                yield list(pool.map(self._solve, batch))

    def describe(self) -> dict[str, Any]:
        # Each task's solver in words; "none" for a task without one (its items fail to answer).
        solvers = {cls.short: cls.heuristic or "none" for cls in TASKS.values()}
        return {"backend": "heuristic", "solvers": solvers}
