"""How clips reach a Qwen-VL processor and how greedy replies come back: one home for every greedy path.

``videossr bench`` (:class:`~videossr.evaluation.backends.HFBackend`, which the Space's model answerers
also use) and the in-training VIUBench callback (:func:`videossr.training.score_rows`) both prepare
inputs with :func:`video_inputs` and decode with :func:`greedy_replies`, so a model sees the same pixels
and tokens whichever of them asks it. The GRPO bridge (:mod:`videossr.trl_video`) uses the same pixel
bound (:func:`video_size_kwargs`) for its rollouts.

The clips go in pre-sampled (``do_sample_frames=False``) with ``video_metadata`` at their real frame
rate: without it Qwen3-VL resamples to 2 fps and both Qwen models assume 24 fps for timing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from videossr.types import video_metadata


def per_clip_bound(video_processor: Any) -> bool:
    """Whether the processor's ``size`` bounds a whole clip (Qwen3-VL) rather than each frame
    (Qwen2/2.5-VL)."""
    return type(video_processor).__name__.startswith("Qwen3VL")


def video_size_kwargs(
    video_processor: Any, num_frames: int, max_pixels: int | None, min_pixels: int | None
) -> dict[str, Any]:
    """``size`` override that bounds each frame to ``[min_pixels, max_pixels]`` pixels (area).

    Qwen3-VL's video processor bounds the pixels of the whole clip (frames x height x width), Qwen2-VL's and
    Qwen2.5-VL's bound each frame; this helper hides the difference. ``None`` for both keeps the
    processor's own bounds (no override).
    """
    if max_pixels is None and min_pixels is None:
        return {}
    size = dict(getattr(video_processor, "size", None) or {})
    scale = num_frames if per_clip_bound(video_processor) else 1
    if max_pixels is not None:
        size["longest_edge"] = int(max_pixels) * scale
    if min_pixels is not None:
        size["shortest_edge"] = int(min_pixels) * scale
    kwargs: dict[str, Any] = {"size": size}
    if hasattr(video_processor, "cap_pixels_per_frame"):
        # Keep the stated per-frame budget exact (the processor's optional cap would change it).
        kwargs["cap_pixels_per_frame"] = False
    return kwargs


def video_inputs(
    processor: Any,
    texts: Sequence[str],
    clips: Sequence[np.ndarray],
    fps: Sequence[float],
    *,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
) -> Any:
    """Run ``processor`` on chat-templated ``texts`` and their clips, in the order the texts show them.

    Args:
        processor: a transformers processor that takes videos (Qwen2.5-VL, Qwen3-VL).
        texts: prompts already rendered by ``apply_chat_template`` (one per row of the batch).
        clips: every clip of every text, in order, each a ``(T, H, W, 3)`` uint8 array.
        fps: the frame rate of each clip on the question's timeline.
        max_pixels, min_pixels: per-frame pixel bounds (area); ``None`` keeps the processor's own.

    Returns:
        The processor's ``BatchFeature`` (left or right padded as the tokenizer is set), ready for
        ``model.generate``.

    Raises:
        ValueError: a pixel bound was asked for clips of different lengths in one call with a processor
            that bounds whole clips (one ``size`` cannot then mean the same per-frame budget for all).
    """
    kwargs: dict[str, Any] = {"text": list(texts), "padding": True, "return_tensors": "pt"}
    if clips:
        if len(fps) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(fps)} frame rates")
        lengths = {int(len(c)) for c in clips}
        vp = processor.video_processor
        if (max_pixels is not None or min_pixels is not None) and len(lengths) > 1 and per_clip_bound(vp):
            raise ValueError(
                f"clips of {sorted(lengths)} frames in one call cannot share a per-frame pixel bound with "
                f"{type(vp).__name__}; process them in separate calls"
            )
        kwargs.update(
            videos=[np.asarray(c) for c in clips],
            video_metadata=[video_metadata(len(c), f) for c, f in zip(clips, fps)],
            do_sample_frames=False,
            **video_size_kwargs(vp, max(lengths), max_pixels, min_pixels),
        )
    return processor(**kwargs)


def greedy_replies(
    model: Any, processor: Any, inputs: Any, max_new_tokens: int, **generate_kwargs: Any
) -> list[str]:
    """Greedy replies of ``model`` to prepared ``inputs`` (the new tokens only, special tokens dropped).

    ``generate_kwargs`` pass through (e.g. ``synced_gpus`` for a sharded model).
    """
    import torch

    first = next(model.parameters())
    # The first floating parameter's dtype: what a wrapped (LoRA, sharded) model computes in.
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), first.dtype)
    inputs = inputs.to(first.device)
    if "pixel_values_videos" in inputs:
        inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(dtype)
    # no_grad, not inference_mode: the training callback generates with the live (maybe sharded) policy.
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=int(max_new_tokens),
            do_sample=False,
            num_beams=1,
            # Unset the sampling knobs some checkpoints ship in generation_config.json, so greedy is
            # really greedy and transformers does not warn about ignored values.
            temperature=None,
            top_p=None,
            top_k=None,
            **generate_kwargs,
        )
    new_tokens = out[:, inputs["input_ids"].shape[1] :]
    return processor.batch_decode(new_tokens, skip_special_tokens=True)
