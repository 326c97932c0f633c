"""Video GRPO on TRL: a bridge over TRL 1.16's image-only multimodal path.

Why this module exists
----------------------
TRL's ``GRPOTrainer`` (1.16.0) understands images but not videos (upstream issues huggingface/trl#5373 and
#4144). A video placed in a prompt is rendered during generation, yet the log-prob passes (old policy,
reference model, and the loss itself) receive no ``pixel_values_videos`` / ``video_grid_thw``: the video pad
tokens are embedded as ordinary text, M-RoPE falls back to 1-D positions, and the policy is optimised on
inputs it never generated from. Nothing fails; training is silently wrong.

:class:`VideoGRPOTrainer` closes the gap with a handful of narrow overrides:

* ``_generate_and_score_completions``: before TRL's own logic runs, each row's clips are processed once
  (``do_sample_frames=False`` plus ``video_metadata`` at the clip's real fps, so Qwen3-VL prints the right
  ``<t seconds>`` timestamps and Qwen2.5-VL gets the right absolute time ids). The resulting visual tensors
  are kept **per row** in the returned batch, so TRL's shuffle and ``steps_per_generation`` split move them
  together with their completions; no flat tensor ever has to be re-sliced by guesswork.
* ``_tokenize_prompts``: hands TRL the prompt ids and video tensors computed above, so generation sees
  exactly the tokens and pixels the loss will see.
* ``_get_per_token_logps_and_entropies``: when a video batch is active, runs the scoring forward with the
  rows' videos (concatenated per micro-batch, ``mm_token_type_ids`` rebuilt from the ids) instead of TRL's
  image-only argument list. Old-policy, reference and loss passes all go through it.
* ``_compute_loss``: activates the micro-batch's videos around TRL's loss.

* Shared prefix (on by default, ``shared_prefix=False`` to turn off): rows with the same prompt are scored in
  one packed forward per micro-batch, the prompt (vision tower included) computed once and every reply
  attending to it (:mod:`videossr.shared_prefix`); generation prefills each unique prompt once and shares its
  KV cache; where it cannot change the update, micro-batches are cut as whole groups. Exact up to float
  summation order (``docs/training.md``).

Everything else (advantages, KL, clipping, logging, distributed setup) is TRL's. The bridge is tested against
exactly ``trl==1.16.0`` (see :data:`TESTED_TRL_VERSIONS`); other versions raise at construction because the
overridden private methods are not a stable API.

Frames as images
----------------
``video_mode="images"`` turns every clip into its frames, each preceded by a ``<t seconds>`` text label, and
feeds them through TRL's (working) image path. Use it for models without a video path; on Qwen-VL it costs
about twice the visual tokens because the 2-frame temporal patch merge is lost.

Dataset rows
------------
Rows follow the project's row schema (``docs/CONTRACT.md``): ``prompt`` is a conversation whose user content
has ``{"type": "video"}`` placeholders, ``videos`` holds the clips (each a list of PIL frames or a
``(T, H, W, 3)`` uint8 array), ``fps`` is the frame rate of every clip on the virtual timeline. Other columns
(``answer``, ``task``...) reach the reward functions untouched. Turning one row into model inputs is
:mod:`videossr.row_video`'s (:func:`process_row_videos`, :func:`frames_as_images_prompt`...), whose names
stay importable from here.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch
import trl
from trl import GRPOTrainer

from videossr.keyed_sampling import KeyedSampler, greedy_copy, rollout_keys, sampling_warpers
from videossr.row_video import (  # the row-video helpers, re-exported from here as before
    RowVideoInputs,
    _rows_video_kwargs,
    _video_kwargs,
    clean_prompt,
    clip_to_array,
    count_video_parts,
    frames_as_images_prompt,
    process_row_videos,
    prompt_groups,
    video_metadata,  # one home, in videossr.types (also importable from here)
    video_size_kwargs,  # one home in videossr.vlm, shared with evaluation and the callback
)
from videossr.sharding import fsdp_on_cpu_processes, needs_synced_generation
from videossr.shared_prefix import (
    SUPPORTED_ATTENTION,
    attention_implementation,
    find_rope_index,
    group_rows,
    pack_micro_batch,
    unpack,
)

logger = logging.getLogger(__name__)

TESTED_TRL_VERSIONS: tuple[str, ...] = ("1.16.0",)
"""TRL versions whose private ``GRPOTrainer`` methods this bridge was written and tested against."""

VideoMode = Literal["video", "images"]

# Keys under which the per-row visual tensors travel inside TRL's batch dict.
_PIXELS = "videossr_pixel_values_videos"
_GRID = "videossr_video_grid_thw"
_SECONDS = "videossr_second_per_grid_ts"


def check_trl_version(version: str | None = None) -> None:
    """Raise a clear error when the installed TRL is not one the bridge was tested against.

    Set ``VIDEOSSR_UNSAFE_TRL=1`` to try another version at your own risk (the tests in
    ``tests/training/test_trl_video.py`` tell whether the video still reaches the loss).
    """
    version = version or trl.__version__
    if version in TESTED_TRL_VERSIONS or os.environ.get("VIDEOSSR_UNSAFE_TRL") == "1":
        return
    raise RuntimeError(
        f"videossr.trl_video bridges private methods of TRL's GRPOTrainer and is tested with trl=="
        f"{' / '.join(TESTED_TRL_VERSIONS)}; found trl=={version}. Install `trl==1.16.0` (pinned in the "
        "`train` extra), or set VIDEOSSR_UNSAFE_TRL=1 and run tests/training/test_trl_video.py to check this "
        "version."
    )


def shuffle_groups(batch: dict[str, Any]) -> dict[str, Any]:
    """TRL's ``shuffle_sequence_dict``, but rows of the same prompt stay together (groups in random order,
    rows in random order within their group), so an even split gives micro-batches of whole groups."""
    visuals = [batch[k] for k in (_PIXELS, _GRID, _SECONDS) if isinstance(batch.get(k), list)]
    groups = group_rows(batch["prompt_ids"], batch["prompt_mask"], visuals)
    order = torch.randperm(len(groups)).tolist()
    permutation = torch.tensor(
        [groups[g][i] for g in order for i in torch.randperm(len(groups[g])).tolist()], dtype=torch.long
    )
    size = batch["prompt_ids"].size(0)

    def permute(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.ndim >= 1 and v.size(0) == size:
            return v[permutation.to(v.device)]
        if isinstance(v, list) and len(v) == size:
            return [v[i] for i in permutation.tolist()]
        return v

    return {key: permute(value) for key, value in batch.items()}


def rope_module(model: torch.nn.Module) -> torch.nn.Module:
    """The Qwen-VL backbone that owns ``get_rope_index`` and the generation-time ``rope_deltas``."""
    for module in model.modules():
        if callable(getattr(module, "get_rope_index", None)) and hasattr(module, "rope_deltas"):
            return module
    raise ValueError(f"{type(model).__name__} has no M-RoPE backbone (get_rope_index / rope_deltas)")


class DistinctRowsView(torch.utils.data.Dataset):
    """A map-style view of a ``datasets.Dataset`` whose batched fetch decodes each distinct row once.

    GRPO's sampler asks for every prompt ``num_generations`` times in one batch, and ``datasets`` decodes
    every ask anew (each stored frame is a JPEG). On the CPU learning bed that repeated decoding was half
    of a step (``tests/perf/bench_distinct_rows.py``). Rows come back as fresh shallow copies, in the order
    asked, so nothing downstream can tell the difference.
    """

    def __init__(self, data: Any) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.data[index]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        distinct = list(dict.fromkeys(int(i) for i in indices))
        columns = self.data[distinct]
        rows = {i: {name: values[j] for name, values in columns.items()} for j, i in enumerate(distinct)}
        return [dict(rows[int(i)]) for i in indices]


class VideoGRPOTrainer(GRPOTrainer):
    """``trl.GRPOTrainer`` whose prompts' videos reach the model as videos in every pass.

    Args:
        *args, **kwargs: as for :class:`trl.GRPOTrainer`. ``processing_class`` must be a multimodal processor
            with a video processor (Qwen2-VL, Qwen2.5-VL, Qwen3-VL family) when ``video_mode="video"``.
        video_mode: ``"video"`` (default): clips go through the model's video path with their real fps.
            ``"images"``: each frame becomes an image, labelled with its timestamp (TRL's image path).
        video_max_pixels: per-frame pixel budget (area) passed to the video processor, e.g. ``256 * 256``
            for the paper's training set. ``None`` keeps the processor's own bounds.
        video_min_pixels: per-frame lower bound, ``None`` keeps the processor's.
        shared_prefix: encode each unique prompt (vision tower included) once per micro-batch in the
            old-policy, reference and loss passes, and prefill it once in generation; every reply attends
            to it (:mod:`videossr.shared_prefix`). Exact: same log-probs and gradients as the unshared
            passes up to float summation order. Needs ``sdpa`` or ``eager`` attention; with other kernels,
            or in ``video_mode="images"``, the trainer logs a warning and uses the unshared passes.
        shared_prefix_group_split: when ``steps_per_generation > 1``, cut the generation batch into
            micro-batches of whole groups (groups in random order) instead of TRL's row shuffle, so each
            micro-batch packs as few prompts as possible. ``None`` (default): only where it leaves the update
            unchanged (a loss normalised over the whole generation batch, ``dapo`` / ``cispo`` / ``vespo``,
            no entropy bonus, and every optimizer step accumulating whole generation batches);
            ``True``/``False`` force it.
        layout_invariant_sampling: draw every rollout's tokens with noise keyed by (seed, step, the rollout's
            index in the global generation batch, position) instead of the process's random stream
            (:mod:`videossr.keyed_sampling`): the same distribution, but a run on N processes samples the
            same replies as a run on one, and a resumed run the same as an uninterrupted one. Video mode only.

    Example::

        trainer = VideoGRPOTrainer(
            model="Qwen/Qwen3-VL-8B-Instruct",
            reward_funcs=[REWARD_FUNCS["grounding"], REWARD_FUNCS["jigsaw"], REWARD_FUNCS["counting"]],
            args=GRPOConfig(...),
            train_dataset=load_dataset("videossr/VideoSSR-30K", split="train"),
            video_max_pixels=256 * 256,
        )
        trainer.train()
    """

    _tag_names = ["trl", "grpo", "videossr"]

    def __init__(
        self,
        *args: Any,
        video_mode: VideoMode = "video",
        video_max_pixels: int | None = None,
        video_min_pixels: int | None = None,
        shared_prefix: bool = True,
        shared_prefix_group_split: bool | None = None,
        layout_invariant_sampling: bool = False,
        **kwargs: Any,
    ) -> None:
        check_trl_version()
        if video_mode not in ("video", "images"):
            raise ValueError(f"video_mode must be 'video' or 'images', got {video_mode!r}")
        self.video_mode: VideoMode = video_mode
        self.video_max_pixels = video_max_pixels
        self.video_min_pixels = video_min_pixels
        # Per-row video inputs of the generation batch being prepared (read by `_tokenize_prompts`).
        self._pending_rows: list[RowVideoInputs] | None = None
        # Videos of the batch whose log-probs are being computed (read by the scoring pass).
        self._active_videos: dict[str, list[torch.Tensor]] | None = None
        self._video_token_id: int | None = None
        self._image_token_id: int | None = None
        self.shared_prefix = bool(shared_prefix)
        self.layout_invariant_sampling = bool(layout_invariant_sampling)
        # (optimizer step, generation calls made in it): the keyed sampler's per-call key.
        self._generation_calls: tuple[int, int] = (-1, 0)
        # Counters of the shared passes (rows scored, packed sequences, tokens forwarded): for logs and
        # benchmarks.
        self.shared_prefix_stats: dict[str, int] = {
            "rows": 0,
            "sequences": 0,
            "tokens": 0,
            "unshared_tokens": 0,
        }
        super().__init__(*args, **kwargs)
        if needs_synced_generation(self.accelerator) and self._dist.is_fsdp:
            # transformers runs `generate` in lockstep (synced_gpus) for models it sharded itself and for
            # ZeRO-3, but not for one accelerate wrapped with fully_shard: a rank whose replies all ended
            # would stop calling the sharded forward while the others wait in its all-gather. TRL's own
            # generation path reads the same flag.
            self.model._is_fsdp_managed_module = True

        args_ = self.args
        if self.use_vllm and video_mode == "video":
            raise ValueError(
                "TRL 1.16's vLLM generation only carries images; use transformers generation "
                "(use_vllm=False) or video_mode='images'."
            )
        if self.tools:
            raise ValueError("tool calling is not supported together with video prompts by this bridge")
        if args_.use_liger_kernel:
            raise ValueError("the Liger GRPO loss computes log-probs without the video inputs; disable it")
        if video_mode == "video":
            if not self._is_vlm or getattr(self.processing_class, "video_processor", None) is None:
                raise ValueError(
                    "video_mode='video' needs a processor with a video processor (e.g. Qwen3-VL)"
                )
            config = self.model.config
            self._video_token_id = getattr(config, "video_token_id", None)
            self._image_token_id = getattr(config, "image_token_id", None)
            # A sampled visual pad token would no longer match the visual features in the scoring pass; TRL
            # already suppresses the image pad, add the video pad (and both if the model names them).
            # Video mode generates with transformers (vLLM is refused above), so TRL has set both
            # generation attributes.
            suppress = list(self.generation_kwargs.get("suppress_tokens") or [])
            for token_id in (self._image_token_id, self._video_token_id):
                if token_id is not None and token_id not in suppress:
                    suppress.append(token_id)
            if suppress:
                self.generation_kwargs["suppress_tokens"] = suppress
                self.generation_config.suppress_tokens = suppress
        if self.shared_prefix:
            reason = None
            attention = attention_implementation(self.model)
            if video_mode != "video":
                reason = "video_mode='images' goes through TRL's own image path"
            elif attention not in SUPPORTED_ATTENTION:
                reason = f"attention {attention!r} takes no block mask (use sdpa or eager)"
            if reason is not None:
                logger.warning("shared_prefix disabled: %s; using the unshared passes", reason)
                self.shared_prefix = False
        if self.layout_invariant_sampling and video_mode != "video":
            raise ValueError(
                "layout_invariant_sampling needs video_mode='video' (the bridge's own generation)"
            )
        if shared_prefix_group_split is None:
            shared_prefix_group_split = self.shared_prefix and self._split_leaves_update_unchanged()
        self.shared_prefix_group_split = bool(shared_prefix_group_split)

    def create_accelerator_and_postprocess(self) -> None:
        # FSDP on CPU processes (gloo): accelerate would otherwise fall back to DDP (videossr.sharding).
        with fsdp_on_cpu_processes():
            super().create_accelerator_and_postprocess()

    def _split_leaves_update_unchanged(self) -> bool:
        """Whether how the generation batch is cut into micro-batches cannot change the optimizer update."""
        args = self.args
        global_normaliser = self.loss_type in ("dapo", "cispo", "vespo")
        no_bonus = not self._entropy_bonus_enabled
        whole_batches = args.gradient_accumulation_steps % args.steps_per_generation == 0
        return global_normaliser and no_bonus and whole_batches and self.top_entropy_quantile >= 1.0

    def get_train_dataloader(self) -> Any:
        import datasets

        dataset = self.train_dataset
        if not isinstance(dataset, datasets.Dataset):
            return super().get_train_dataloader()
        # Same sampler, same rows; only the repeated decoding of a group's prompt goes.
        self.train_dataset = DistinctRowsView(dataset)
        try:
            return super().get_train_dataloader()
        finally:
            self.train_dataset = dataset

    # ------------------------------------------------------------------ columns
    def _set_signature_columns_if_needed(self) -> None:
        # Keep the video columns even when `remove_unused_columns=True`.
        if self._signature_columns is None:
            self._signature_columns = ["prompt", "image", "images", "videos", "fps"]

    # ------------------------------------------------------------------ batch preparation
    def _row_video_inputs(self, inputs: list[dict[str, Any]]) -> list[RowVideoInputs]:
        """Process every row's clips; rows repeated for the group share one processed copy."""
        cache: dict[Any, RowVideoInputs] = {}
        rows: list[RowVideoInputs] = []
        for row in inputs:
            fps = float(row.get("fps") or 1.0)
            key = (row.get("id"), fps) if row.get("id") is not None else None
            if key is not None and key in cache:
                rows.append(cache[key])
                continue
            clips = [clip_to_array(c) for c in row.get("videos") or []]
            processed = process_row_videos(
                self.processing_class,
                row["prompt"],
                clips,
                fps,
                chat_template=self.chat_template,
                chat_template_kwargs=self.chat_template_kwargs,
                max_pixels=self.video_max_pixels,
                min_pixels=self.video_min_pixels,
            )
            if key is not None:
                cache[key] = processed
            rows.append(processed)
        return rows

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        has_videos = any(len(row.get("videos") or ()) > 0 for row in inputs)
        if not has_videos:
            return super()._generate_and_score_completions(inputs)
        if self.video_mode == "images":
            rewritten = []
            for row in inputs:
                clips = [clip_to_array(c) for c in row.get("videos") or []]
                prompt, images = frames_as_images_prompt(row["prompt"], clips, float(row["fps"]))
                # The frames now live in the prompt's image parts; drop the raw clips from the copy.
                new_row = {k: v for k, v in row.items() if k != "videos"}
                rewritten.append({**new_row, "prompt": prompt, "images": images})
            return super()._generate_and_score_completions(rewritten)

        rows = self._row_video_inputs(inputs)
        device = self.accelerator.device

        moved: dict[int, torch.Tensor] = {}

        def on_device(t: torch.Tensor | None) -> torch.Tensor | None:
            # Rows of one group share one processed copy; keep them sharing one device copy too (memory, and
            # the shared-prefix grouping recognises them by identity before comparing values).
            if t is None:
                return None
            if id(t) not in moved:
                moved[id(t)] = t.to(device)
            return moved[id(t)]

        per_row: dict[str, list[torch.Tensor | None]] = {
            _PIXELS: [on_device(r.pixel_values_videos) for r in rows],
            _GRID: [on_device(r.video_grid_thw) for r in rows],
        }
        if any(r.second_per_grid_ts is not None for r in rows):
            per_row[_SECONDS] = [on_device(r.second_per_grid_ts) for r in rows]
        self._pending_rows = rows
        try:
            with self._videos_active(per_row):
                output = super()._generate_and_score_completions(inputs)
        finally:
            self._pending_rows = None
        # Per-row lists: TRL's shuffle and `steps_per_generation` split keep them aligned with their rows.
        output.update(per_row)
        return output

    def _prepare_inputs(self, generation_batch: Any) -> dict[str, Any]:
        if not (
            self.model.training and self.shared_prefix_group_split and self.args.steps_per_generation > 1
        ):
            return super()._prepare_inputs(generation_batch)
        # TRL's training branch, with the row shuffle replaced by a shuffle of whole groups.
        from trl.trainer.utils import (
            split_pixel_values_by_grid,
            split_tensor_dict,
            unsplit_pixel_values_by_grid,
        )

        generate_every = self.args.steps_per_generation * self.num_iterations
        if self._step % generate_every == 0 or self._buffered_inputs is None:
            batch = self._generate_and_score_completions(generation_batch)
            batch = split_pixel_values_by_grid(batch)
            batch = shuffle_groups(batch)
            batches = split_tensor_dict(batch, self.args.steps_per_generation)
            self._buffered_inputs = [unsplit_pixel_values_by_grid(b) for b in batches]
        return self._buffered_inputs[self._step % self.args.steps_per_generation]

    def _tokenize_prompts(self, prompts: list) -> tuple[list[list[int]], None, dict[str, Any]]:
        rows = self._pending_rows
        if rows is None:
            return super()._tokenize_prompts(prompts)
        if len(rows) != len(prompts):
            raise RuntimeError(f"bridge out of sync: {len(rows)} processed rows for {len(prompts)} prompts")
        prompt_ids = [list(r.prompt_ids) for r in rows]
        fields: dict[str, Any] = {
            # A per-token field: TRL left-pads it like the ids.
            "mm_token_type_ids": [self._mm_token_types(torch.tensor(ids)).tolist() for ids in prompt_ids],
        }
        fields.update(_rows_video_kwargs(rows))
        return prompt_ids, None, fields

    # ------------------------------------------------------------------ generation
    def _generate_single_turn(
        self,
        prompt_ids: list[list[int]],
        images: Any,
        multimodal_fields: dict[str, Any],
        num_generations: int,
        has_tool_images: bool = False,
    ) -> tuple[list[list[int]], Any]:
        rows = self._pending_rows
        own_path = (
            (self.shared_prefix or self.layout_invariant_sampling)
            and rows is not None
            and len(rows) == len(prompt_ids)
            and not self.use_vllm
            and not self.use_transformers_continuous_batching
        )
        if own_path:
            if self.shared_prefix:
                row_group, firsts = prompt_groups(rows)
            else:  # every row its own prefix: plain generation, with the keyed sampler
                row_group, firsts = list(range(len(rows))), list(range(len(rows)))
            if len(firsts) < len(rows) or self.layout_invariant_sampling:
                return self._generate_shared_prefill(prompt_ids, rows, row_group, firsts), None
        return super()._generate_single_turn(
            prompt_ids, images, multimodal_fields, num_generations, has_tool_images=has_tool_images
        )

    def _generate_shared_prefill(
        self,
        prompt_ids: list[list[int]],
        rows: list[RowVideoInputs],
        row_group: list[int],
        firsts: list[int],
    ) -> list[list[int]]:
        """TRL's transformers generation, with each unique prompt prefilled once and its cache shared.

        The unique prompts minus their last token go through one forward (vision tower included) that
        fills the KV cache; the cache is then indexed out to every rollout, the model's M-RoPE offsets
        (``rope_deltas``) likewise, and ``generate`` continues from it: it feeds each row's last prompt
        token and samples.

        With ``layout_invariant_sampling`` the tokens are drawn by
        :class:`~videossr.keyed_sampling.KeyedSampler` (greedy decoding over its one-hot scores). Under
        sharding every rank decodes in lockstep (``synced_gpus``).
        """
        from trl.models import unwrap_model_for_generation
        from trl.trainer.utils import pad

        device = self.accelerator.device
        tensors = [torch.tensor(ids) for ids in prompt_ids]
        padded_ids = pad(
            tensors,
            padding_value=self._tokenizer.pad_token_id,
            padding_side="left",
            pad_to_multiple_of=self.pad_to_multiple_of,
        ).to(device)
        attention_mask = pad(
            [torch.ones_like(t) for t in tensors],
            padding_value=0,
            padding_side="left",
            pad_to_multiple_of=self.pad_to_multiple_of,
        ).to(device)
        unique_ids, unique_mask = padded_ids[firsts, :-1], attention_mask[firsts, :-1]
        prefill: dict[str, Any] = {
            "input_ids": unique_ids,
            "attention_mask": unique_mask,
            "mm_token_type_ids": self._mm_token_types(unique_ids),
        }
        unique = [rows[i] for i in firsts]
        prefill.update(_rows_video_kwargs(unique, device))
        index = torch.tensor(row_group, device=device)
        generation_config = self.generation_config
        sampler_kwargs: dict[str, Any] = {}
        if self.layout_invariant_sampling:
            generation_config = greedy_copy(self.generation_config)
            from transformers import LogitsProcessorList

            sampler = KeyedSampler(
                self._rollout_keys(len(prompt_ids)).to(device),
                padded_ids.size(1),
                sampling_warpers(self.generation_config),
            )
            sampler_kwargs["logits_processor"] = LogitsProcessorList([sampler])
        with (
            unwrap_model_for_generation(
                self.model_wrapped,
                self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                generation_kwargs=self.generation_kwargs,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
            ) as unwrapped_model,
            torch.no_grad(),
            self._dist.summon_full_params(self.model_wrapped, recurse=False),
        ):
            backbone = rope_module(unwrapped_model)
            backbone.rope_deltas = None
            out = unwrapped_model(**prefill, use_cache=True, logits_to_keep=1)
            cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
            cache.batch_select_indices(index)
            if backbone.rope_deltas is None:  # text-only prompts: plain 1-D positions
                backbone.rope_deltas = torch.zeros(len(firsts), 1, dtype=torch.long, device=device)
            backbone.rope_deltas = backbone.rope_deltas[index]
            try:
                generated = unwrapped_model.generate(
                    input_ids=padded_ids,
                    attention_mask=attention_mask,
                    cache=cache,
                    generation_config=generation_config,
                    synced_gpus=needs_synced_generation(self.accelerator),
                    **sampler_kwargs,
                )
            finally:
                backbone.rope_deltas = None
        self.shared_prefix_stats["prefill_tokens"] = self.shared_prefix_stats.get("prefill_tokens", 0) + int(
            unique_mask.sum()
        )
        completion_ids = generated[:, padded_ids.size(1) :]
        # As TRL does: keep each completion up to and including its first EOS.
        is_eos = torch.isin(completion_ids, torch.tensor(self.eos_token_ids, device=completion_ids.device))
        eos_idx = torch.full(
            (is_eos.size(0),), is_eos.size(1), dtype=torch.long, device=completion_ids.device
        )
        eos_idx[is_eos.any(dim=1)] = is_eos.int().argmax(dim=1)[is_eos.any(dim=1)]
        positions = torch.arange(is_eos.size(1), device=completion_ids.device).expand(is_eos.size(0), -1)
        keep = positions <= eos_idx[:, None]
        return [c[m].tolist() for c, m in zip(completion_ids.cpu(), keep.cpu())]

    def _rollout_keys(self, rows: int) -> torch.Tensor:
        """The keyed sampler's key of each local rollout: seed, optimizer step, call within the step, and the
        rollout's index in the global generation batch (processes hold consecutive slices of it, as TRL's
        advantage computation assumes)."""
        step = int(self.state.global_step)
        last_step, calls = self._generation_calls
        calls = calls + 1 if step == last_step else 0
        self._generation_calls = (step, calls)
        first = self.accelerator.process_index * rows
        return rollout_keys(int(self.args.seed), step, calls, first, rows)

    # ------------------------------------------------------------------ scoring passes
    @contextlib.contextmanager
    def _videos_active(self, per_row: dict[str, list[torch.Tensor]] | None) -> Iterator[None]:
        previous = self._active_videos
        self._active_videos = per_row
        try:
            yield
        finally:
            self._active_videos = previous

    def _mm_token_types(self, input_ids: torch.Tensor) -> torch.Tensor:
        """1 on image pad tokens, 2 on video pad tokens, 0 elsewhere (what Qwen processors return)."""
        types = torch.zeros_like(input_ids)
        if self._image_token_id is not None:
            types[input_ids == self._image_token_id] = 1
        if self._video_token_id is not None:
            types[input_ids == self._video_token_id] = 2
        return types

    def _compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
        if _PIXELS not in inputs:
            return super()._compute_loss(model, inputs)
        per_row = {k: inputs[k] for k in (_PIXELS, _GRID, _SECONDS) if k in inputs}
        with self._videos_active(per_row):
            return super()._compute_loss(model, inputs)

    def video_model_inputs(
        self, per_row: dict[str, list[torch.Tensor]], start: int, end: int, input_ids: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The video keyword arguments of the model for rows ``start:end`` of the active batch."""
        device = input_ids.device
        kwargs: dict[str, torch.Tensor] = {"mm_token_type_ids": self._mm_token_types(input_ids)}
        # Empty for a micro-batch of text-only rows.
        kwargs.update(
            _video_kwargs(
                per_row[_PIXELS][start:end],
                per_row[_GRID][start:end],
                per_row.get(_SECONDS, [])[start:end],
                device,
            )
        )
        return kwargs

    def _get_per_token_logps_and_entropies(
        self,
        model: torch.nn.Module,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **image_kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        per_row = self._active_videos
        if per_row is None:
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **image_kwargs,
            )
        if len(per_row[_PIXELS]) != input_ids.size(0):
            raise RuntimeError(
                f"bridge out of sync: {len(per_row[_PIXELS])} rows of videos for "
                f"{input_ids.size(0)} sequences"
            )
        chunk = batch_size or input_ids.size(0)
        logps, entropies, aux_losses = [], [], []
        for start in range(0, input_ids.size(0), chunk):
            end = min(start + chunk, input_ids.size(0))
            ids = input_ids[start:end]
            mask = attention_mask[start:end]
            if self._use_shared_prefix(per_row, start, end, compute_aux_loss):
                chunk_logps, chunk_entropy = self._shared_prefix_logps(
                    model, per_row, start, end, ids, mask, logits_to_keep, compute_entropy
                )
                logps.append(chunk_logps)
                if compute_entropy:
                    entropies.append(chunk_entropy)
                continue
            # Score only the completion positions, as TRL's fused LM head expects (-100 elsewhere).
            labels = ids.masked_fill(mask == 0, -100)
            labels[:, :-logits_to_keep] = -100
            model_inputs = {"input_ids": ids, "attention_mask": mask}
            model_inputs.update(self.video_model_inputs(per_row, start, end, ids))
            if compute_aux_loss:
                model_inputs["output_router_logits"] = True
            with self.accelerator.autocast():
                outputs = model(**model_inputs, labels=labels, fused_lm_head=True)
            logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                entropies.append(outputs.entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                aux_losses.append(outputs.aux_loss)
            tokens = int(mask.sum())  # one device sync
            self.shared_prefix_stats["tokens"] += tokens
            self.shared_prefix_stats["unshared_tokens"] += tokens
        return (
            torch.cat(logps, dim=0),
            torch.cat(entropies, dim=0) if compute_entropy else None,
            torch.stack(aux_losses).mean() if compute_aux_loss else None,
        )

    # ------------------------------------------------------------------ shared-prefix scoring
    def _use_shared_prefix(
        self, per_row: dict[str, list[torch.Tensor]], start: int, end: int, compute_aux_loss: bool
    ) -> bool:
        if not self.shared_prefix or compute_aux_loss:
            # MoE load-balancing loss averages over every token of every sequence; packing would change it.
            return False
        # A micro-batch of text-only rows takes the unshared pass: there the model numbers left-padded text
        # positions from the padding on, which a packed forward would not reproduce.
        return any(p is not None for p in per_row[_PIXELS][start:end])

    def _shared_prefix_logps(
        self,
        model: torch.nn.Module,
        per_row: dict[str, list[torch.Tensor]],
        start: int,
        end: int,
        ids: torch.Tensor,
        mask: torch.Tensor,
        logits_to_keep: int,
        compute_entropy: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Log-probs (and entropies) of rows ``start:end`` with each unique prompt forwarded once."""
        prompt_ids, completion_ids = ids[:, :-logits_to_keep], ids[:, -logits_to_keep:]
        prompt_mask, completion_mask = mask[:, :-logits_to_keep], mask[:, -logits_to_keep:]
        pixels = per_row[_PIXELS][start:end]
        grids = per_row[_GRID][start:end]
        seconds = per_row[_SECONDS][start:end] if _SECONDS in per_row else [None] * (end - start)
        groups = group_rows(prompt_ids, prompt_mask, [pixels, grids, seconds])
        get_rope_index = find_rope_index(model)

        def rope_index(prompt: torch.Tensor, u: int) -> torch.Tensor:
            first = groups[u][0]
            kwargs: dict[str, Any] = {"mm_token_type_ids": self._mm_token_types(prompt)}
            if grids[first] is not None:
                kwargs["video_grid_thw"] = grids[first].to(prompt.device)
            if seconds[first] is not None:
                kwargs["second_per_grid_ts"] = seconds[first].to(prompt.device)
            positions, _ = get_rope_index(prompt, **kwargs)
            return positions[:, 0]

        attention = attention_implementation(model) or "sdpa"
        packed = pack_micro_batch(
            prompt_ids,
            prompt_mask,
            completion_ids,
            completion_mask,
            groups,
            rope_index,
            pad_token_id=self._tokenizer.pad_token_id,
            mask_kind="eager" if attention == "eager" else "sdpa",
            mask_dtype=next(model.parameters()).dtype,
        )
        firsts = [g[0] for g in groups]
        model_inputs: dict[str, Any] = {
            "input_ids": packed.input_ids,
            "attention_mask": packed.attention_mask,
            "position_ids": packed.position_ids,
            "mm_token_type_ids": self._mm_token_types(packed.input_ids),
        }
        model_inputs.update(
            _video_kwargs(
                [pixels[r] for r in firsts],
                [grids[r] for r in firsts],
                [seconds[r] for r in firsts],
                ids.device,
            )
        )
        with self.accelerator.autocast():
            outputs = model(**model_inputs, shift_labels=packed.shift_labels, fused_lm_head=True)
        stats = self.shared_prefix_stats
        stats["rows"] += end - start
        stats["sequences"] += len(groups)
        stats["tokens"] += packed.num_tokens
        stats["unshared_tokens"] += int(mask.sum())
        entropy = unpack(outputs.entropy, packed) if compute_entropy else None
        return unpack(outputs.log_probs, packed), entropy


__all__ = [
    "TESTED_TRL_VERSIONS",
    "RowVideoInputs",
    "VideoGRPOTrainer",
    "check_trl_version",
    "clean_prompt",
    "clip_to_array",
    "count_video_parts",
    "frames_as_images_prompt",
    "process_row_videos",
    "prompt_groups",
    "video_metadata",
    "video_size_kwargs",
]
