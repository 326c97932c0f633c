"""Loading a benchmark for the harness: this project's VIUBench rows or the official verl-style rows.

Two row layouts are accepted and told apart by their columns:

* **videossr** (this project's datasets, see :mod:`videossr.rows`): ``id, prompt, videos, fps, answer,
  task, subtype, params, source, seed, generator_version``.
* **verl** (the reference release's Parquet files, as its RL trainer reads them): ``prompt`` (chat
  messages whose text holds ``<video>`` placeholders), ``videos`` (one dict per clip with the frame list
  under ``video`` and the clip's ``sample_fps``), ``reward_model.ground_truth``, ``extra_info`` and
  usually ``data_source``. :func:`verl_row_to_row` turns such a row into this project's layout, so the
  rest of the harness sees one schema.

Items are loaded lazily: :func:`load_benchmark` reads only the light columns (ids, answers, subtypes,
prompt text, fps), and each :class:`BenchItem` decodes its frames when a backend asks for them. The
random baseline therefore never decodes a frame, and a model backend decodes frames on CPU workers
while the accelerator is busy.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videossr.errors import VideoSSRError
from videossr.tasks import task_name_of_subtype
from videossr.types import Sample

VIDEO_PLACEHOLDER = "<video>"
_SPLIT_PREFERENCE = ("test", "validation", "train")


def _task_or_empty(subtype: str) -> str:
    try:
        return task_name_of_subtype(subtype)
    except ValueError:
        return ""


class BenchmarkError(VideoSSRError):
    """The benchmark data cannot be read or has an unknown layout."""


@dataclass
class BenchItem:
    """One benchmark question, with its frames decoded on demand.

    Attributes:
        id: unique id (prefixed by the config name when several configs share ids).
        task: ``anomaly_grounding``, ``object_counting`` or ``temporal_jigsaw``.
        subtype: e.g. ``grounding_mirror`` (the Table 1 column it counts towards).
        answer: the ground truth in the answer format of docs/method.md.
        fps: the clips' frame rate on the virtual timeline.
        num_videos: number of clips in the prompt (``n`` for jigsaw, 1 otherwise).
        prompt_text: the question with each clip shown as ``<video>`` (for sorting and the record).
        config: the dataset config the item came from.
        group: items with the same group have the same frame size (same source video); batching by it
            keeps padding low.
        num_frames: frames of the (first) clip when known without decoding, else the paper's 48.
    """

    id: str
    task: str
    subtype: str
    answer: str
    fps: float
    num_videos: int
    prompt_text: str
    config: str = "default"
    group: str = ""
    num_frames: int = 48
    _load: Callable[[], dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def row(self) -> dict[str, Any]:
        """The full row in this project's layout (frames decoded from storage)."""
        if self._load is None:
            raise BenchmarkError(f"item {self.id} has no frames attached")
        return self._load()

    def sample(self) -> Sample:
        """The item as a :class:`~videossr.types.Sample` with ``(T, H, W, 3)`` frame arrays."""
        from videossr.rows import row_to_sample

        sample = row_to_sample(self.row())
        # Keep the harness's subtype: verl rows get theirs inferred, and it must match the record.
        sample.subtype = self.subtype
        return sample

    @classmethod
    def from_sample(
        cls, sample: Sample, id: str | None = None, *, keep_row: bool = True, **fields: Any
    ) -> BenchItem:
        """An item for a freshly generated sample (the one way the package turns a Sample into an item).

        ``keep_row`` encodes the row once, now, so every later ``row()`` returns the same object;
        ``False`` encodes it on demand. Other ``fields`` (``config``, ``group``...) pass through.
        """
        from videossr.rows import sample_to_row

        item_id = id or f"{sample.subtype}-{sample.seed}"
        if keep_row:
            row = sample_to_row(sample, id=item_id)
            load = lambda: row  # noqa: E731
        else:
            load = lambda: sample_to_row(sample, id=item_id)  # noqa: E731
        return cls(
            id=item_id,
            task=sample.task,
            subtype=sample.subtype,
            answer=sample.answer,
            fps=float(sample.fps),
            num_videos=len(sample.videos),
            prompt_text=sample.prompt,
            num_frames=int(sample.videos[0].shape[0]) if sample.videos else 48,
            _load=load,
            **fields,
        )


@dataclass
class Benchmark:
    """The items to score plus the facts about where they came from (saved with the results)."""

    items: list[BenchItem]
    info: dict[str, Any]


# --------------------------------------------------------------------------------------------------
# The official release's verl layout
# --------------------------------------------------------------------------------------------------
_GROUNDING_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Checked in order; the specific names come before the generic words that overlap them.
    ("channel_swap", ("channel_swap", "channelswap", "channel swap", "swap_channel", "red and blue", "colour channel", "color channel", "channel")),
    ("rotate180", ("rotate180", "rotate_180", "rotated 180", "rotate 180", "180 degree", "180°", "upside down", "upside-down")),
    ("zoom_out", ("zoom_out", "zoomout", "zoom out", "zoomed out", "shrunk", "black border")),
    ("mirror", ("mirror", "horizontal flip", "flipped horizontally", "hflip", "flip")),
    ("shuffle", ("shuffle", "shuffled", "out of order", "random order", "scrambled")),
)  # fmt: skip
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
    from videossr.rows import decode_frame
    from videossr.video import fit_size, load_clip, resize_frames

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
        clip = load_clip(path, max_pixels=max_pixels)
        return clip.frames, fps if fps else clip.fps
    if frames_ref is None:
        raise BenchmarkError("a verl video entry has no 'video' frame list")
    frames = np.stack([decode_frame(_frame_ref(f, base_dir)) for f in frames_ref])
    if max_pixels:
        frames = resize_frames(frames, fit_size(frames.shape[1], frames.shape[2], int(max_pixels), None))
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


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------
def _pick_split(dataset_dict: Any, split: str | None) -> tuple[Any, str]:
    names = list(dataset_dict.keys())
    if split is not None:
        if split not in names:
            raise BenchmarkError(f"split {split!r} not found; available: {names}")
        return dataset_dict[split], split
    for name in _SPLIT_PREFERENCE:
        if name in names:
            return dataset_dict[name], name
    return dataset_dict[names[0]], names[0]


def _prompt_text(prompt: Any) -> tuple[str, int]:
    texts, videos = [], 0
    for message in prompt or []:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            videos += content.count(VIDEO_PLACEHOLDER)
            continue
        for part in content or []:
            if part.get("type") == "video":
                texts.append(VIDEO_PLACEHOLDER)
                videos += 1
            elif part.get("text"):
                texts.append(part["text"])
    return "".join(texts), videos


def _items_videossr(ds: Any, config: str) -> list[BenchItem]:
    light = [
        c
        for c in ("id", "task", "subtype", "answer", "fps", "prompt", "source", "params")
        if c in ds.column_names
    ]
    meta = ds.select_columns(light).to_list()
    return [item_from_row(row, config, lambda i=i: ds[i], default_id=f"{config}-{i}") for i, row in enumerate(meta)]


def item_from_row(
    row: dict[str, Any], config: str, load: Callable[[], dict[str, Any]], default_id: str = ""
) -> BenchItem:
    """A :class:`BenchItem` from a row in this project's layout; ``load`` gives the full row on demand."""
    text, num_videos = _prompt_text(row.get("prompt"))
    num_frames = 48
    params = row.get("params")
    if isinstance(params, str) and params:
        try:
            num_frames = int(json.loads(params).get("num_frames", 48))
        except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
            pass
    subtype = row.get("subtype") or ""
    return BenchItem(
        id=str(row.get("id", default_id)),
        task=row.get("task") or _task_or_empty(subtype),
        subtype=subtype,
        answer=str(row["answer"]),
        fps=float(row.get("fps") or 0.0),
        num_videos=max(1, num_videos),
        prompt_text=text,
        config=config,
        group=str(row.get("source", "")),
        num_frames=num_frames,
        _load=load,
    )


def _items_verl(ds: Any, config: str, base_dir: Path | None, max_pixels: int | None) -> list[BenchItem]:
    light = [
        c
        for c in ("prompt", "reward_model", "extra_info", "data_source", "ability", "videos")
        if c in ds.column_names
    ]
    items = []
    light_ds = ds.select_columns(light)
    # The frame lists are paths in the reference release (cheap to read); rows are read one at a time
    # so a release with embedded frame bytes does not have to fit in memory.
    for i in range(len(light_ds)):
        row = light_ds[i]
        answer = verl_ground_truth(row)
        messages, text = _verl_prompt(row)
        num_videos = len(row.get("videos") or [])
        subtype = infer_subtype(row, answer, num_videos, text)
        extra = row.get("extra_info") or {}
        ident = extra.get("id", extra.get("index", i)) if isinstance(extra, dict) else i

        def load(i: int = i) -> dict[str, Any]:
            return verl_row_to_row(ds[i], base_dir=base_dir, max_pixels=max_pixels, index=i)

        items.append(
            BenchItem(
                id=f"{subtype}-{ident}",
                task=task_name_of_subtype(subtype),
                subtype=subtype,
                answer=answer,
                fps=_first_fps(row.get("videos")),
                num_videos=max(1, num_videos),
                prompt_text=text,
                config=config,
                group=str(row.get("data_source", "")),
                _load=load,
            )
        )
    return items


def detect_layout(column_names: Sequence[str]) -> str:
    """``"videossr"`` or ``"verl"`` from a dataset's columns."""
    cols = set(column_names)
    if {"answer", "subtype", "videos", "prompt"} <= cols:
        return "videossr"
    if "reward_model" in cols and "prompt" in cols:
        return "verl"
    raise BenchmarkError(
        f"unknown row layout with columns {sorted(cols)}: expected this project's VIUBench rows "
        "(prompt, videos, answer, subtype, ...) or verl-style rows (prompt, videos, reward_model, extra_info)"
    )


def load_benchmark(
    data: str | os.PathLike,
    configs: Sequence[str] | None = None,
    split: str | None = None,
    limit: int | None = None,
    subtypes: Sequence[str] | None = None,
    max_pixels: int | None = 512 * 512,
) -> Benchmark:
    """Load benchmark items from a Hub-style dataset folder, a Hub id, or Parquet file(s).

    Args:
        data: a local dataset repo (``README.md`` with a ``configs:`` block and Parquet files), a Hub
            dataset id, a ``.parquet`` file, or a folder of Parquet files without a dataset card.
        configs: configs to load (all when ``None``).
        split: split to read; by default ``test``, else ``validation``, else ``train``, else the first.
        limit: keep at most this many items per subtype (the first ones in dataset order).
        subtypes: keep only these subtypes.
        max_pixels: frame area cap applied to verl rows (the paper's benchmark uses 512x512); this
            project's rows are stored at benchmark resolution already and are not resized.

    Returns:
        A :class:`Benchmark` with lazily decoded items and a description of the source.
    """
    import datasets

    path = Path(data)
    info: dict[str, Any] = {"data": str(data), "split": split, "limit": limit}
    loaded: list[tuple[str, Any, Path | None]] = []
    parquet_files: list[str] = []
    if path.is_file() and path.suffix == ".parquet":
        parquet_files = [str(path)]
    elif path.is_dir() and not (path / "README.md").is_file():
        parquet_files = sorted(str(p) for p in path.rglob("*.parquet"))
        if not parquet_files:
            raise BenchmarkError(f"{path} has neither a dataset card (README.md) nor Parquet files")
    if parquet_files:
        ds_dict = datasets.load_dataset("parquet", data_files={"test": parquet_files})
        ds, used_split = _pick_split(ds_dict, split)
        loaded.append(("default", ds, Path(parquet_files[0]).parent))
        info["configs"] = ["default"]
    else:
        try:
            available = datasets.get_dataset_config_names(str(data))
        except (ConnectionError, OSError) as err:
            raise BenchmarkError(
                f"cannot open the dataset {data!s}: {err} (a local folder must hold a dataset card with "
                "a configs: block, or Parquet files; a Hub id needs network access)"
            ) from err
        if configs:
            chosen = list(configs)
        else:
            from videossr.data.assembly import distinct_configs

            # A built folder's `default` config reads the other configs' files: loading both would
            # score every item twice.
            chosen = distinct_configs(data, list(available))
        unknown = [c for c in chosen if c not in available]
        if unknown:
            raise BenchmarkError(f"configs {unknown} not in {data}; available: {available}")
        used_split = None
        for config in chosen:
            ds_dict = datasets.load_dataset(str(data), config)
            ds, used_split = _pick_split(ds_dict, split)
            loaded.append((config, ds, path if path.is_dir() else None))
        info["configs"] = chosen
    info["split"] = used_split

    items: list[BenchItem] = []
    layouts = set()
    for config, ds, base in loaded:
        layout = detect_layout(ds.column_names)
        layouts.add(layout)
        if layout == "videossr":
            items.extend(_items_videossr(ds, config))
        else:
            items.extend(_items_verl(ds, config, base, max_pixels))
        info.setdefault("fingerprints", {})[config] = getattr(ds, "_fingerprint", None)
    info["layout"] = sorted(layouts)[0] if len(layouts) == 1 else sorted(layouts)
    if layouts == {"verl"}:
        info["max_pixels"] = max_pixels

    # Ids must be unique: several configs may reuse "row-0"-style ids.
    seen: dict[str, int] = {}
    for item in items:
        seen[item.id] = seen.get(item.id, 0) + 1
    if any(n > 1 for n in seen.values()):
        for item in items:
            item.id = f"{item.config}/{item.id}"
        if len({item.id for item in items}) != len(items):
            raise BenchmarkError("item ids are not unique, even within a config")

    if subtypes:
        wanted = set(subtypes)
        items = [it for it in items if it.subtype in wanted]
    if limit is not None:
        per: dict[str, int] = {}
        kept = []
        for item in items:
            if per.get(item.subtype, 0) < limit:
                per[item.subtype] = per.get(item.subtype, 0) + 1
                kept.append(item)
        items = kept
    if not items:
        raise BenchmarkError(
            f"no items to score in {data} (configs {info.get('configs')}, subtypes {subtypes})"
        )
    info["num_items"] = len(items)
    info["subtypes"] = {
        s: sum(1 for it in items if it.subtype == s) for s in dict.fromkeys(it.subtype for it in items)
    }
    return Benchmark(items=items, info=info)
