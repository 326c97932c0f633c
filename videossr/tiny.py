"""A tiny, randomly initialised Qwen3-VL / Qwen2.5-VL built offline, for tests, demos and CPU recipes.

Nothing is downloaded: the tokenizer is a byte-level BPE whose vocabulary is the 256 byte symbols plus the
Qwen special tokens (no merges, so every byte is one token), the chat template is written here, and the
image/video processors use tiny pixel bounds so a 48-frame clip becomes about a hundred visual tokens.
The result is saved with ``save_pretrained`` so the usual ``AutoProcessor.from_pretrained`` and
``AutoModelForImageTextToText.from_pretrained`` calls load it like any Hub checkpoint.

Usage::

    python -m videossr.tiny --out /tmp/tiny-qwen3-vl --arch qwen3_vl

The weights are random: the model produces gibberish, but every code path (video processing, M-RoPE with
timestamps or time ids, generation, gradients through the vision tower) is the real one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

ARCHS = ("qwen3_vl", "qwen2_5_vl")
Arch = Literal["qwen3_vl", "qwen2_5_vl"]

# Bump when the saved layout changes so cached folders built by an older version are rebuilt.
TINY_VERSION = 3
_MARKER = "videossr_tiny.json"

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# A short template in the spirit of the Qwen ones: ChatML turns; text parts verbatim; an image or video part
# becomes its pad token between vision markers.
_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{- part['text'] -}}"
    "{%- elif part['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'video' -%}{{- '__VIDEO__' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def _chat_template(arch: Arch) -> str:
    # Both families' released templates wrap the pad token in vision markers; Qwen3-VL's processor then
    # expands the pad into per-patch "<t seconds><|vision_start|>...<|vision_end|>" blocks inside that
    # outer pair. The tiny models render prompts the same way, so their token layout matches the real
    # ones.
    del arch
    return _CHAT_TEMPLATE.replace("__VIDEO__", "<|vision_start|><|video_pad|><|vision_end|>")


def _byte_vocab() -> dict[str, int]:
    """The GPT-2 byte-to-unicode alphabet: one printable symbol per byte value; token id = byte value."""
    byte_values = (
        list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    )
    symbols = byte_values[:]
    # Bytes that are not printable on their own (controls, space...) are shifted above 255.
    shifted = 0
    for b in range(256):
        if b not in byte_values:
            byte_values.append(b)
            symbols.append(256 + shifted)
            shifted += 1
    return {chr(s): b for b, s in zip(byte_values, symbols)}


def build_tokenizer(arch: Arch = "qwen3_vl"):
    """A Qwen2 byte-level BPE tokenizer built in memory (256 byte tokens + the Qwen special tokens)."""
    from transformers import AddedToken, Qwen2Tokenizer

    vocab = _byte_vocab()
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        extra_special_tokens={
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_start_token": "<|vision_start|>",
            "vision_end_token": "<|vision_end|>",
        },
    )
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True) for t in SPECIAL_TOKENS[1:]]}
    )
    tokenizer.chat_template = _chat_template(arch)
    return tokenizer


def _token_ids(tokenizer) -> dict[str, int]:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    assert all(isinstance(i, int) and i >= 256 for i in ids.values()), ids
    return ids


def build_processor(arch: Arch = "qwen3_vl"):
    """Tokenizer + tiny image/video processors (frames are resized to about 32x32 pixels)."""
    tokenizer = build_tokenizer(arch)
    if arch == "qwen3_vl":
        from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

        patch = 8
        factor = patch * 2
        image_processor = Qwen2VLImageProcessor(
            patch_size=patch,
            temporal_patch_size=2,
            merge_size=2,
            size={"shortest_edge": factor * factor, "longest_edge": 2 * factor * factor * 4},
        )
        # Qwen3-VL bounds the pixels of the whole clip (frames x height x width): 48 frames of 32x32.
        video_processor = Qwen3VLVideoProcessor(
            patch_size=patch,
            temporal_patch_size=2,
            merge_size=2,
            size={"shortest_edge": factor * factor, "longest_edge": 64 * factor * factor * 4},
            do_sample_frames=False,
            cap_pixels_per_frame=False,
        )
        return Qwen3VLProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=video_processor,
            chat_template=_chat_template(arch),
        )
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

        patch = 8
        factor = patch * 2
        image_processor = Qwen2VLImageProcessor(
            patch_size=patch,
            temporal_patch_size=2,
            merge_size=2,
            size={"shortest_edge": factor * factor, "longest_edge": factor * factor * 4},
        )
        # Qwen2.5-VL bounds the pixels of each frame: 32x32.
        video_processor = Qwen2VLVideoProcessor(
            patch_size=patch,
            temporal_patch_size=2,
            merge_size=2,
            size={"shortest_edge": factor * factor, "longest_edge": factor * factor * 4},
            do_sample_frames=False,
            cap_pixels_per_frame=False,
        )
        return Qwen2_5_VLProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=video_processor,
            chat_template=_chat_template(arch),
        )
    raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")


# Wider than the usual 0.02: with tiny widths and small weights attention is almost uniform, and the outputs
# would barely depend on positions or pixels, so tests could not tell right video inputs from wrong ones.
TINY_INIT_RANGE = 0.3


def build_config(
    arch: Arch,
    token_ids: dict[str, int],
    vocab_size: int,
    hidden: int = 16,
    layers: int = 2,
    vision_depth: int = 2,
):
    """A text model of ``layers`` layers and a vision tower of ``vision_depth`` blocks, both of width
    ``hidden``."""
    special = {
        "image_token_id": token_ids["<|image_pad|>"],
        "video_token_id": token_ids["<|video_pad|>"],
        "vision_start_token_id": token_ids["<|vision_start|>"],
        "vision_end_token_id": token_ids["<|vision_end|>"],
    }
    text = {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 32768,
        "pad_token_id": token_ids["<|endoftext|>"],
        "eos_token_id": token_ids["<|im_end|>"],
        "bos_token_id": token_ids["<|endoftext|>"],
        # Some code paths read the special ids from the text config, others from the top level.
        **special,
    }
    if arch == "qwen3_vl":
        from transformers import Qwen3VLConfig

        text.update(
            head_dim=hidden // 2,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 5e5,
                "mrope_section": _mrope_section(hidden // 2, (24, 20, 20), default=[1, 1, 2]),
                "mrope_interleaved": True,
            },
        )
        vision = {
            "depth": vision_depth,
            "hidden_size": hidden,
            "intermediate_size": 2 * hidden,
            "num_heads": 2,
            "patch_size": 8,
            "temporal_patch_size": 2,
            "spatial_merge_size": 2,
            "out_hidden_size": hidden,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [vision_depth - 1],
        }
        config = Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **special)
        return _set_init_range(config)
    from transformers import Qwen2_5_VLConfig

    text.update(
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 1e6,
            "mrope_section": _mrope_section(hidden // 2, (16, 24, 24), default=[2, 1, 1]),
        },
    )
    vision = {
        "depth": vision_depth,
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_heads": 2,
        "patch_size": 8,
        "temporal_patch_size": 2,
        "spatial_merge_size": 2,
        "window_size": 32,
        "fullatt_block_indexes": [vision_depth - 1],
        "out_hidden_size": hidden,
        "tokens_per_second": 2,
    }
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **special)
    return _set_init_range(config)


def _mrope_section(head_dim: int, released: tuple[int, int, int], default: list[int]) -> list[int]:
    """The (time, height, width) split of the rotary half-dimension, in the released model's proportions.

    M-RoPE needs the three sections to add up to ``head_dim // 2``; the width-16 models keep their
    historical split so their weights and outputs do not change.
    """
    half = head_dim // 2
    if half == sum(default):
        return list(default)
    total = sum(released)
    section = [max(1, round(half * r / total)) for r in released]
    section[0] += half - sum(section)
    return section


def _set_init_range(config):
    for sub in (config, config.text_config, config.vision_config):
        sub.initializer_range = TINY_INIT_RANGE
    return config


def _is_complete(out: Path, meta_expected: dict) -> bool:
    marker = out / _MARKER
    if not marker.is_file():
        return False
    try:
        meta = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return meta == meta_expected


def _marker(arch: str, seed: int, hidden: int, layers: int, vision_depth: int = 2) -> dict:
    meta: dict = {"arch": arch, "seed": seed, "version": TINY_VERSION}
    if (hidden, layers) != (16, 2):  # the default size keeps the marker older folders were written with
        meta.update(hidden=hidden, layers=layers)
    if vision_depth != 2:
        meta.update(vision_depth=vision_depth)
    return meta


@contextlib.contextmanager
def _without_zero3_init() -> Iterator[None]:
    """Turn off transformers' ZeRO-3 ``zero.Init`` within the block (set when accelerate launches DeepSpeed
    ZeRO-3 with ``zero3_init_flag``): the tiny model is built whole, then saved and loaded like a
    checkpoint."""
    try:
        from transformers.integrations import deepspeed as hf_deepspeed
    except ImportError:  # pragma: no cover - transformers always has it
        yield
        return
    ref = getattr(hf_deepspeed, "_hf_deepspeed_config_weak_ref", None)
    hf_deepspeed._hf_deepspeed_config_weak_ref = None
    try:
        yield
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = ref


def build_tiny_model(
    out_dir: str | Path,
    arch: Arch = "qwen3_vl",
    seed: int = 0,
    overwrite: bool = False,
    hidden: int = 16,
    layers: int = 2,
    vision_depth: int = 2,
) -> Path:
    """Build (or reuse) a tiny random Qwen-VL checkpoint that loads offline.

    Args:
        out_dir: folder to write; created if needed.
        arch: ``"qwen3_vl"`` (timestamps in the prompt, 2x2 patch merge, deepstack) or ``"qwen2_5_vl"``
            (absolute time ids in M-RoPE).
        seed: torch seed of the random initialisation.
        overwrite: rebuild even if ``out_dir`` already holds a complete tiny model of the same arch,
            seed and size.
        hidden: width of the text model and the vision tower (16 for tests; the learning bed uses 64).
        layers: number of text layers.
        vision_depth: number of vision-tower blocks (2 everywhere but the skyline checks of the learning
            bed, which ask whether a deeper tower sees what two blocks do not).

    Returns:
        The folder, ready for ``AutoProcessor.from_pretrained`` and
        ``AutoModelForImageTextToText.from_pretrained``.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")
    out = Path(out_dir)
    if hidden < 8 or hidden % 4 or layers < 1 or vision_depth < 1:
        raise ValueError(
            f"hidden must be a multiple of 4 (>= 8), layers and vision_depth >= 1; got {hidden}, {layers}, "
            f"{vision_depth}"
        )
    meta = _marker(arch, seed, hidden, layers, vision_depth)
    if not overwrite and _is_complete(out, meta):
        return out

    import torch
    from transformers import AutoModelForImageTextToText, GenerationConfig

    processor = build_processor(arch)
    tokenizer = processor.tokenizer
    ids = _token_ids(tokenizer)
    # Round the vocabulary up so the embedding matrix has a tidy shape.
    vocab_size = (len(tokenizer) + 7) // 8 * 8
    config = build_config(arch, ids, vocab_size, hidden=hidden, layers=layers, vision_depth=vision_depth)

    # Seed a private generator state so building never disturbs the caller's random stream. Whole tensors even
    # under `accelerate launch` with ZeRO-3 (zero.Init would leave empty partitions, saved as such).
    with torch.random.fork_rng(devices=[]), _without_zero3_init():
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_config(config)
    model.generation_config = GenerationConfig(
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / _MARKER).unlink(missing_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    # The marker is written last: a folder without it is an interrupted build and gets rebuilt.
    (out / _MARKER).write_text(json.dumps(meta))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videossr.tiny", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--arch", choices=ARCHS, default="qwen3_vl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=16, help="width of the text model and vision tower")
    parser.add_argument("--layers", type=int, default=2, help="number of text layers")
    parser.add_argument("--vision-depth", type=int, default=2, help="number of vision-tower blocks")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    path = build_tiny_model(
        args.out,
        arch=args.arch,
        seed=args.seed,
        overwrite=args.overwrite,
        hidden=args.hidden,
        layers=args.layers,
        vision_depth=args.vision_depth,
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
