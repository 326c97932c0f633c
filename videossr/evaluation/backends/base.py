"""What every model backend of the harness shares: the base class, a prediction, the error."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videossr.errors import VideoSSRError
from videossr.evaluation.data import BenchItem


class BackendError(VideoSSRError):
    """A model backend cannot be built or used."""


@dataclass
class Prediction:
    """One reply and the facts about the inputs the model actually saw."""

    item: BenchItem
    reply: str
    inputs: dict[str, Any] = field(default_factory=dict)


def _frames_record(videos: Sequence[np.ndarray], fps: float) -> dict[str, Any]:
    """What the model was shown: frames per clip, frame size and frame rate."""
    return {
        "frames": [int(len(v)) for v in videos],
        "size": [int(videos[0].shape[1]), int(videos[0].shape[2])] if videos else None,
        "fps": round(float(fps), 6),
    }


class Backend:
    """Base class: subclasses implement :meth:`predict` and :meth:`describe`."""

    name = "backend"
    #: Items per batch when the caller does not say.
    default_batch_size = 8

    @classmethod
    def spec_args(cls, rest: str) -> dict[str, Any]:
        """The constructor's arguments named by a model spec's tail (after ``<name>:``); none by default."""
        return {}

    def predict(self, items: Sequence[BenchItem], batch_size: int = 1) -> Iterator[list[Prediction]]:
        """Yield the replies to ``items``, one finished batch at a time (in any order)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Every setting that can change a score, JSON-able."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, models)."""


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    size = max(1, int(size))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
