"""The dataset card (``README.md`` with its YAML ``configs:`` block) and the preview image of a build.

Both are rendered from the build report only, so they are deterministic: no dates, no local paths.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videossr.data.features import row_features
from videossr.data.report import DEFAULT_CONFIG, total_rows
from videossr.rows import decode_frame, encode_frame
from videossr.tasks import TASKS, task_name_of_subtype

TITLES = {"viubench": "VIUBench", "videossr-30k": "VideoSSR-30K"}
SHOW_SOURCES = 50


def _size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "1M<n<10M"


def _dataset_info(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's ``dataset_info`` block: features, split sizes and byte counts per config.

    Besides telling the Hub the schema and sizes, it matters locally: ``datasets`` derives the cache key
    of a local folder from the card, so without it two different builds in folders of the same name
    would share one cache entry and ``load_dataset`` could return the other build's rows.
    """
    from datasets import DatasetInfo, SplitDict, SplitInfo

    infos = []
    for name, c in report["configs"].items():
        splits = SplitDict()
        splits.add(SplitInfo(name=c["split"], num_bytes=c["num_bytes"], num_examples=c["rows"]))
        info = DatasetInfo(
            features=row_features(),
            splits=splits,
            download_size=c["download_size"],
            dataset_size=c["num_bytes"],
            config_name=name,
        )
        infos.append(
            {"config_name": name, **{k: v for k, v in info._to_yaml_dict().items() if k != "config_name"}}
        )
    return infos


def _yaml(report: dict[str, Any]) -> str:
    from huggingface_hub import DatasetCardData

    configs = []
    for name, info in report["configs"].items():
        # Configs are views: each lists the folders it reads, so no row is stored twice.
        patterns = info.get("data_files") or [f"data/{name}/{info['split']}-*.parquet"]
        entry: dict[str, Any] = {
            "config_name": name,
            "data_files": [{"split": info["split"], "path": patterns[0] if len(patterns) == 1 else patterns}],
        }
        if name == DEFAULT_CONFIG:
            entry["default"] = True
        configs.append(entry)
    total = total_rows(report)
    data = DatasetCardData(
        dataset_info=_dataset_info(report),
        pretty_name=TITLES.get(report["dataset"], report["dataset"]),
        license="other",
        task_categories=["video-text-to-text"],
        tags=["video", "self-supervised", "reinforcement-learning", "verifiable-rewards", "videossr"],
        size_categories=[_size_category(total)],
        configs=configs,
    )
    return data.to_yaml()


def _command(report: dict[str, Any]) -> str:
    r = report["recipe"]
    if r["kind"] == "viubench":
        opts = f"--per-subtype {next(iter(r['counts'].values()))}"
    else:
        total = sum(r["counts"].values())
        mix = ",".join(f"{k}={v / total:g}" for k, v in r["counts"].items())
        opts = f"--size {total} --mix {mix}"
    cmd = f"videossr build {r['kind']} --videos VIDEOS --out REPO_DIR {opts} --seed {r['seed']}"
    if r.get("image_format", "jpeg") != "jpeg":
        cmd += f" --image-format {r['image_format']}"
    if r.get("extra", {}).get("merged_from_shards"):
        cmd += (
            f" --num-shards {r['extra']['merged_from_shards']} --shard-index I  # then: videossr build merge"
        )
    return cmd


def _question(row: dict[str, Any]) -> str:
    texts = []
    for message in row["prompt"]:
        for item in message["content"]:
            texts.append(item["text"] if item["type"] == "text" else "<video>")
    text = " ".join(t.strip() for t in texts if t)
    return text if len(text) < 400 else text[:400] + " ..."


def render_card(report: dict[str, Any], preview_rows: dict[str, dict[str, Any]]) -> str:
    """The ``README.md`` of a dataset repo folder, from its build report and a few example rows."""
    kind = report["dataset"]
    title = TITLES.get(kind, kind)
    r = report["recipe"]
    side = int(round(r["max_pixels"] ** 0.5))
    v = report["videos"]
    lines = ["---", _yaml(report).strip(), "---", "", f"# {title}", ""]
    if kind == "viubench":
        lines += [
            "A video-understanding benchmark of self-supervised questions (VIUBench, from *VideoSSR: Video",
            "Self-Supervised Reinforcement Learning*): every question is made from a raw video by "
            "perturbing or",
            "rearranging its frames, so its answer is known by construction and checked by a rule.",
        ]
    else:
        lines += [
            "Verifiable RL training data made from raw videos (the VideoSSR-30K recipe of *VideoSSR: Video",
            "Self-Supervised Reinforcement Learning*): each question perturbs or rearranges the frames "
            "of a video,",
            "so its answer is known by construction and rewarded by a rule (GRPO).",
        ]
    lines += ["", "Tasks:", ""]
    # Each task describes itself, so a new task needs no edit here.
    for task in dict.fromkeys(task_name_of_subtype(s) for s in r["counts"]):
        lines.append(f"- {TASKS[task].description or task}")
    lines += [
        "",
        f"Each clip is 48 frames sampled uniformly between 5% and 95% of the source video, at most "
        f"{side}x{side} pixels (aspect ratio kept), on a virtual timeline of `fps` = 48 / source "
        "duration; all times in questions",
        "and answers use that timeline. Frames are stored as "
        f"{r.get('image_format', 'jpeg').upper()} images in the `videos` column (clips x frames).",
        "",
        "## Configs",
        "",
        "| config | split | rows |",
        "| --- | --- | ---: |",
    ]
    for name, info in report["configs"].items():
        lines.append(f"| `{name}` | {info['split']} | {info['rows']:,} |")
    parts = [n for n in report["configs"] if n != "default"]
    unit = "subtype" if kind == "viubench" else "task"
    if parts:
        lines += [
            "",
            f"Every row is stored once, in `data/<{unit}>/`: each {unit} config reads its own folder "
            "and `default`",
            f"reads all of them, one {unit} after another.",
        ]
        if kind != "viubench":
            lines[-1] += " Within a task, rows keep a fixed shuffled order;"
            lines.append("shuffle `default` (as trainers do) before taking a subset of it.")
    elif kind != "viubench":
        lines += ["", "`default` is the whole mix, shuffled, in one folder (built without per-task configs)."]
    split = next(iter(report["configs"].values()))["split"]
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("REPO_ID", split="{split}")  # every row (the default config)',
        *([f'one = load_dataset("REPO_ID", "{parts[0]}", split="{split}")  # one {unit}'] if parts else []),
        "row = ds[0]  # prompt (chat messages), videos (clips x PIL frames), fps, answer, task, subtype, ...",
        "",
        "from videossr.rows import row_to_sample",
        "sample = row_to_sample(row)  # frames as numpy arrays; sample.to_messages() for a chat template",
        "```",
        "",
        'Columns: `id`, `prompt` (chat messages; each video is a `{"type": "video"}` slot filled from '
        "`videos`),",
        "`videos`, `fps`, `answer`, `task`, `subtype`, `params` (JSON: segment, counts, permutation, ...),",
        "`source` (source video id), `seed` (per-question seed) and `generator_version`.",
        "",
        "## Preview",
        "",
        f"![one example per config: frames of its first clip]({'preview.jpg'})",
        "",
        "| config | question (shortened) | answer |",
        "| --- | --- | --- |",
    ]
    for name, row in preview_rows.items():
        q = _question(row).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{name}` | {q} | `{row['answer']}` |")
    reuse = v["max_rows_per_video"]
    lines += [
        "",
        "## How it was built",
        "",
        f"- Generator: `videossr` {report['generator_version']}; global seed {r['seed']}; "
        f"frames at most {side}x{side}, {r.get('image_format', 'jpeg')} quality {r.get('quality', 90)}.",
        f"- Command: `{_command(report)}`",
        f"- Source videos: {v['origin']}; {v['found']} found, {v['excluded']} excluded, {v['used']} used, "
        f"{v['skipped']} skipped as unusable (reasons in `build_report.json`).",
    ]
    if reuse > 1:
        lines.append(
            f"- There were fewer usable videos than questions, so videos are reused (at most {reuse} "
            "questions per video), each time with a different per-question seed; questions from one "
            "video are not independent."
        )
    else:
        lines.append("- Every question comes from a different source video.")
    lines += [
        "- Provenance: every row is regenerated exactly from (`source`, `seed`, `generator_version`) with",
        "  `videossr.data.regenerate_row(row, VIDEOS, max_pixels)`; the per-question seed is a hash of the",
        "  dataset kind, the global seed, the subtype and the row's index.",
        "",
        "Source videos (id: rows):",
        "",
    ]
    for s in report["sources"][:SHOW_SOURCES]:
        lines.append(f"- `{s['id']}`: {s['rows']}")
    if len(report["sources"]) > SHOW_SOURCES:
        lines.append(f"- ... and {len(report['sources']) - SHOW_SOURCES} more: see `build_report.json`.")
    lines += [
        "",
        "## Licence",
        "",
        "The questions and answers are generated by `videossr` (Apache-2.0). The frames come from the source",
        "videos listed above and keep their original licences; check them before redistributing.",
        "",
    ]
    return "\n".join(lines)


def _frames(row: dict[str, Any], k: int = 8) -> list[np.ndarray]:
    clips = row["videos"]
    if len(clips) > 1:  # jigsaw: the first frame of each displayed clip
        return [decode_frame(c[0]) for c in clips[:k]]
    clip = clips[0]
    idx = np.linspace(0, len(clip) - 1, k).round().astype(int)
    return [decode_frame(clip[i]) for i in idx]


def render_preview(rows: dict[str, dict[str, Any]], height: int = 72) -> bytes:
    """A JPEG contact sheet: one strip of thumbnails per config, labelled with the config and answer."""
    import cv2

    strips = []
    label_w = 230
    for name, row in rows.items():
        thumbs = []
        for f in _frames(row):
            w = max(1, int(round(f.shape[1] * height / f.shape[0])))
            thumbs.append(cv2.resize(f, (w, height), interpolation=cv2.INTER_AREA))
        strip = np.concatenate(thumbs, axis=1)
        label = np.full((height, label_w, 3), 20, np.uint8)
        cv2.putText(label, name[:24], (6, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.putText(
            label,
            f"answer {row['answer']}"[:26],
            (6, 54),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (180, 220, 255),
            1,
            cv2.LINE_AA,
        )
        strips.append(np.concatenate([label, strip], axis=1))
    width = max(s.shape[1] for s in strips)
    sheet = np.concatenate([np.pad(s, ((0, 2), (0, width - s.shape[1]), (0, 0))) for s in strips], axis=0)
    return encode_frame(sheet, "jpeg", 85)


__all__ = ["render_card", "render_preview"]
