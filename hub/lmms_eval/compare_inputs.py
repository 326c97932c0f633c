r"""What a Qwen3-VL is shown per VIUBench clip: ``videossr bench`` against lmms-eval's own
``qwen3_vl`` wrapper.

A difference in frames, frame size or frame rate is a difference in the score, so this script measures
it on a real VIUBench folder (no generation beyond one token):

* **videossr bench** (``hf:``): the stored frames go to the processor as a video with their fps and
  ``do_sample_frames=False``; the processor resizes them to its patch grid. Measured with the given
  checkpoint's processor and with transformers' stock ``Qwen3VLVideoProcessor`` (the released
  Qwen3-VL settings).
* **lmms-eval ``qwen3_vl``** (simple wrapper): the task hands it the lossless clip files; it samples
  ``max_num_frames`` frames with qwen-vl-utils and resizes them within its ``min_pixels`` /
  ``max_pixels``, then keeps ``max_num_frames`` of them. Measured by recording what reaches its
  processor inside a real lmms-eval run, with the wrapper's defaults and with ``max_num_frames=48``.

Usage::

    VIUBENCH_DATA=demo_out/data/viubench python hub/lmms_eval/compare_inputs.py \
        --model demo_out/models/tiny-qwen3_vl
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path


def ours(data: str, model: str) -> dict[str, list[dict]]:
    """Per item: one record per clip of what ``videossr bench`` feeds (checkpoint and stock processors)."""
    import numpy as np
    from transformers import AutoProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    from videossr.evaluation.data import load_benchmark
    from videossr.metrics import VIUBENCH_SUBTYPES
    from videossr.types import video_metadata

    processors = {
        "checkpoint": AutoProcessor.from_pretrained(model).video_processor,
        "stock": Qwen3VLVideoProcessor(),
    }
    out: dict[str, list[dict]] = {}
    for item in load_benchmark(data, configs=list(VIUBENCH_SUBTYPES)).items:
        sample = item.sample()
        clips = []
        for clip in sample.videos:
            rec = {
                "subtype": item.subtype,
                "frames": len(clip),
                "stored": f"{clip.shape[1]}x{clip.shape[2]}",
                "fps": round(sample.fps, 4),
            }
            for name, vp in processors.items():
                enc = vp(
                    videos=[np.asarray(clip)],
                    video_metadata=[video_metadata(len(clip), sample.fps)],
                    do_sample_frames=False,
                    return_tensors="pt",
                )
                t, h, w = (int(x) for x in enc["video_grid_thw"][0])
                rec[name] = f"{t * vp.temporal_patch_size}x{h * vp.patch_size}x{w * vp.patch_size}"
            clips.append(rec)
        out[item.id] = clips
    return out


def lmms(model: str, max_num_frames: int | None) -> dict[str, list[dict]]:
    """Per item: what lmms-eval's ``qwen3_vl`` (simple) wrapper hands its processor, recorded in a real run.

    Two hooks: qwen-vl-utils' ``process_vision_info`` (to learn which clip files a batch holds) and the
    processor call (the video tensors after the wrapper's own frame selection, and whether it passes
    ``video_metadata``, which carries the frame rate the timestamps are computed from).
    """
    import lmms_eval.models.simple.qwen3_vl as wrapper_module
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    seen: dict[str, list[dict]] = defaultdict(list)
    pending: list[list[str]] = []
    original = wrapper_module.process_vision_info

    def recording(messages, *args, **kwargs):
        pending.append(
            [
                part["video"]
                for conversation in messages
                for msg in conversation
                if isinstance(msg.get("content"), list)
                for part in msg["content"]
                if isinstance(part, dict) and part.get("type") == "video"
            ]
        )
        return original(messages, *args, **kwargs)

    class Processor:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def __call__(self, *args, **kwargs):
            paths = pending.pop(0) if pending else []
            videos = kwargs.get("videos") or []
            metadata = kwargs.get("video_metadata")
            for k, (path, tensor) in enumerate(zip(paths, videos)):
                fps = None
                if metadata:
                    meta = metadata[k]
                    fps = meta.get("fps") if isinstance(meta, dict) else getattr(meta, "fps", None)
                item_id = Path(path).name.rsplit("-", 2)[0]
                seen[item_id].append(
                    {
                        "frames": int(tensor.shape[0]),
                        "fed": f"{tensor.shape[0]}x{tensor.shape[2]}x{tensor.shape[3]}",
                        "fps": "none passed" if fps is None else round(float(fps), 4),
                    }
                )
            return self._inner(*args, **kwargs)

    args = {"pretrained": model, "device": "cpu", "device_map": "cpu"}
    if max_num_frames:
        args["max_num_frames"] = max_num_frames
    lm = wrapper_module.Qwen3_VL(**args)
    lm.processor = Processor(lm.processor)
    wrapper_module.process_vision_info = recording
    try:
        simple_evaluate(
            model=lm,
            tasks=["viubench"],
            gen_kwargs="max_new_tokens=1",
            verbosity="ERROR",
            task_manager=TaskManager(include_path=str(Path(__file__).resolve().parent)),
        )
    finally:
        wrapper_module.process_vision_info = original
    return dict(seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a local Qwen3-VL checkpoint (e.g. the tiny one)")
    args = parser.parse_args(argv)
    import datasets

    datasets.disable_progress_bars()
    from videossr.evaluation.lmms import dataset_path

    data = dataset_path()
    a = ours(data, args.model)
    b = lmms(args.model, None)
    c = lmms(args.model, 48)
    print(
        "| subtype | stored clip (frames, HxW, fps) "
        "| videossr bench: checkpoint / stock Qwen3-VL processor (TxHxW) "
        "| lmms-eval qwen3_vl defaults (TxHxW, file fps) | lmms-eval qwen3_vl max_num_frames=48 |"
    )
    print("|---|---|---|---|---|")
    by_subtype: dict[str, list[str]] = {}
    for item_id, clips in a.items():
        first = clips[0]
        lb, lc = b.get(item_id, []), c.get(item_id, [])

        def fed(records: list[dict]) -> str:
            if not records:
                return "no video reached the model"
            shapes = sorted({r["fed"] for r in records})
            return f"{len(records)} clip(s): {', '.join(shapes)}, fps {records[0]['fps']}"

        row = (
            f"| {first['subtype']} | {len(clips)} x ({first['frames']}, {first['stored']}, {first['fps']}) "
            f"| {first['checkpoint']} / {first['stock']}, fps {first['fps']} | {fed(lb)} | {fed(lc)} |"
        )
        by_subtype.setdefault(first["subtype"], []).append(row)
    for rows in by_subtype.values():
        print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
