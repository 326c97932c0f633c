"""Assembling the repo folder of a build from its job files: the layout, the Parquet shards, the card.

The layout stores every row once. Rows live in *folders* ``data/<folder>/<split>-XXXXX-of-YYYYY.parquet``
and *configs* are views over folders, through the ``data_files`` globs of the card's ``configs:`` block:

* VideoSSR-30K: one folder per task (``grounding``, ``jigsaw``, ``counting``), each in the shuffled mix
  order; the task configs read their own folder and ``default`` reads all of them, one glob per folder
  (``data/grounding/train-*.parquet``, ...). Without task configs (``task_configs=False``) the whole
  mix is one folder, ``data/default/``.
* VIUBench: one folder per subtype, a config per subtype, and ``default`` reading them all.

So ``load_dataset(REPO_DIR)`` and ``load_dataset(REPO_DIR, "grounding")`` both work, and the folder is
no bigger than its rows.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videossr.data.card import render_card, render_preview
from videossr.data.features import ROW_COLUMNS, row_schema
from videossr.data.jobs import RowLoc, atomic_write_bytes, atomic_write_text, writing
from videossr.data.plan import BuildError, Recipe, task_of
from videossr.data.report import DEFAULT_CONFIG, PREVIEW_FILE, REPORT_FILE, WORK_DIR
from videossr.data.sources import VideoSource

#: Parquet shards are cut at this many bytes of rows (deterministic: row sizes are deterministic).
MAX_SHARD_BYTES = 500 * 1024 * 1024
#: Rows per Parquet row group: small groups keep the Hub dataset viewer and random access cheap.
ROW_GROUP_ROWS = 16


@dataclass(frozen=True)
class Layout:
    """Where the rows of a recipe go in its repo folder.

    Attributes:
        folders: ``data/<folder>/`` -> (split, slot keys in row order); every slot is in exactly one.
        configs: config name -> the folders it reads (``default`` first).
        preview: preview label (a subtype) -> the slot key of its example row.
    """

    folders: dict[str, tuple[str, list[str]]]
    configs: dict[str, list[str]]
    preview: dict[str, str]


def layout(recipe: Recipe) -> Layout:
    """The :class:`Layout` of a recipe's repo folder (a pure function of the recipe)."""
    import numpy as np

    slots = recipe.slots()
    if recipe.kind == "viubench":
        by_index = sorted(slots, key=lambda s: s.index)
        folders = {sub: ("test", [s.key for s in by_index if s.subtype == sub]) for sub in recipe.counts}
        preview = {sub: keys[0] for sub, (_, keys) in folders.items()}
    else:
        # Training set: one shuffled mix. Each task's folder keeps the mix order of its rows.
        perm = np.random.default_rng([int(recipe.seed), 30_000]).permutation(len(slots))
        mixed = [slots[i].key for i in perm]
        sub_of = {s.key: s.subtype for s in slots}
        if recipe.task_configs:
            tasks = dict.fromkeys(task_of(s) for s in recipe.counts)
            folders = {t: ("train", [k for k in mixed if task_of(sub_of[k]) == t]) for t in tasks}
        else:
            folders = {DEFAULT_CONFIG: ("train", mixed)}
        preview = {sub: next(k for k in mixed if sub_of[k] == sub) for sub in recipe.counts}
    configs = {DEFAULT_CONFIG: list(folders)}
    configs.update({name: [name] for name in folders if name != DEFAULT_CONFIG})
    return Layout(folders, configs, preview)


def data_files_patterns(folders: list[str], split: str) -> list[str]:
    """The ``data_files`` globs of a config reading ``folders``, one per folder, in order.

    One glob per folder (not ``data/*/...``) fixes the row order of ``default``: the folders in config
    order, so VIUBench's ``default`` is the subtype configs one after another, as before.
    """
    return [f"data/{f}/{split}-*.parquet" for f in folders]


def distinct_configs(data: str | os.PathLike, names: list[str]) -> list[str]:
    """``names`` without a ``default`` config that only reads the other configs' files.

    A built folder's ``default`` reads every folder that its other configs read one by one; loading all
    configs would then count every row twice. Any dataset whose ``default`` reads other files (or whose
    files cannot be resolved) keeps all its configs.

    Args:
        data: a local dataset folder or a Hub id.
        names: its config names (``datasets.get_dataset_config_names``).
    """
    if DEFAULT_CONFIG not in names or len(names) < 2:
        return list(names)
    try:
        from datasets.data_files import DataFilesDict
        from datasets.load import dataset_module_factory

        module = dataset_module_factory(str(data))
        base = module.builder_kwargs.get("base_path")
        files: dict[str, set[str]] = {}
        for config in module.builder_configs_parameters.builder_configs or []:
            if config.name in names and config.data_files:
                patterns = {split: list(p) for split, p in config.data_files.items()}
                resolved = DataFilesDict.from_patterns(patterns, base_path=base)
                files[config.name] = {f"{split}:{f}" for split, fs in resolved.items() for f in fs}
    except Exception:  # noqa: BLE001 - unknown layout: load everything, as before
        return list(names)
    others = [n for n in names if n != DEFAULT_CONFIG]
    if DEFAULT_CONFIG not in files or any(n not in files for n in others):
        return list(names)
    if files[DEFAULT_CONFIG] == set().union(*(files[n] for n in others)):
        return others
    return list(names)


def _shard_bounds(sizes: list[int], max_bytes: int) -> list[tuple[int, int]]:
    bounds, start, acc = [], 0, 0
    for i, n in enumerate(sizes):
        if i > start and acc + n > max_bytes:
            bounds.append((start, i))
            start, acc = i, 0
        acc += n
    bounds.append((start, len(sizes)))
    return bounds


class _RowReader:
    """Reads single rows back from job files, keeping a few files open."""

    def __init__(self, dirs: dict[str, Path]):
        self.dirs = dirs
        self.open: dict[str, Any] = {}

    def read(self, loc: RowLoc):
        import pyarrow.parquet as pq

        key = f"{loc.part}/{loc.file}"
        if key not in self.open:
            if len(self.open) > 64:
                self.open.pop(next(iter(self.open)))
            self.open[key] = pq.ParquetFile(self.dirs[loc.part] / loc.file)
        return self.open[key].read_row_group(loc.row_group, columns=list(ROW_COLUMNS))


@dataclass
class _Written:
    files: list[str]
    rows: int
    num_bytes: int  # Arrow size of the rows
    download_size: int  # size of the Parquet files


def _write_shards(
    out: Path,
    folder_name: str,
    split: str,
    keys: list[str],
    index: dict[str, RowLoc],
    reader: _RowReader,
    tmp_dir: Path,
    max_shard_bytes: int,
) -> _Written:
    """Write the shards of one data folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = row_schema()
    bounds = _shard_bounds([index[k].nbytes for k in keys], max_shard_bytes)
    folder = out / "data" / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    written = _Written([], len(keys), 0, 0)
    for k, (a, b) in enumerate(bounds):
        name = f"{split}-{k:05d}-of-{len(bounds):05d}.parquet"
        table = pa.concat_tables([reader.read(index[key]) for key in keys[a:b]]).cast(schema)
        tmp = tmp_dir / f"{folder_name}-{name}"
        # Written outside data/ and renamed in: a half-written shard is never visible to load_dataset.
        with writing(folder / name, tmp):  # a full disk names the shard, and leaves no half-written file
            pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, compression="snappy")
            os.replace(tmp, folder / name)
        written.files.append(f"data/{folder_name}/{name}")
        written.num_bytes += table.nbytes
        written.download_size += (folder / name).stat().st_size
    for stale in folder.glob("*.parquet"):
        if f"data/{folder_name}/{stale.name}" not in written.files:
            stale.unlink()
    return written


def assemble(
    out: Path,
    recipe: Recipe,
    parts: dict[str, Path],
    index: dict[str, RowLoc],
    bad: dict[str, dict[str, str]],
    sources: list[VideoSource],
    origin: str,
    excluded: int,
    progress: bool,
    max_shard_bytes: int,
) -> dict[str, Any]:
    """Write the shards, ``build_report.json``, ``preview.jpg`` and ``README.md`` of a repo folder.

    Args:
        parts: work folder of each ``RowLoc.part`` (``{"p0": out/.build/jobs}`` for a plain build).
        index: where every row of the recipe is (slot key -> :class:`RowLoc`).

    Returns:
        The build report.
    """
    from tqdm.auto import tqdm

    plan = layout(recipe)
    missing = [k for _, keys in plan.folders.values() for k in keys if k not in index]
    if missing:
        raise BuildError(f"{len(missing)} rows are missing from the build (first: {missing[0]})")
    tmp_dir = out / WORK_DIR / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    reader = _RowReader(parts)
    written: dict[str, _Written] = {}
    for name, (split, keys) in tqdm(
        plan.folders.items(), desc="write shards", unit="folder", disable=not progress
    ):
        written[name] = _write_shards(out, name, split, keys, index, reader, tmp_dir, max_shard_bytes)
    for folder in (out / "data").iterdir():
        if folder.is_dir() and folder.name not in plan.folders:
            shutil.rmtree(folder)  # e.g. a per-config copy left by a build of the older layout
    all_folders = list(plan.folders)
    configs = {}
    for name, folders in plan.configs.items():
        split = plan.folders[folders[0]][0]
        configs[name] = {
            "split": split,
            "rows": sum(written[f].rows for f in folders),
            "data_files": data_files_patterns(folders, split),
            "files": [p for f in folders for p in written[f].files],
            "num_bytes": sum(written[f].num_bytes for f in folders),
            "download_size": sum(written[f].download_size for f in folders),
        }
    used = Counter(loc.source for loc in index.values())
    report = {
        "dataset": recipe.kind,
        "generator_version": recipe.generator_version,
        "recipe": recipe.to_dict() | {"shard_index": 0},
        "videos": {
            "origin": origin,
            "found": len(sources) + excluded,
            "excluded": excluded,
            "used": len(used),
            "skipped": len(bad),
            "max_rows_per_video": max(used.values()) if used else 0,
        },
        "configs": configs,
        "files": [p for f in all_folders for p in written[f].files],
        "skipped": [{"id": k, **bad[k]} for k in sorted(bad)],
        "sources": [{"id": k, "rows": used[k]} for k in sorted(used)],
    }
    preview_rows = {label: reader.read(index[key]).to_pylist()[0] for label, key in plan.preview.items()}
    atomic_write_bytes(out / PREVIEW_FILE, render_preview(preview_rows))
    atomic_write_text(out / REPORT_FILE, json.dumps(report, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out / "README.md", render_card(report, preview_rows))
    return report
