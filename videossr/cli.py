"""The ``videossr`` console script.

Each feature area registers its own sub-commands through a ``register(subparsers)`` function, so the
command line grows with the package without one file knowing every option. Modules are imported only
when the CLI starts, and each keeps its heavy imports inside the command handlers.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute sub-commands, in the order they appear in ``videossr --help``.
COMMAND_MODULES = (
    "videossr.commands",  # generate, score, videos
    "videossr.data.cli",  # build, publish
    "videossr.evaluation.cli",  # bench, compare
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videossr",
        description="Self-supervised, verifiable RL data from raw videos (VideoSSR).",
    )
    from videossr import __version__

    parser.add_argument("--version", action="version", version=f"videossr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            # An optional area whose extra is not installed: its commands are simply absent.
            if err.name and err.name.startswith("videossr"):
                continue
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI reports errors, never tracebacks
        from videossr.errors import VideoSSRError

        if isinstance(err, (VideoSSRError, FileNotFoundError, ValueError)):
            print(f"error: {err}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
