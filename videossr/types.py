"""Core data types shared by every part of the package: a decoded clip and a generated sample."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

VIDEO_TOKEN = "<video>"


@dataclass
class Clip:
    """A video sampled the paper's way: ``num_frames`` frames on a virtual timeline.

    Attributes:
        frames: ``uint8`` array of shape ``(T, H, W, 3)``, already resized when ``max_pixels`` was given.
        fps: the paper's ``sample_fps = T / full_duration_seconds``; frame ``i`` is shown at ``i / fps``.
        source: path or id of the source video.
        frame_indices: indices of the kept frames in the source video.
        source_fps: the container's average frame rate.
        duration: full duration of the source video in seconds.
        num_source_frames: number of frames in the source video.
        source_size: ``(height, width)`` of the source video before resizing; ``(0, 0)`` when unknown.
            Perturbations with a pixel-scale parameter (noise, blur) use it to act as strongly as they
            would on the source frames.
    """

    frames: np.ndarray
    fps: float
    source: str
    frame_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    source_fps: float = 0.0
    duration: float = 0.0
    num_source_frames: int = 0
    source_size: tuple[int, int] = (0, 0)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the frames."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    def video_metadata(self) -> dict[str, Any]:
        """Metadata in the form transformers' video processors expect (``do_sample_frames=False``)."""
        return video_metadata(self.num_frames, self.fps)


def video_metadata(num_frames: int, fps: float) -> dict[str, Any]:
    """transformers ``VideoMetadata`` fields for a clip of ``num_frames`` frames shown at ``fps``."""
    return {
        "total_num_frames": int(num_frames),
        "fps": float(fps),
        "duration": float(num_frames / fps) if fps else 0.0,
        "frames_indices": list(range(int(num_frames))),
    }


@dataclass
class Sample:
    """One generated question with its verifiable answer.

    Attributes:
        task: task name (a key of ``videossr.TASKS``).
        subtype: benchmark-style subtype, e.g. ``"grounding_mirror"``, ``"counting_easy"``, ``"jigsaw_hard"``.
        parts: the user turn in order: ``str`` text chunks and ``int`` indices into ``videos``.
        answer: ground truth in the answer format of docs/method.md.
        videos: frame arrays ``(T, H, W, 3)``: one for grounding/counting, ``n`` clips for jigsaw.
        fps: frame rate of every video in ``videos`` on the virtual timeline.
        params: JSON-able generation parameters (segment, counts, permutation, perturbation...).
        source: id of the source video.
        seed: the per-sample seed.
        system: the system turn sent with the question (every task sets one: "answer directly").
    """

    task: str
    subtype: str
    parts: list[str | int]
    answer: str
    videos: list[np.ndarray]
    fps: float
    params: dict[str, Any]
    source: str = ""
    seed: int = 0
    system: str = ""

    @property
    def prompt(self) -> str:
        """The question as plain text, each video shown as ``<video>``."""
        return "".join(p if isinstance(p, str) else VIDEO_TOKEN for p in self.parts)

    def to_messages(
        self, videos: Literal["array", "none"] = "array", system: str | None = None
    ) -> list[dict[str, Any]]:
        """Chat messages in the transformers / TRL conversational format.

        With ``videos="array"`` each video entry carries its frames (``"video"``) and ``"fps"``; with
        ``"none"`` it is a bare ``{"type": "video"}`` placeholder, the form stored in datasets where the
        frames live in a separate ``videos`` column. ``system`` overrides the sample's own system turn
        (``""`` sends none).
        """
        system = self.system if system is None else system
        content: list[dict[str, Any]] = []
        for part in self.parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
            elif videos == "array":
                content.append({"type": "video", "video": self.videos[part], "fps": self.fps})
            else:
                content.append({"type": "video"})
        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
        messages.append({"role": "user", "content": content})
        return messages

    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True)
