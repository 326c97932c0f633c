"""``videossr build viubench|videossr-30k|merge`` and ``videossr publish``."""

from __future__ import annotations

import argparse
import json
import sys


def _common(p: argparse.ArgumentParser) -> None:
    from videossr.cli import int_in, nonnegative_float, nonnegative_int, out_path, positive_int, seed_int

    p.add_argument(
        "--videos",
        required=True,
        help="folder of source videos (searched recursively), or 'default' / '@samples' for the sample "
        "videos shipped by installed packages",
    )
    p.add_argument(
        "--out",
        required=True,
        type=out_path,
        help="the dataset repo folder to write (resumed if it holds an unfinished build)",
    )
    p.add_argument("--seed", type=seed_int, default=0, help="global seed (default 0)")
    p.add_argument(
        "--num-proc", type=positive_int, default=1, help="worker processes; the output does not depend on it"
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="FILE_OR_DIR",
        help="leave these videos out: a built dataset folder (its sources), a text file of ids / file names, "
        "or a folder of videos; repeatable",
    )
    p.add_argument(
        "--num-shards", type=positive_int, default=1, help="split the build across K machines (default 1)"
    )
    p.add_argument(
        "--shard-index", type=nonnegative_int, default=0, help="which of the K parts this run builds"
    )
    p.add_argument(
        "--image-format", choices=["jpeg", "png"], default="jpeg", help="frame encoding (default jpeg)"
    )
    p.add_argument("--quality", type=int_in(1, 100), default=90, help="JPEG quality, 1 to 100 (default 90)")
    p.add_argument("--overwrite", action="store_true", help="wipe what --out holds instead of resuming")
    p.add_argument("--keep-work", action="store_true", help="keep the per-job work files in --out/.build")
    p.add_argument(
        "--decode-timeout",
        type=nonnegative_float,
        default=300.0,
        help="seconds allowed to decode one video, in an isolated child process (default 300); 0 decodes "
        "in the worker itself, a little faster, for trusted videos",
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="where the per-video work runs: 'local' (--num-proc processes) or 'ray' (tasks on the Ray "
        "cluster at --address, else a local cluster of --num-proc CPUs); the output is the same bytes "
        "either way",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster to run on with --engine ray ('auto', 'ray://HEAD:10001', 'HOST:6379'; default: "
        "RAY_ADDRESS, else a local cluster)",
    )
    p.add_argument(
        "--push-to-hub",
        default=None,
        metavar="ORG/NAME",
        help="when the build is done, upload the folder to this Hub dataset repo (as `videossr publish`)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _check_out(args: argparse.Namespace) -> None:
    from pathlib import Path

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")


def _check_shards(args: argparse.Namespace) -> None:
    _check_out(args)
    # --num-shards and --num-proc are checked by their argparse types; only the pair needs checking here.
    if args.shard_index >= args.num_shards:
        raise ValueError(f"--shard-index must be in [0, {args.num_shards - 1}]")


def _finish(result, args: argparse.Namespace) -> int:
    summary = {
        "out": str(result.out),
        "rows": result.rows,
        "configs": result.configs,
        "skipped_videos": {k: v["reason"] for k, v in result.skipped.items()},
        "seconds": round(result.seconds, 1),
    }
    if not result.complete:
        summary["next"] = (
            "part done; when every --shard-index is built: videossr build merge --out REPO_DIR PART_DIRS..."
        )
    print(json.dumps(summary, indent=2))
    return 0


def _run_build(recipe, args: argparse.Namespace) -> int:
    from videossr.data.build import build_dataset

    # Refused before the build, not after hours of it.
    if args.push_to_hub and args.num_shards > 1:
        raise ValueError("--push-to-hub uploads a whole build: merge the parts, then run `videossr publish`")
    if args.push_to_hub and (args.push_to_hub.count("/") != 1 or not all(args.push_to_hub.split("/"))):
        raise ValueError(f"--push-to-hub must look like ORG/NAME, got {args.push_to_hub!r}")
    if args.address and args.engine != "ray":
        raise ValueError("--address needs --engine ray")
    result = build_dataset(
        recipe,
        args.videos,
        args.out,
        num_proc=args.num_proc,
        exclude=args.exclude,
        overwrite=args.overwrite,
        keep_work=args.keep_work,
        progress=not args.quiet,
        decode_timeout=args.decode_timeout or None,
        engine=args.engine,
        address=args.address,
    )
    code = _finish(result, args)
    if args.push_to_hub:
        from videossr.data.publish import publish

        print(json.dumps(publish(result.out, args.push_to_hub), indent=2))
    return code


def cmd_build_viubench(args: argparse.Namespace) -> int:
    from videossr.data.build import viubench_recipe

    _check_shards(args)
    recipe = viubench_recipe(
        per_subtype=args.per_subtype,
        seed=args.seed,
        image_format=args.image_format,
        quality=args.quality,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
    )
    return _run_build(recipe, args)


def cmd_build_30k(args: argparse.Namespace) -> int:
    from videossr.data.build import videossr30k_recipe

    _check_shards(args)
    recipe = videossr30k_recipe(
        size=args.size,
        seed=args.seed,
        mix=args.mix,
        image_format=args.image_format,
        quality=args.quality,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        task_configs=not args.no_task_configs,
    )
    return _run_build(recipe, args)


def cmd_merge(args: argparse.Namespace) -> int:
    from videossr.data.build import merge

    _check_out(args)
    result = merge(args.parts, args.out, progress=not args.quiet)
    return _finish(result, args)


def cmd_publish(args: argparse.Namespace) -> int:
    from videossr.data.publish import check_repo_folder, publish

    if args.dry_run:
        files = check_repo_folder(args.folder)
        print(json.dumps({"repo_id": args.repo_id, "private": args.private, "files": files}, indent=2))
        return 0
    result = publish(
        args.folder, args.repo_id, private=args.private, token=args.token, revision=args.revision
    )
    print(json.dumps(result, indent=2))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from videossr.data.summary import main

    return main(args.folders)


#: The largest builds the parser accepts. The plan holds every row's slot in memory (about 270 MB per
#: million rows) before any video is decoded, so an absurd size must be refused here, not end in a
#: MemoryError after the build folder was started. Both are far beyond the paper's 30K and 9 x 300.
MAX_ROWS = 1_000_000
MAX_PER_SUBTYPE = 100_000


def _rows_up_to(high: int):
    """A ``type=`` validator: a whole number of rows from 1 to ``high``."""
    from videossr.cli import positive_int

    def parse(text: str) -> int:
        value = positive_int(text)  # "at least 1" for 0 or less, as every count option says
        if value > high:
            raise argparse.ArgumentTypeError(
                f"must be at most {high:,}, got {value:,} (the build plans every row in memory first)"
            )
        return value

    parse.__name__ = "integer"
    return parse


def register(subparsers) -> None:
    from videossr.cli import out_path

    build = subparsers.add_parser(
        "build", help="build a Hub dataset repo folder (VIUBench, VideoSSR-30K) from videos"
    )
    kinds = build.add_subparsers(dest="dataset", metavar="DATASET")
    build.set_defaults(func=lambda _args: (build.print_help(sys.stderr), 2)[1])

    p = kinds.add_parser("viubench", help="the VIUBench benchmark: 9 subtypes, test split, frames <=512x512")
    _common(p)
    p.add_argument(
        "--per-subtype",
        type=_rows_up_to(MAX_PER_SUBTYPE),
        default=300,
        help=f"questions per subtype, 1 to {MAX_PER_SUBTYPE:,} (default 300)",
    )
    p.set_defaults(func=cmd_build_viubench)

    p = kinds.add_parser(
        "videossr-30k", help="the VideoSSR-30K training set: a mix of tasks, train split, <=256x256"
    )
    _common(p)
    p.add_argument(
        "--size",
        type=_rows_up_to(MAX_ROWS),
        default=30000,
        help=f"rows in total, 1 to {MAX_ROWS:,} (default 30000)",
    )
    p.add_argument(
        "--mix",
        default=None,
        help="subtype=fraction,... (e.g. grounding_shuffle=0.5,jigsaw_hard=0.5); a subtype@level sets the "
        "difficulty knob in [0, 1] (grounding_mirror@0.7, counting@0.3, jigsaw@0.9); default: the "
        "paper's mix (grounding 40%% over channel_swap/rotate180/zoom_out/mirror, jigsaw_easy 40%%, "
        "counting_easy 20%%)",
    )
    p.add_argument(
        "--no-task-configs",
        action="store_true",
        help="no per-task configs: the whole mix in one shuffled folder, data/default/ (same disk "
        "either way)",
    )
    p.set_defaults(func=cmd_build_30k)

    p = kinds.add_parser("merge", help="assemble the parts of a sharded build into one repo folder")
    p.add_argument("parts", nargs="+", help="the --out folders of every --shard-index")
    p.add_argument("--out", required=True, type=out_path, help="the repo folder to write")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_merge)

    p = subparsers.add_parser(
        "dataset-info", help="load built dataset folders with load_dataset and summarise them"
    )
    p.add_argument("folders", nargs="+", help="repo folders made by `videossr build`")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser("publish", help="upload a built dataset repo folder to the Hugging Face Hub")
    p.add_argument("folder", help="a folder made by `videossr build`")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repo")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    p.add_argument("--revision", default=None, help="branch to upload to")
    p.add_argument("--dry-run", action="store_true", help="check the folder and list what would be uploaded")
    p.set_defaults(func=cmd_publish)
