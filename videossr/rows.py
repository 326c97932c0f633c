"""The dataset row schema shared by the Hub datasets, the benchmark harness, training and the Space.

A row is a plain dict::

    id: str                      unique within a dataset, e.g. "grounding_mirror-000042"
    prompt: list[message]        chat messages; video slots are {"type": "video", "text": None}
    videos: list[list[image]]    clips x frames (one clip for grounding/counting, n for jigsaw)
    fps: float                   frame rate of every clip on the virtual timeline
    answer: str                  ground truth in the answer format of docs/method.md
    task, subtype: str
    params: str                  JSON of the generation parameters (segment, counts, permutation...)
    source: str                  id of the source video
    seed: int                    per-sample seed
    generator_version: str       package version that generated it

Frames are stored encoded (JPEG by default, PNG for lossless) as ``{"bytes": ..., "path": None}``,
which the ``datasets`` ``Image`` feature stores as-is in Parquet.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any, Literal

import numpy as np

from videossr.types import Sample

ImageFormat = Literal["jpeg", "png"]


def encode_frame(frame: np.ndarray, fmt: ImageFormat = "jpeg", quality: int = 90) -> bytes:
    """Encode one RGB frame; deterministic for a given input and settings."""
    import cv2

    bgr = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)  # ~40x faster than a reversed copy
    if fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise RuntimeError("could not encode frame")
    return buf.tobytes()


#: The largest frame file read from a row's ``{"path": ...}`` (a 512x512 PNG is well under 1 MB).
MAX_FRAME_FILE_BYTES = 64 * 1024 * 1024


def _read_frame_file(path: str) -> bytes:
    """The bytes of a frame a dataset row names by path, with the limits of every user-named read: a
    regular file only (a FIFO or a device named by a row could hang or flood the reader), bounded size."""
    from videossr.video import file_problem

    problem = file_problem(path)
    if problem is not None:
        raise ValueError(f"frame file {path}: {problem[1]}")
    with open(path, "rb") as fh:
        data = fh.read(MAX_FRAME_FILE_BYTES + 1)
    if len(data) > MAX_FRAME_FILE_BYTES:
        raise ValueError(f"frame file {path}: larger than {MAX_FRAME_FILE_BYTES // 2**20} MB")
    return data


def decode_frame(image: Any) -> np.ndarray:
    """An RGB uint8 array from a PIL image, a ``{"bytes", "path"}`` dict, raw bytes, or an array."""
    if isinstance(image, np.ndarray):
        return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1)
    if isinstance(image, dict):
        if image.get("bytes") is not None:
            image = image["bytes"]
        elif image.get("path"):
            image = _read_frame_file(image["path"])
    if isinstance(image, (bytes, bytearray, memoryview)):
        import cv2

        arr = cv2.imdecode(np.frombuffer(bytes(image), dtype=np.uint8), cv2.IMREAD_COLOR)
        if arr is None:
            raise ValueError("undecodable frame bytes")
        return np.ascontiguousarray(arr[..., ::-1])
    # PIL image (or anything with .convert)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def prompt_messages(sample: Sample) -> list[dict[str, Any]]:
    """The stored form of the prompt: chat messages with video placeholders.

    Every content part carries both keys (``type``, ``text``) so Arrow infers one struct type.
    """
    content = [
        {"type": "text", "text": p} if isinstance(p, str) else {"type": "video", "text": None}
        for p in sample.parts
    ]
    messages = [{"role": "user", "content": content}]
    if sample.system:
        messages.insert(0, {"role": "system", "content": [{"type": "text", "text": sample.system}]})
    return messages


def row_system(row: dict[str, Any]) -> str:
    """The text of a row's system turn, ``""`` when it has none (rows built before version 0.2)."""
    for message in row.get("prompt") or []:
        if message.get("role") == "system":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "".join(item.get("text") or "" for item in content or [] if item.get("type") == "text")
    return ""


def sample_to_row(
    sample: Sample,
    id: str | None = None,
    image_format: ImageFormat = "jpeg",
    quality: int = 90,
    generator_version: str | None = None,
) -> dict[str, Any]:
    """A dataset row (see the module docstring) from a generated sample."""
    if generator_version is None:
        from videossr import __version__ as generator_version
    return {
        "id": id or f"{sample.subtype}-{sample.seed}",
        "prompt": prompt_messages(sample),
        "videos": [
            [{"bytes": encode_frame(f, image_format, quality), "path": None} for f in clip]
            for clip in sample.videos
        ],
        "fps": float(sample.fps),
        "answer": sample.answer,
        "task": sample.task,
        "subtype": sample.subtype,
        "params": sample.params_json(),
        "source": sample.source,
        "seed": int(sample.seed),
        "generator_version": str(generator_version),
    }


def question_key(row: dict[str, Any]) -> tuple[str, str]:
    """What makes two rows the same question: the source video's file name and the generation parameters.

    The difficulty a row was drawn at is left out (it steers the draw; the same segment asked at two
    levels is one question), and so is the folder the video sat in.

    Example:
        >>> question_key({"source": "/videos/a.mp4", "params": '{"segment": [3, 9], "difficulty": 0.4}'})
        ('a.mp4', '{"segment": [3, 9]}')
    """
    params = row["params"]
    params = json.loads(params) if isinstance(params, str) else dict(params)
    params.pop("difficulty", None)
    return PurePath(str(row["source"])).name, json.dumps(params, sort_keys=True)


def row_videos(row: dict[str, Any]) -> list[np.ndarray]:
    """The clips of a row as ``(T, H, W, 3)`` uint8 arrays, whatever form the frames are stored in."""
    out = []
    for clip in row["videos"]:
        if isinstance(clip, np.ndarray) and clip.ndim == 4:
            out.append(clip.astype(np.uint8, copy=False))
        else:
            out.append(np.stack([decode_frame(f) for f in clip]))
    return out


def row_parts(row: dict[str, Any]) -> list[str | int]:
    """The ``Sample.parts`` of a row's prompt: text chunks and video indices in order."""
    parts: list[str | int] = []
    k = 0
    for message in row["prompt"]:
        if message.get("role") != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            parts.append(content)
            continue
        for item in content:
            if item.get("type") == "video":
                parts.append(k)
                k += 1
            elif item.get("text") is not None:
                parts.append(item["text"])
    return parts


def row_to_sample(row: dict[str, Any]) -> Sample:
    """A :class:`Sample` back from a row (frames decoded)."""
    params = row.get("params") or {}
    if isinstance(params, str):
        params = json.loads(params) if params else {}
    return Sample(
        task=row["task"],
        subtype=row.get("subtype", ""),
        parts=row_parts(row),
        answer=row["answer"],
        videos=row_videos(row),
        fps=float(row["fps"]),
        params=params,
        source=row.get("source", ""),
        seed=int(row.get("seed", 0) or 0),
        system=row_system(row),
    )


__all__ = [
    "sample_to_row",
    "row_to_sample",
    "row_videos",
    "row_parts",
    "row_system",
    "prompt_messages",
    "encode_frame",
    "decode_frame",
]
