"""The policy and its processor: ``tiny:<arch>`` names resolved to an offline tiny model, and loading with
the ``trl.ModelConfig`` options (torch and transformers are imported inside the functions).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from videossr.tiny import build_tiny_model

TINY_PREFIX = "tiny:"


def resolve_model_path(name_or_path: str, cache_dir: str | os.PathLike | None = None) -> str:
    """Turn ``"tiny:qwen3_vl"`` / ``"tiny:qwen2_5_vl"`` into a built tiny model folder; other names
    pass through.

    The tiny model is built once under ``cache_dir`` (default ``$VIDEOSSR_CACHE`` or ``~/.cache/videossr``)
    and reused.
    """
    if not name_or_path.startswith(TINY_PREFIX):
        return name_or_path
    arch = name_or_path[len(TINY_PREFIX) :] or "qwen3_vl"
    root = Path(cache_dir or os.environ.get("VIDEOSSR_CACHE") or Path.home() / ".cache" / "videossr")
    return str(build_tiny_model(root / f"tiny-{arch}", arch=arch))  # type: ignore[arg-type]


def load_processor(model_args: Any, training_args: Any) -> Any:
    """The policy's processor, padding on the left (generation appends to the right end of every prompt)."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
    )
    processor.tokenizer.padding_side = "left"
    return processor


def load_model(model_args: Any, training_args: Any) -> Any:
    """The policy, loaded with the ``ModelConfig`` options (dtype, attention kernel, quantisation for
    LoRA)."""
    import torch
    from transformers import AutoModelForImageTextToText
    from trl import get_quantization_config

    dtype = model_args.dtype
    if dtype not in (None, "auto"):
        dtype = getattr(torch, dtype)
    kwargs: dict[str, Any] = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
        "dtype": dtype,
    }
    quantization = get_quantization_config(model_args)
    if quantization is not None:
        # k-bit weights must sit on this process's GPU from the start (they cannot be moved later).
        from accelerate import PartialState

        kwargs.update(quantization_config=quantization, device_map={"": PartialState().local_process_index})
    model = AutoModelForImageTextToText.from_pretrained(model_args.model_name_or_path, **kwargs)
    keep_used_weight_conversions(model)
    return model


def keep_used_weight_conversions(model: Any) -> None:
    """Forget the checkpoint key renamings that did not apply when ``model`` was loaded.

    transformers (5.25) remembers the renamings it applied while loading and reverses them when saving.
    Its ZeRO-3 loading path (``from_pretrained`` inside ``zero.Init``, i.e. ``accelerate launch`` with
    ``zero3.yaml``) remembers all of them, used or not; for Qwen3-VL the unused legacy renaming
    ``model.language_model.model.* -> model.language_model.*`` is then reversed on save, and the
    consolidated ZeRO-3 checkpoint is written as ``model.language_model.model.layers...`` instead of
    ``model.language_model.layers...`` (found on two CPU ZeRO-3 ranks; docs/sharding.md). The other
    loading path keeps only the used ones; this does the same.
    """
    conversions = getattr(model, "_weight_conversions", None)
    if conversions:
        model._weight_conversions = [c for c in conversions if getattr(c, "was_used", lambda: True)()]


def last_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest complete ``checkpoint-<step>`` folder in ``output_dir`` (``None`` if there is none).

    A checkpoint is complete once the Trainer has written its ``trainer_state.json`` (the last file it saves),
    so a folder left half-written by a killed run is skipped in favour of the one before it.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return None
    steps = []
    for path in root.iterdir():
        name = path.name
        if path.is_dir() and name.startswith("checkpoint-") and name[len("checkpoint-") :].isdigit():
            if (path / "trainer_state.json").is_file():
                steps.append((int(name[len("checkpoint-") :]), path))
    return str(max(steps)[1]) if steps else None
