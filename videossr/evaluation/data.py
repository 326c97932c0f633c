"""Loading a benchmark for the harness: this project's VIUBench rows or the official verl-style rows.

Two row layouts are accepted and told apart by their columns:

* **videossr** (this project's datasets, see :mod:`videossr.rows`): ``id, prompt, videos, fps, answer,
  task, subtype, params, source, seed, generator_version``.
* **verl** (the reference release's Parquet files, as its RL trainer reads them): ``prompt`` (chat
  messages whose text holds ``<video>`` placeholders), ``videos`` (one dict per clip with the frame list
  under ``video`` and the clip's ``sample_fps``), ``reward_model.ground_truth``, ``extra_info`` and
  usually ``data_source``. :func:`videossr.evaluation.verl.verl_row_to_row` turns such a row into this
  project's layout, so the rest of the harness sees one schema.

Items are loaded lazily: :func:`load_benchmark` reads only the light columns (ids, answers, subtypes,
prompt text, fps), and each :class:`BenchItem` decodes its frames when a backend asks for them. The
random baseline therefore never decodes a frame, and a model backend decodes frames on CPU workers
while the accelerator is busy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.data.assembly import distinct_configs
from videossr.errors import BenchmarkError
from videossr.evaluation.verl import (
    VIDEO_PLACEHOLDER,
    _first_fps,
    _verl_prompt,
    infer_subtype,
    verl_ground_truth,
    verl_row_to_row,
)
from videossr.rows import row_to_sample, sample_to_row
from videossr.tasks import task_name_of_subtype
from videossr.types import Sample

_SPLIT_PREFERENCE = ("test", "validation", "train")


def _task_or_empty(subtype: str) -> str:
    try:
        return task_name_of_subtype(subtype)
    except ValueError:
        return ""


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
    return [
        item_from_row(row, config, lambda i=i: ds[i], default_id=f"{config}-{i}")
        for i, row in enumerate(meta)
    ]


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
    info: dict[str, Any] = {"data": str(data), "split": split, "limit": limit}
    loaded = _load_configs(data, configs, split, info)
    items: list[BenchItem] = []
    layouts = set()
    for config, ds, base in loaded:
        layout = detect_layout(ds.column_names)
        layouts.add(layout)
        if layout == "videossr":
            items.extend(_items_videossr(ds, config))
        else:
            items.extend(_items_verl(ds, config, base, max_pixels))
        info.setdefault("fingerprints", {})[config] = ds._fingerprint
    info["layout"] = sorted(layouts)[0] if len(layouts) == 1 else sorted(layouts)
    if layouts == {"verl"}:
        info["max_pixels"] = max_pixels
    _make_ids_unique(items)
    items = _select(items, subtypes, limit)
    if not items:
        raise BenchmarkError(
            f"no items to score in {data} (configs {info.get('configs')}, subtypes {subtypes})"
        )
    info["num_items"] = len(items)
    info["subtypes"] = {
        s: sum(1 for it in items if it.subtype == s) for s in dict.fromkeys(it.subtype for it in items)
    }
    return Benchmark(items=items, info=info)


def _load_configs(
    data: str | os.PathLike, configs: Sequence[str] | None, split: str | None, info: dict[str, Any]
) -> list[tuple[str, Any, Path | None]]:
    """``(config, dataset, folder its relative paths start from)`` for each config to score, one split
    each; records the configs and the split used in ``info``."""
    import datasets

    path = Path(data)
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
    return loaded


def _make_ids_unique(items: list[BenchItem]) -> None:
    """Ids must be unique: several configs may reuse "row-0"-style ids, which then get the config as a
    prefix."""
    seen: dict[str, int] = {}
    for item in items:
        seen[item.id] = seen.get(item.id, 0) + 1
    if any(n > 1 for n in seen.values()):
        for item in items:
            item.id = f"{item.config}/{item.id}"
        if len({item.id for item in items}) != len(items):
            raise BenchmarkError("item ids are not unique, even within a config")


def _select(items: list[BenchItem], subtypes: Sequence[str] | None, limit: int | None) -> list[BenchItem]:
    """Only ``subtypes`` (when given), and at most ``limit`` items per subtype, the first ones."""
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
    return items
