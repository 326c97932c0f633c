"""The reference release's verl layout: its rows (as its RL trainer reads them from Parquet) turned into
this project's row layout, and the VIUBench subtype of a row inferred from its labels and answer.

A verl row has ``prompt`` (chat messages whose text holds ``<video>`` placeholders), ``videos`` (one dict
per clip with the frame list under ``video`` and the clip's ``sample_fps``), ``reward_model.ground_truth``,
``extra_info`` and usually ``data_source``. :func:`verl_row_to_row` converts one;
:func:`videossr.evaluation.data.load_benchmark` reads whole verl datasets through it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from videossr import video
from videossr.errors import BenchmarkError
from videossr.rows import decode_frame
from videossr.tasks import task_name_of_subtype

VIDEO_PLACEHOLDER = "<video>"

_GROUNDING_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Checked in order; the specific names come before the generic words that overlap them.
    (
        "channel_swap",
        (
            "channel_swap",
            "channelswap",
            "channel swap",
            "swap_channel",
            "red and blue",
            "colour channel",
            "color channel",
            "channel",
        ),
    ),
    (
        "rotate180",
        (
            "rotate180",
            "rotate_180",
            "rotated 180",
            "rotate 180",
            "180 degree",
            "180°",
            "upside down",
            "upside-down",
        ),
    ),
    ("zoom_out", ("zoom_out", "zoomout", "zoom out", "zoomed out", "shrunk", "black border")),
    ("mirror", ("mirror", "horizontal flip", "flipped horizontally", "hflip", "flip")),
    ("shuffle", ("shuffle", "shuffled", "out of order", "random order", "scrambled")),
)
_INTERVAL = re.compile(r"^\s*\d+(?:\.\d+)?\s*-\s*\d+(?:\.\d+)?\s*$")
_TRIPLE = re.compile(r"^\s*\d+\s*,\s*\d+\s*,\s*\d+\s*$")


def _hint_strings(row: dict[str, Any]) -> list[str]:
    """Every label-like string of a verl row (data_source, ability, extra_info values), lower-cased."""
    hints = [row.get("data_source"), row.get("ability")]
    extra = row.get("extra_info") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError:
            extra = {"text": extra}
    if isinstance(extra, dict):
        for key, value in extra.items():
            if key in ("question", "answer", "prompt"):
                continue  # free text: checked separately, after the labels
            if isinstance(value, (str, int, float)):
                hints.append(f"{key}={value}")
    return [str(h).lower() for h in hints if h is not None]


def infer_subtype(row: dict[str, Any], answer: str, num_videos: int, prompt_text: str) -> str:
    """The VIUBench subtype of a verl-style row.

    Labels (``data_source``, ``ability``, ``extra_info``) win over the question text, which wins over
    the shape of the answer. Counting rows with no easy/hard label are put in ``counting_hard`` when a
    count exceeds 9 (impossible on the easy level) and in ``counting_easy`` otherwise.
    """
    hints = " | ".join(_hint_strings(row))
    text = prompt_text.lower()
    if "jigsaw" in hints or (
        num_videos > 1 and answer.strip().isdigit() and len(answer.strip()) == num_videos
    ):
        n = num_videos if num_videos > 1 else len(answer.strip())
        return {6: "jigsaw_easy", 8: "jigsaw_hard"}.get(n, f"jigsaw_{n}clips")
    if "count" in hints or _TRIPLE.match(answer):
        if "hard" in hints:
            return "counting_hard"
        if "easy" in hints:
            return "counting_easy"
        counts = [int(x) for x in re.findall(r"\d+", answer)]
        return "counting_hard" if counts and max(counts) > 9 else "counting_easy"
    if "ground" in hints or "anomal" in hints or _INTERVAL.match(answer):
        for source in (hints, text):
            for name, words in _GROUNDING_KEYWORDS:
                if any(w in source for w in words):
                    return f"grounding_{name}"
        return "grounding_unknown"
    raise BenchmarkError(f"cannot tell the task of a verl row (answer {answer!r}, labels {hints!r})")


def _frame_ref(ref: Any, base_dir: Path | None) -> Any:
    """A frame reference of a verl row in a form :func:`videossr.rows.decode_frame` reads."""
    if isinstance(ref, str):
        path = ref[len("file://") :] if ref.startswith("file://") else ref
        if base_dir is not None and not os.path.isabs(path):
            path = str(base_dir / path)
        return {"bytes": None, "path": path}
    if isinstance(ref, dict) and ref.get("bytes") is None and ref.get("path"):
        return _frame_ref(ref["path"], base_dir)
    return ref


def _verl_video(entry: Any, base_dir: Path | None, max_pixels: int | None) -> tuple[np.ndarray, float | None]:
    """One clip of a verl row as a frame array, and its ``sample_fps`` if the row gives one."""
    fps = None
    frames_ref = entry
    if isinstance(entry, dict):
        fps = entry.get("sample_fps", entry.get("fps"))
        frames_ref = entry.get("video", entry.get("frames"))
        max_pixels = entry.get("max_pixels") or max_pixels
    if isinstance(frames_ref, str):
        # A video file instead of a frame list: sample it the paper's way.
        path = frames_ref[len("file://") :] if frames_ref.startswith("file://") else frames_ref
        if base_dir is not None and not os.path.isabs(path):
            path = str(base_dir / path)
        clip = video.load_clip(path, max_pixels=max_pixels)
        return clip.frames, fps if fps else clip.fps
    if frames_ref is None:
        raise BenchmarkError("a verl video entry has no 'video' frame list")
    frames = np.stack([decode_frame(_frame_ref(f, base_dir)) for f in frames_ref])
    if max_pixels:
        frames = video.resize_frames(
            frames, video.fit_size(frames.shape[1], frames.shape[2], int(max_pixels), None)
        )
    return frames, None if fps is None else float(fps)


def _verl_prompt(row: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Chat messages in this project's layout and the plain question text of a verl row."""
    messages = []
    texts = []
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    for message in prompt or []:
        content = message.get("content", "")
        if not isinstance(content, str):  # already structured parts
            content = "".join(
                VIDEO_PLACEHOLDER if p.get("type") == "video" else (p.get("text") or "") for p in content
            )
        parts: list[dict[str, Any]] = []
        chunks = content.split(VIDEO_PLACEHOLDER)
        for k, chunk in enumerate(chunks):
            if chunk:
                parts.append({"type": "text", "text": chunk})
            if k < len(chunks) - 1:
                parts.append({"type": "video", "text": None})
        messages.append({"role": message.get("role", "user"), "content": parts})
        if message.get("role", "user") == "user":
            texts.append(content)
    return messages, "\n".join(texts)


def verl_ground_truth(row: dict[str, Any]) -> str:
    reward = row.get("reward_model") or {}
    if isinstance(reward, str):
        reward = json.loads(reward)
    truth = reward.get("ground_truth")
    if isinstance(truth, (list, tuple)):
        truth = truth[0] if len(truth) == 1 else ",".join(str(t) for t in truth)
    if truth is None:
        raise BenchmarkError("verl row without reward_model.ground_truth")
    return str(truth).strip()


def verl_row_to_row(
    row: dict[str, Any],
    base_dir: str | os.PathLike | None = None,
    max_pixels: int | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """Convert one row of the reference release's verl layout into this project's row layout.

    Args:
        row: a dict with ``prompt``, ``videos`` (each ``{"video": [frames...], "sample_fps": float}``;
            frames as paths, ``{"bytes", "path"}`` dicts, bytes or images; a video path also works),
            ``reward_model.ground_truth`` and optional ``extra_info`` / ``data_source``.
        base_dir: folder that relative frame paths are relative to (the Parquet file's folder).
        max_pixels: largest frame area; larger frames are resized (aspect kept). ``None`` keeps them.
        index: row number, used for the id when ``extra_info`` has no index.

    Returns:
        A row in the :mod:`videossr.rows` layout, with ``videos`` as ``(T, H, W, 3)`` arrays and the
        subtype inferred by :func:`infer_subtype`.
    """
    base = Path(base_dir) if base_dir is not None else None
    messages, text = _verl_prompt(row)
    answer = verl_ground_truth(row)
    entries = row.get("videos") or []
    clips, fps_values = [], []
    for entry in entries:
        frames, fps = _verl_video(entry, base, max_pixels)
        clips.append(frames)
        if fps:
            fps_values.append(fps)
    subtype = infer_subtype(row, answer, len(entries), text)
    extra = row.get("extra_info") or {}
    if isinstance(extra, str):
        extra = {"text": extra}
    ident = extra.get("id", extra.get("index", index)) if isinstance(extra, dict) else index
    return {
        "id": f"{subtype}-{ident}",
        "prompt": messages,
        "videos": clips,
        "fps": float(fps_values[0]) if fps_values else 0.0,
        "answer": answer,
        "task": task_name_of_subtype(subtype),
        "subtype": subtype,
        "params": json.dumps({"verl_extra_info": extra}, default=str, sort_keys=True),
        "source": str(row.get("data_source", "")),
        "seed": 0,
        "generator_version": "verl",
    }


def _first_fps(videos: Any) -> float:
    for entry in videos or []:
        if isinstance(entry, dict):
            value = entry.get("sample_fps", entry.get("fps"))
            if value:
                return float(value)
    return 0.0
