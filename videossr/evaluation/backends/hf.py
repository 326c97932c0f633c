"""The ``hf:`` backend: a transformers vision-language model, greedy and batched."""

from __future__ import annotations

import concurrent.futures as cf
import copy
import json
import queue
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from videossr import vlm
from videossr.evaluation.backends.base import Backend, BackendError, Prediction, _chunks, _frames_record
from videossr.evaluation.data import BenchItem


def _sort_key(item: BenchItem) -> tuple:
    # Same source video -> same frame size -> same number of visual tokens; then text length. Batches
    # of near-equal length waste little compute on padding.
    return (item.group, item.num_videos, len(item.prompt_text), item.id)


class HFBackend(Backend):
    """A transformers vision-language model (Qwen2.5-VL, Qwen3-VL), greedy and batched.

    The clips go to the processor as videos with their real frame rate (``video_metadata``) and
    ``do_sample_frames=False``, so the processor neither resamples them nor assumes a default fps.
    Batches are left-padded and built from items sorted by expected length; while the model generates
    one batch, CPU worker threads decode and preprocess the next ones.

    Args:
        model: a local checkpoint folder or a Hub id.
        max_new_tokens: reply budget (greedy decoding stops earlier at the end-of-turn token).
        dtype: ``"auto"`` (bfloat16 on GPU, float32 on CPU), or a torch dtype name.
        device: ``"cuda"``, ``"cpu"``... (default: CUDA when available).
        num_workers: CPU threads preparing batches.
        prefetch: batches prepared ahead of the one generating.
        attn_implementation: passed to ``from_pretrained`` (e.g. ``"sdpa"``, ``"flash_attention_2"``).
        system_prompt: replaces the sample's own system turn ("answer directly"); "" sends none.
        sort: sort items by expected length before batching.
        video_max_pixels: per-frame pixel bound (area) for the video processor; ``None`` keeps the
            processor's own. The in-training VIUBench callback takes the same bound, through the same
            preparation (:func:`videossr.vlm.video_inputs`).
    """

    name = "hf"

    @classmethod
    def spec_args(cls, rest: str) -> dict[str, Any]:
        """``hf:PATH_OR_HUB_ID`` -> ``{"model": ...}``."""
        if not rest:
            raise BackendError("hf backend needs a model: hf:PATH_OR_HUB_ID")
        return {"model": rest}

    def __init__(
        self,
        model: str,
        max_new_tokens: int = 128,
        dtype: str = "auto",
        device: str | None = None,
        num_workers: int = 2,
        prefetch: int = 2,
        attn_implementation: str | None = None,
        system_prompt: str | None = None,
        sort: bool = True,
        video_max_pixels: int | None = None,
    ):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.model_id = model
        self.max_new_tokens = int(max_new_tokens)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype == "auto":
            torch_dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        else:
            torch_dtype = getattr(torch, dtype)
        self.dtype = str(torch_dtype).replace("torch.", "")
        self.num_workers = max(1, int(num_workers))
        self.prefetch = max(1, int(prefetch))
        self.system_prompt = system_prompt
        self.sort = sort
        self.video_max_pixels = None if video_max_pixels is None else int(video_max_pixels)
        try:
            self.processor = AutoProcessor.from_pretrained(model)
        except OSError as err:  # missing folder, offline Hub id, no processor files
            raise BackendError(f"cannot load a processor from {model!r}: {err}") from err
        tokenizer = self.processor.tokenizer
        # Decoder-only generation needs the padding on the left so every row ends at its prompt.
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        kwargs: dict[str, Any] = {"dtype": torch_dtype}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        try:
            # Loaded straight onto the device: a real-size checkpoint never sits whole in CPU memory first.
            self.model = AutoModelForImageTextToText.from_pretrained(
                model, device_map=self.device, **kwargs
            ).eval()
        except (OSError, ValueError) as err:
            raise BackendError(f"cannot load a vision-language model from {model!r}: {err}") from err
        self.attn_implementation = self.model.config._attn_implementation
        # Idle processor copies, shared by the preparing threads (see prepare()).
        self._processors: queue.SimpleQueue = queue.SimpleQueue()

    # -- input preparation (runs on CPU worker threads) ------------------------------------------------
    def prepare(self, batch: Sequence[BenchItem]) -> tuple[list[BenchItem], Any, list[dict[str, Any]]]:
        """Decode a batch's frames and run the processor: returns ``(items, model inputs, records)``."""
        # Each preparing thread borrows its own processor copy: a fast tokenizer must not be used by two
        # threads at once (it mutates its padding state per call and can fail with "Already borrowed").
        # Copies go back to a pool, so repeated predict() calls (e.g. a Space) do not copy again.
        try:
            processor = self._processors.get_nowait()
        except queue.Empty:
            processor = copy.deepcopy(self.processor)
        try:
            return self._prepare(batch, processor)
        finally:
            self._processors.put(processor)

    def _prepare(
        self, batch: Sequence[BenchItem], processor: Any
    ) -> tuple[list[BenchItem], Any, list[dict[str, Any]]]:
        texts, videos, fps, records = [], [], [], []
        for item in batch:
            sample = item.sample()
            messages = sample.to_messages(videos="none", system=self.system_prompt)
            texts.append(processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
            videos += [np.asarray(clip) for clip in sample.videos]
            fps += [sample.fps] * len(sample.videos)
            records.append(_frames_record(sample.videos, sample.fps))
        inputs = vlm.video_inputs(processor, texts, videos, fps, max_pixels=self.video_max_pixels)
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        for record, n in zip(records, lengths):
            record["prompt_tokens"] = int(n)
        return list(batch), inputs, records

    # -- generation ----------------------------------------------------------------------------------
    def generate(self, inputs: Any) -> list[str]:
        """Greedy replies for prepared inputs."""
        return vlm.greedy_replies(self.model, self.processor, inputs, self.max_new_tokens)

    def _batches(self, items: list[BenchItem], batch_size: int) -> list[list[BenchItem]]:
        vp = getattr(self.processor, "video_processor", None)
        if self.video_max_pixels is None or vp is None or not vlm.per_clip_bound(vp):
            return _chunks(items, batch_size)
        # A processor that bounds whole clips needs clips of one length per call for the bound to mean
        # the same per-frame budget: a batch never mixes items whose clips differ in length.
        batches: list[list[BenchItem]] = []
        for item in items:
            key = (item.num_videos, item.num_frames)
            last = batches[-1] if batches else None
            if last and len(last) < batch_size and (last[0].num_videos, last[0].num_frames) == key:
                last.append(item)
            else:
                batches.append([item])
        return batches

    def predict(self, items: Sequence[BenchItem], batch_size: int = 8) -> Iterator[list[Prediction]]:
        ordered = sorted(items, key=_sort_key) if self.sort else list(items)
        batches = self._batches(ordered, max(1, int(batch_size)))
        upcoming = iter(batches)
        with cf.ThreadPoolExecutor(self.num_workers) as pool:
            pending: deque[cf.Future] = deque()

            def fill() -> None:
                # Keep `prefetch` batches in preparation on the CPU threads while the model generates.
                while len(pending) < self.prefetch:
                    batch = next(upcoming, None)
                    if batch is None:
                        return
                    pending.append(pool.submit(self.prepare, batch))

            fill()
            while pending:
                batch, inputs, records = pending.popleft().result()
                fill()
                replies = self.generate(inputs)
                yield [Prediction(it, reply, rec) for it, reply, rec in zip(batch, replies, records)]

    def describe(self) -> dict[str, Any]:
        vp = getattr(self.processor, "video_processor", None)
        video_settings = {}
        if vp is not None:
            for key in (
                "size",
                "patch_size",
                "temporal_patch_size",
                "merge_size",
                "min_pixels",
                "max_pixels",
                "do_sample_frames",
                "fps",
                "image_mean",
                "image_std",
            ):
                value = getattr(vp, key, None)
                if value is None:
                    continue
                if isinstance(value, tuple):
                    value = list(value)
                elif not isinstance(value, (int, float, str, bool, list, dict)):
                    # SizeDict and friends: keep their set fields, not their repr.
                    fields = getattr(value, "__dict__", None)
                    value = {k: v for k, v in fields.items() if v is not None} if fields else str(value)
                video_settings[key] = value
            video_settings["class"] = type(vp).__name__
        template = getattr(self.processor, "chat_template", None) or ""
        import hashlib

        return {
            "backend": "hf",
            "model": self.model_id,
            "architecture": type(self.model).__name__,
            "dtype": self.dtype,
            "device": self.device,
            "attn_implementation": self.attn_implementation,
            "decoding": {"do_sample": False, "num_beams": 1, "max_new_tokens": self.max_new_tokens},
            "video_input": "frames as a video with video_metadata (real fps), do_sample_frames=False",
            # Only when set: runs at the processor's own bounds keep the description (and resume key)
            # they had.
            **({"video_max_pixels": self.video_max_pixels} if self.video_max_pixels is not None else {}),
            "video_processor": json.loads(json.dumps(video_settings, default=str)),
            "system_prompt": self.system_prompt,
            "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest()[:16] if template else None,
            "padding_side": "left",
            "sorted_by_length": self.sort,
        }

    def close(self) -> None:
        del self.model
