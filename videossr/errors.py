"""Exceptions with messages meant for people."""


class VideoSSRError(Exception):
    """Base class of the package's errors."""


class VideoError(VideoSSRError):
    """A video could not be used; ``reason`` is a short machine-readable cause."""

    def __init__(self, path: str, reason: str, detail: str = ""):
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        msg = f"{self.path}: {reason}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class BenchmarkError(VideoSSRError):
    """The benchmark data cannot be read or has an unknown layout (``videossr.evaluation.data``)."""


class ClipUnusable(VideoSSRError, ValueError):
    """A task cannot make a question from this clip (too short, too small to cut or to place shapes on).

    A build skips the clip and reports it; any other exception from a task's generator is a bug and fails
    the build. It is also a ``ValueError``, the error tasks raised for such clips before it existed, so
    callers that caught that keep working.
    """


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM). A ``BaseException``, like ``KeyboardInterrupt``, so no
    ``except Exception`` on the way swallows it: every ``finally`` runs (worker pools, a local Ray
    cluster are shut down) and the CLI ends with one ``error:`` line."""
