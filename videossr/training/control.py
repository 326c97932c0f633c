"""Control arms: the same training rows with clips that carry no information about the answer.

A control arm answers "what would training learn without the video?". It must keep everything else:
the prompt, the frame timestamps, the answers and their distribution, and the look of the frames. Two
ways are offered (``video_control`` in the recipe):

* ``swap``: every row gets the clips of *another* row made from the same source video, with a fresh
  derangement in every pass over the data. The frames are real frames of the same video, so nothing at
  test time looks new to the model; only the link between pixels and answer is cut. A single fixed
  derangement is not enough: the model can then learn "this clip -> that (wrong) answer" and carry a
  harmful pixel reading to new videos, ending below a video-blind answer (seen on the learning bed).
  With a new partner every pass, any pixel pattern meets many answers and the best a model can do is
  the answers' prior.
* ``blank``: every frame becomes mid grey (same shape, frame rate and prompt).

Nothing here imports the rest of :mod:`videossr.training`, so the learning bed can use it without a cycle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def control_permutation(sources: Sequence[str], seed: int) -> list[int]:
    """For each row, the row whose clip it gets in the control arm: another row of the same source video.

    A random derangement within each source (a cycle through a shuffled order), so no row keeps its own
    clip; a source with a single row keeps it (there is nothing to swap with).
    """
    rng = np.random.default_rng([int(seed), 4_711])
    by_source: dict[str, list[int]] = {}
    for index, source in enumerate(sources):
        by_source.setdefault(str(source), []).append(index)
    perm = list(range(len(sources)))
    for source in sorted(by_source):
        order = [by_source[source][int(i)] for i in rng.permutation(len(by_source[source]))]
        for k, index in enumerate(order):
            perm[index] = order[(k + 1) % len(order)]
    return perm


def passes_needed(rows: int, max_steps: int, prompts_per_step: float, num_train_epochs: float = 1.0) -> int:
    """How many passes over ``rows`` a run makes: ``max_steps`` x prompts per step / rows (at least 1),
    or ``num_train_epochs`` when ``max_steps`` is unset (``<= 0``)."""
    if rows <= 0:
        return 1
    if max_steps and max_steps > 0:
        return max(1, math.ceil(max_steps * prompts_per_step / rows))
    return max(1, math.ceil(num_train_epochs))


def repeat_rows(dataset: Any, passes: int, perms: Sequence[Sequence[int]] | None = None) -> Any:
    """``dataset`` repeated ``passes`` times as one dataset; with ``perms``, pass ``k``'s ``videos`` column
    is reordered by ``perms[k]`` (the stored encoded clips are moved, never decoded or re-encoded).

    The video arm of the learning bed uses this without ``perms``, so both arms sample from datasets of the
    same length and differ only in the clips.
    """
    import pyarrow as pa
    from datasets import Dataset
    from datasets.table import InMemoryTable

    table = dataset.flatten_indices().data.table
    column = table.column_names.index("videos")
    parts = []
    for k in range(max(1, int(passes))):
        part = table
        if perms is not None:
            part = table.set_column(column, "videos", table.column("videos").take(pa.array(perms[k])))
        parts.append(part)
    return Dataset(InMemoryTable(pa.concat_tables(parts)), info=dataset.info.copy())


def uninformative_videos(dataset: Any, mode: str, seed: int = 0, passes: int = 1) -> Any:
    """The control arm's data: the same rows whose clips no longer tell the answer.

    Args:
        dataset: a ``datasets.Dataset`` in the row schema.
        mode: ``"swap"``: each row gets the clips of another row made from the same source video (same
            frames, frame rate and kind of change, an unrelated segment), a new partner in each of the
            ``passes`` copies; ``"blank"``: every frame becomes mid grey (same shape, frame rate, prompt).
        seed: seeds the swap.
        passes: copies of the rows to return (``swap``: each with its own derangement). Give the number of
            passes the run will make, so no pairing of clip and answer is ever seen twice in a row.

    Example:
        >>> from datasets import Dataset  # doctest: +SKIP
        >>> control = uninformative_videos(train, "swap", seed=0, passes=4)  # doctest: +SKIP
        >>> len(control) == 4 * len(train)  # doctest: +SKIP
        True
    """
    if mode == "swap":
        sources = dataset["source"]
        perms = [control_permutation(sources, seed * 1_000 + k) for k in range(max(1, int(passes)))]
        return repeat_rows(dataset, passes, perms)
    if mode == "blank":
        from videossr.rows import encode_frame, row_videos

        def blank(row: dict[str, Any]) -> dict[str, Any]:
            clips = row_videos(row)
            return {
                "videos": [
                    [{"bytes": encode_frame(np.full_like(f, 128)), "path": None} for f in clip]
                    for clip in clips
                ]
            }

        blanked = dataset.map(blank, desc="control: blank frames")
        return repeat_rows(blanked, passes) if passes > 1 else blanked
    raise ValueError(f"unknown video control {mode!r}; use 'swap' or 'blank'")


__all__ = ["control_permutation", "passes_needed", "repeat_rows", "uninformative_videos"]
