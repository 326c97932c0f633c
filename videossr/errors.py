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
