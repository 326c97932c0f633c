"""Writing a generated sample to disk: playable clips plus its question and answer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from videossr.types import Sample
from videossr.video import write_mp4


def sample_record(sample: Sample) -> dict[str, Any]:
    """The JSON-able description of a sample (everything but the frames)."""
    return {
        "task": sample.task,
        "subtype": sample.subtype,
        "prompt": sample.prompt,
        "parts": sample.parts,  # text chunks and video indices: rebuilds the chat messages
        "answer": sample.answer,
        "fps": sample.fps,
        "params": sample.params,
        "source": sample.source,
        "seed": sample.seed,
        "num_videos": len(sample.videos),
        "frames_per_video": [int(v.shape[0]) for v in sample.videos],
        "frame_size": list(sample.videos[0].shape[1:3]) if sample.videos else None,
    }


def save_sample(sample: Sample, out_dir: str | os.PathLike) -> Path:
    """Write ``clip.mp4`` (or ``clip_1.mp4``... for jigsaw, in display order) and ``sample.json``.

    Videos are written at the sample's fps, so they play on the same timeline the question uses. On any
    error (see :func:`~videossr.video.write_mp4`) nothing of the sample is left in ``out_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    tmp = out / "sample.json.part"
    try:
        for i, frames in enumerate(sample.videos):
            name = "clip.mp4" if len(sample.videos) == 1 else f"clip_{i + 1}.mp4"
            write_mp4(frames, sample.fps, out / name)
            names.append(name)
        record = sample_record(sample) | {"videos": names}
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, out / "sample.json")
    except BaseException:
        # A sample is written whole or not at all: the clips this call wrote go too (a full disk while
        # writing clip 4 must not leave clips 1-3 looking like a sample).
        for name in names:
            (out / name).unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
        raise
    return out
