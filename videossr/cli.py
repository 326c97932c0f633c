"""The ``videossr`` console script.

Each feature area registers its own sub-commands through a ``register(subparsers)`` function, so the
command line grows with the package without one file knowing every option. Modules are imported only
when the CLI starts, and each keeps its heavy imports inside the command handlers.

Numeric options are checked by the parser itself with the ``type=`` validators below, so a value that
cannot work (``--num-frames 0``, ``--quality 500``) is refused with argparse's one-line usage error
before any work starts. Errors met while running are printed as one ``error:`` line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Callable

# Modules that contribute sub-commands, in the order they appear in ``videossr --help``. Their top level
# imports only the standard library, so an import error here is a real bug: it is not caught.
COMMAND_MODULES = (
    "videossr.commands",  # generate, score, videos, space
    "videossr.data.cli",  # build, publish
    "videossr.evaluation.cli",  # bench, compare
)


# --------------------------------------------------------------------------------------------------
# Argument validators (``type=`` callables): they raise ArgumentTypeError, which argparse prints as
# "argument --x: <message>" with the usage line and exit status 2.
# --------------------------------------------------------------------------------------------------
def int_in(low: int | None = None, high: int | None = None, *, what: str = "") -> Callable[[str], int]:
    """A validator for whole numbers in ``[low, high]`` (either end open when ``None``).

    Args:
        low: the smallest accepted value.
        high: the largest accepted value.
        what: an extra hint appended to the error (e.g. ``"0 keeps full size"``).
    """

    def parse(text: str) -> int:
        # int() also reads other scripts' digits ("٣" is 3, "１２" is 12); a number typed for this CLI is
        # ASCII, and anything else is refused rather than silently read as some other number.
        if not text.isascii():
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (digits 0-9)")
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                bound = f"at least {low}"
            elif low is None:
                bound = f"at most {high}"
            else:
                bound = f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}{f' ({what})' if what else ''}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def float_in(low: float | None = None, high: float | None = None) -> Callable[[str], float]:
    """A validator for finite numbers in ``[low, high]``; ``nan`` and ``inf`` are refused."""

    def parse(text: str) -> float:
        if not text.isascii():  # as in int_in: other scripts' digits are refused, not converted
            raise argparse.ArgumentTypeError(f"{text!r} is not a number (digits 0-9)")
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if (low is not None and value < low) or (high is not None and value > high):
            bound = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value:g}")
        return value

    parse.__name__ = "number"
    return parse


#: Common cases, shared by every command module.
positive_int = int_in(1)
nonnegative_int = int_in(0)
seed_int = int_in(0, 2**63 - 1)  # numpy's generators take any non-negative 64-bit seed
port_int = int_in(1, 65535)
nonnegative_float = float_in(0.0)


def out_path(text: str) -> str:
    """``--out``: a folder name that is not blank (``--out ''`` would write into the working directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got an empty value")
    if "\x00" in text:
        raise argparse.ArgumentTypeError("must be a folder name without NUL characters")
    return text


def max_pixels_int(text: str) -> int:
    """``--max-pixels``: 0 keeps the full frame size; otherwise at least the package's minimum frame area."""
    from videossr.video import MIN_PIXELS

    value = int_in(0, what=f"0 keeps full size; otherwise at least {MIN_PIXELS}")(text)
    if 0 < value < MIN_PIXELS:
        raise argparse.ArgumentTypeError(
            f"must be 0 (full size) or at least {MIN_PIXELS} (128x128), got {value}"
        )
    return value


# --------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videossr",
        description="Self-supervised, verifiable RL data from raw videos (VideoSSR).",
    )
    from videossr import __version__

    parser.add_argument("--version", action="version", version=f"videossr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        # "[Errno 17] File exists: '/etc/passwd'" -> "/etc/passwd: file exists"
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror[0].lower()}{err.strerror[1:]}"
    return " ".join(str(err).split()) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from videossr.errors import Terminated

    previous = _stop_on_sigterm()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("error: terminated (SIGTERM); a build re-run with the same command resumes", file=sys.stderr)
        return 143  # 128 + SIGTERM, as a shell reports a process SIGTERM ended
    except Exception as err:  # noqa: BLE001 - the CLI reports errors, never tracebacks
        from videossr.errors import VideoSSRError

        # Expected failures (bad files, unwritable paths, invalid combinations) get one line; anything
        # else is a bug and keeps its traceback.
        if isinstance(err, (VideoSSRError, OSError, ValueError)):
            print(f"error: {_one_line(err)}", file=sys.stderr)
            return 1
        raise
    finally:
        _restore_sigterm(previous)


def _raise_terminated(signum: int, frame: object) -> None:
    from videossr.errors import Terminated

    raise Terminated(signum)


def _stop_on_sigterm() -> object:
    """Turn SIGTERM into :class:`~videossr.errors.Terminated` in the main thread while a command runs:
    by default SIGTERM ends Python at once, skipping every ``finally`` (a local Ray cluster's agents were
    left running, and nothing said why the command stopped). Returns the handler to restore."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _restore_sigterm(previous: object) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
