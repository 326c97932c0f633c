"""One dataset row's clips as model inputs: the row-video helpers of the GRPO bridge, the warm-up and the
in-training score.

A row (``docs/CONTRACT.md``) is a conversation with ``{"type": "video"}`` placeholders, its clips and one
frame rate. :func:`process_row_videos` tokenises it with its clips as videos at their real frame rate
(:class:`RowVideoInputs`); :func:`frames_as_images_prompt` turns the clips into timestamped frames for
models without a video path; :func:`prompt_groups` and ``_video_kwargs`` group and concatenate processed
rows for one forward. No TRL here: :mod:`videossr.trl_video` builds its trainer on these (and re-exports
them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from videossr.rows import decode_frame
from videossr.shared_prefix import group_keys
from videossr.types import video_metadata
from videossr.vlm import video_size_kwargs


def clip_to_array(clip: Any) -> np.ndarray:
    """A clip (PIL frames, encoded-frame dicts, arrays, or a ``(T, H, W, 3)`` array) as uint8
    ``(T, H, W, 3)``."""
    if isinstance(clip, np.ndarray) and clip.ndim == 4:
        array = clip
    elif isinstance(clip, torch.Tensor):
        array = clip.cpu().numpy()
    else:
        # Frames as stored by the datasets area: PIL images, {"bytes", "path"} dicts, bytes or arrays.
        array = np.stack([decode_frame(np.asarray(f) if isinstance(f, list) else f) for f in clip])
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"a clip must have shape (T, H, W, 3); got {array.shape}")
    return array.astype(np.uint8, copy=False)


def count_video_parts(prompt: Sequence[dict[str, Any]]) -> int:
    """Number of ``{"type": "video"}`` parts in a conversation."""
    return sum(
        1
        for message in prompt
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "video"
    )


def clean_prompt(prompt: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the ``None`` fields Arrow adds to content parts (``{"type": "video", "text": None}``)."""
    cleaned = []
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            content = [{k: v for k, v in part.items() if v is not None} for part in content]
        cleaned.append({**message, "content": content})
    return cleaned


def frames_as_images_prompt(
    prompt: Sequence[dict[str, Any]], clips: Sequence[np.ndarray], fps: float
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Rewrite each video placeholder as its frames, each preceded by its ``<t seconds>`` label.

    Returns the new conversation (image placeholders) and the flat list of PIL frames in prompt order.
    """
    from PIL import Image

    clip_iter = iter(clips)
    images: list[Any] = []
    new_prompt = []
    for message in clean_prompt(prompt):
        content = message.get("content")
        if not isinstance(content, list):
            new_prompt.append(message)
            continue
        parts: list[dict[str, Any]] = []
        for part in content:
            if part.get("type") != "video":
                parts.append(part)
                continue
            clip = next(clip_iter)
            for i, frame in enumerate(clip):
                # Keep the timeline the video path would have given (Qwen3-VL style labels).
                parts.append({"type": "text", "text": f"<{i / fps:.1f} seconds>"})
                parts.append({"type": "image"})
                images.append(Image.fromarray(frame))
        new_prompt.append({**message, "content": parts})
    return new_prompt, images


@dataclass
class RowVideoInputs:
    """One row's prompt, tokenised together with its clips.

    Attributes:
        prompt_ids: prompt token ids (no padding), video placeholders expanded.
        pixel_values_videos: the processor's flattened patches of all the row's clips, in prompt order
            (``None`` for a row without videos).
        video_grid_thw: ``(num_clips, 3)`` temporal/height/width patch grid of each clip (``None`` likewise).
        second_per_grid_ts: seconds per temporal patch of each clip (Qwen2.5-VL time ids), or ``None``.
    """

    prompt_ids: list[int]
    pixel_values_videos: torch.Tensor | None
    video_grid_thw: torch.Tensor | None
    second_per_grid_ts: torch.Tensor | None = None


def process_row_videos(
    processor: Any,
    prompt: Sequence[dict[str, Any]],
    clips: Sequence[np.ndarray],
    fps: float,
    *,
    chat_template: str | None = None,
    chat_template_kwargs: dict[str, Any] | None = None,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
) -> RowVideoInputs:
    """Tokenise one conversation with its clips as videos at their real frame rate.

    The clips are passed pre-sampled (``do_sample_frames=False``) with ``video_metadata`` at ``fps``: without
    it Qwen3-VL resamples to 2 fps and both Qwen models assume 24 fps for timing.
    """
    prompt = clean_prompt(prompt)
    n_parts = count_video_parts(prompt)
    if n_parts != len(clips):
        raise ValueError(f"the prompt has {n_parts} video placeholders but the row has {len(clips)} clips")
    text = processor.apply_chat_template(
        prompt,
        chat_template=chat_template,
        add_generation_prompt=True,
        tokenize=False,
        **(chat_template_kwargs or {}),
    )
    if not clips:
        out = processor(text=[text], return_tensors="pt")
        return RowVideoInputs(
            prompt_ids=out["input_ids"][0].tolist(), pixel_values_videos=None, video_grid_thw=None
        )
    metadata = [video_metadata(len(clip), fps) for clip in clips]
    frames = clips[0].shape[0] if clips else 0
    size_kwargs = video_size_kwargs(processor.video_processor, frames, max_pixels, min_pixels)
    out = processor(
        text=[text],
        videos=list(clips),
        video_metadata=metadata,
        do_sample_frames=False,
        return_tensors="pt",
        **size_kwargs,
    )
    seconds = out.get("second_per_grid_ts")
    if seconds is not None:
        seconds = torch.as_tensor(seconds, dtype=torch.float32).reshape(-1)
    return RowVideoInputs(
        prompt_ids=out["input_ids"][0].tolist(),
        pixel_values_videos=out["pixel_values_videos"],
        video_grid_thw=out["video_grid_thw"],
        second_per_grid_ts=seconds,
    )


def prompt_groups(rows: Sequence[RowVideoInputs]) -> tuple[list[int], list[int]]:
    """Which rows of a generation batch have the same prompt (same processed ids and visual tensors).

    Returns ``(row_group, firsts)``: each row's group index, and the first row of every group.
    """
    visuals = [
        [getattr(r, f) for r in rows] for f in ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
    ]
    groups = group_keys([tuple(r.prompt_ids) for r in rows], visuals)
    row_group = [0] * len(rows)
    for g, members in enumerate(groups):
        for row in members:
            row_group[row] = g
    return row_group, [members[0] for members in groups]


def _concat_rows(
    rows: Sequence[torch.Tensor | None], device: torch.device | None = None
) -> torch.Tensor | None:
    """Concatenate the rows' tensors, skipping rows without videos; ``None`` when no row has any."""
    present = [t for t in rows if t is not None]
    if not present:
        return None
    tensor = torch.cat(present, dim=0)
    return tensor.to(device) if device is not None else tensor


def _video_kwargs(
    pixels: Sequence[torch.Tensor | None],
    grids: Sequence[torch.Tensor | None],
    seconds: Sequence[torch.Tensor | None],
    device: torch.device | None = None,
) -> dict[str, torch.Tensor]:
    """The model's video keyword arguments for some rows' tensors; empty when none of them has a video."""
    pixel_values = _concat_rows(pixels, device)
    if pixel_values is None:
        return {}
    out = {"pixel_values_videos": pixel_values, "video_grid_thw": _concat_rows(grids, device)}
    second_per_grid = _concat_rows(seconds, device)
    if second_per_grid is not None:  # Qwen2.5-VL's absolute time ids
        out["second_per_grid_ts"] = second_per_grid
    return out


def _rows_video_kwargs(rows: Sequence[RowVideoInputs], device: torch.device | None = None) -> dict[str, Any]:
    """:func:`_video_kwargs` for processed rows (:class:`RowVideoInputs`)."""
    return _video_kwargs(
        [r.pixel_values_videos for r in rows],
        [r.video_grid_thw for r in rows],
        [r.second_per_grid_ts for r in rows],
        device,
    )
