"""Core CLI commands: ``generate``, ``score`` and ``videos``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def _task_options() -> dict[str, dict]:
    """The options every registered task declares (``Task.options``), merged by keyword for the CLI.

    Returns ``{keyword: {"choices": [...] or None, "tasks": [task names], "help": str}}``.
    """
    from videossr.tasks import TASKS

    merged: dict[str, dict] = {}
    for name, cls in TASKS.items():
        for key, (choices, text) in cls.options.items():
            entry = merged.setdefault(key, {"choices": [], "tasks": [], "help": []})
            if choices is None:
                entry["choices"] = None
            elif entry["choices"] is not None:
                entry["choices"] += [c for c in choices if c not in entry["choices"]]
            entry["tasks"].append(name)
            entry["help"].append(f"{cls.short}: {text}")
    return {k: {**v, "help": "; ".join(v["help"])} for k, v in merged.items()}


def _task_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments of the chosen task: its own options that were given, checked to apply."""
    from videossr.tasks import task_class

    cls = task_class(args.task)
    kw: dict = {}
    for key in _task_options():
        value = getattr(args, key, None)
        if value is None:
            continue
        # Every task has the difficulty knob (videossr.tasks.base), declared among its options or not.
        if key not in cls.options and key != "difficulty":
            takes = ", ".join(f"--{k.replace('_', '-')}" for k in cls.options) or "no options"
            raise ValueError(f"--{key.replace('_', '-')} does not apply to {cls.name} (it takes {takes})")
        kw[key] = value
    if getattr(args, "reasoning", False):
        kw["reasoning"] = True
    return kw


def difficulty_value(text: str) -> str | float:
    """``--difficulty``: ``easy`` or ``hard`` as given (the paper's settings), else a number in ``[0, 1]``."""
    from videossr.tasks import NAMED_DIFFICULTIES, parse_difficulty

    if text in NAMED_DIFFICULTIES:
        return text
    # float() also reads other scripts' digits ("٠.٥", "０.５"); --seed and every other number of the CLI
    # refuse them, and so does this one.
    if not text.isascii():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1] (digits 0-9) nor easy/hard")
    try:
        # + 0.0 turns -0.0 (from "-0", "-0.0", "-1e-400") into 0.0: the rows are labelled "@0", not "@-0".
        return parse_difficulty(text) + 0.0
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def difficulty_help() -> str:
    """The ``--difficulty`` help: the named points and each task's mapping of the knob."""
    from videossr.tasks import TASKS

    maps = "; ".join(cls.difficulty_help for cls in TASKS.values() if cls.difficulty_help)
    text = (
        f"easy (= 0.5, the paper's default setting), hard (= 0.75) or a number in [0, 1], 0 easiest. {maps}"
    )
    return text.replace("%", "%%")  # argparse formats help strings with %


#: The clip names a sample folder holds (``clip.mp4``, ``clip_1.mp4``...): the only files of an older
#: sample that a new one replaces or removes.
_CLIP_NAME = r"clip(_[0-9]{1,4})?\.mp4"


def _save_replacing(sample, out_dir, save) -> Path:
    """Write ``sample`` into ``out_dir`` whole, replacing the sample it may already hold.

    The new sample is written completely into a staging folder inside ``out_dir`` first (``save``, i.e.
    :func:`videossr.export.save_sample`, leaves nothing on error): a full disk fails there and leaves the
    old sample as it was. Only then is it moved in, by renames on the same file system, which need no
    space: the old ``sample.json`` goes first, the new clips next, the new ``sample.json`` last, so at no
    point does a ``sample.json`` describe clips it was not made with. Clips of the old sample that the new
    one does not have (a 4-clip jigsaw replaced by a 3-clip one) are removed.
    """
    import re
    import shutil
    import tempfile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".generate-", dir=out_dir))
    try:
        save(sample, stage)
        new = list(json.loads((stage / "sample.json").read_text())["videos"])
        record = out_dir / "sample.json"
        old: list[str] = []
        try:
            old = [str(v) for v in json.loads(record.read_text()).get("videos", [])]
        except (OSError, ValueError, AttributeError, TypeError):
            pass
        record.unlink(missing_ok=True)
        for name in new:
            os.replace(stage / name, out_dir / name)
        for name in old:
            if name not in new and re.fullmatch(_CLIP_NAME, name):
                (out_dir / name).unlink(missing_ok=True)
        os.replace(stage / "sample.json", record)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out_dir


def cmd_generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm.auto import tqdm

    from videossr import get_task, load_clip
    from videossr.export import save_sample

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} exists and is not a folder")
    task = get_task(args.task, **_task_kwargs(args))
    max_pixels = None if args.max_pixels == 0 else args.max_pixels
    steps = tqdm(total=3, desc="generate", unit="step", disable=args.quiet)
    clip = load_clip(args.video, num_frames=args.num_frames, max_pixels=max_pixels)
    other = (
        load_clip(args.other_video, num_frames=args.num_frames, max_pixels=max_pixels)
        if args.other_video
        else None
    )
    steps.update()
    sample = task.generate(clip, seed=args.seed, other=other)
    steps.update()
    out = _save_replacing(sample, out_dir, save_sample)
    steps.update()
    steps.close()
    print(json.dumps({"out": str(out), "subtype": sample.subtype, "answer": sample.answer}, indent=2))
    if args.show_prompt:
        print(sample.prompt)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from videossr import get_task

    task = get_task(args.task)
    result = {
        "reward": task.reward(args.completion, args.answer, args.mode),
        "strict01": task.strict_reward(args.completion, args.answer, args.mode),
        "score": task.score(args.completion, args.answer, args.mode),
        "mode": args.mode,
    }
    print(json.dumps(result, indent=2))
    return 0


def cmd_videos(args: argparse.Namespace) -> int:
    from videossr.video import sample_videos

    for path in sample_videos():
        print(path)
    return 0


def cmd_space(args: argparse.Namespace) -> int:
    """Serve the Gradio app of the repository checkout (``space/app.py``).

    The app is not part of the installed package (it deploys as a Hugging Face Space on its own), so
    the command looks for it next to the package in a source checkout.
    """
    import os
    import sys
    from pathlib import Path

    import videossr

    app = Path(videossr.__file__).resolve().parents[1] / "space" / "app.py"
    if not app.is_file():
        raise FileNotFoundError(
            f"{app} not found: `videossr space` runs the app from a source checkout (pip install -e .)"
        )
    env = dict(os.environ, GRADIO_SERVER_NAME=args.host, GRADIO_SERVER_PORT=str(args.port))
    # Replace this process rather than wrap it, so signals (Ctrl-C, SIGTERM) reach the server itself.
    os.execve(sys.executable, [sys.executable, str(app)], env)
    return 0  # not reached


def register(subparsers) -> None:
    from videossr.cli import int_in, max_pixels_int, out_path, port_int, positive_int, seed_int
    from videossr.tasks import TASKS, aliases

    # Read from the registry now (not the import-time ALIASES snapshot), so a task registered later counts.
    task_names = sorted(TASKS) + sorted(aliases())

    p = subparsers.add_parser("generate", help="generate one pretext-task sample from a video")
    p.add_argument("--task", required=True, choices=task_names)
    # One flag per task option (Task.options): a new task's options appear here by themselves.
    for key, info in _task_options().items():
        choices = info["choices"]
        kind: dict = {}
        if key == "difficulty":
            # The named settings (easy, hard) or any point of the knob in [0, 1], for every task.
            kind["type"] = difficulty_value
            kind["metavar"] = "{easy,hard,0..1}"
            info = {**info, "help": difficulty_help()}
        elif choices and all(isinstance(c, int) for c in choices):
            kind["type"] = int_in(min(choices), max(choices))  # numbers: a range, checked by the parser
        elif choices:
            kind["choices"] = sorted(map(str, choices))
        p.add_argument(f"--{key.replace('_', '-')}", dest=key, help=info["help"], **kind)
    p.add_argument("--video", required=True, help="source video file")
    p.add_argument("--other-video", help="second video (the 'swap' perturbation)")
    p.add_argument("--seed", type=seed_int, default=0, help="a whole number >= 0 (default 0)")
    p.add_argument(
        "--num-frames", type=positive_int, default=48, help="frames kept from the video (default 48)"
    )
    p.add_argument(
        "--max-pixels",
        type=max_pixels_int,
        default=256 * 256,
        help="largest frame area (default 65536); 0 keeps full size",
    )
    p.add_argument("--reasoning", action="store_true", help="ask for <think>/<answer> replies")
    p.add_argument("--out", required=True, type=out_path, help="output folder (clip mp4s + sample.json)")
    p.add_argument("--show-prompt", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_generate)

    p = subparsers.add_parser("score", help="score a reply against a ground-truth answer")
    p.add_argument("--task", required=True, choices=task_names)
    p.add_argument("--answer", required=True)
    p.add_argument("--completion", required=True)
    p.add_argument("--mode", choices=["strict", "lenient"], default="strict")
    p.set_defaults(func=cmd_score)

    p = subparsers.add_parser("space", help="serve the Gradio app (space/app.py of a source checkout)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_int, default=7860)
    p.set_defaults(func=cmd_space)

    p = subparsers.add_parser("videos", help="list the sample videos shipped by installed packages")
    p.set_defaults(func=cmd_videos)
