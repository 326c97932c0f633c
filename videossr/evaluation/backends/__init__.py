"""Model backends of the harness: what turns benchmark items into replies.

A backend is built from a model spec string by :func:`load_backend`:

* ``random`` / ``random:prior``: each task's uniform guess, or its generator's prior (see
  :mod:`videossr.evaluation.baselines`).
* ``heuristic``: the non-learned computer-vision solver.
* ``hf:PATH_OR_HUB_ID``: a transformers Qwen2.5-VL / Qwen3-VL checkpoint (any
  ``AutoModelForImageTextToText`` whose processor takes videos), greedy, batched.
* ``openai:URL#MODEL``: an OpenAI-compatible chat-completions endpoint (vLLM, SGLang, hosted APIs); the
  clips are sent as frames (base64 JPEG images), each preceded by its timestamp.

One module per backend (``random_guess.py``, ``heuristic.py``, ``hf.py``, ``openai_api.py``, the shared
base in ``base.py``); :data:`BACKENDS` maps a spec's prefix to its class, which reads the rest of the spec
(``spec_args``).

Every backend yields replies batch by batch (:meth:`Backend.predict`), so the harness can save each
finished item at once, and describes every setting that changes a score (:meth:`Backend.describe`).
"""

from __future__ import annotations

from typing import Any

from videossr.evaluation.backends.base import Backend, BackendError, Prediction
from videossr.evaluation.backends.heuristic import HeuristicBackend
from videossr.evaluation.backends.hf import HFBackend
from videossr.evaluation.backends.openai_api import OpenAIBackend
from videossr.evaluation.backends.random_guess import RandomBackend

#: A model spec's prefix (before ``:``) -> its backend class.
BACKENDS: dict[str, type[Backend]] = {
    "random": RandomBackend,
    "heuristic": HeuristicBackend,
    "hf": HFBackend,
    "openai": OpenAIBackend,
}


def load_backend(spec: str, **options: Any) -> Backend:
    """Build a backend from a model spec.

    Args:
        spec: ``random``, ``random:prior``, ``heuristic``, ``hf:PATH_OR_ID`` or ``openai:URL#MODEL``.
        **options: backend keyword arguments. One that some backend takes but this one does not is
            ignored (so the CLI can pass its flags to every backend); one that no backend takes (a
            misspelling) raises :class:`BackendError`. ``None`` values are dropped.

    Example:
        >>> load_backend("random:prior").describe()["rule"]
        'prior'
    """
    import inspect

    kind, _, rest = spec.partition(":")
    cls = BACKENDS.get(kind)
    if cls is None:
        raise BackendError(f"unknown model spec {spec!r}: use random, heuristic, hf:PATH or openai:URL#MODEL")
    args = cls.spec_args(rest)
    backends = tuple(BACKENDS.values())
    known = {"max_new_tokens"}.union(*(inspect.signature(c.__init__).parameters for c in backends)) - {"self"}
    unknown = sorted(set(options) - known)
    if unknown:  # a typo must not silently fall back to a default
        raise BackendError(
            f"unknown backend option {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
        )
    if cls is OpenAIBackend and options.get("max_new_tokens") is not None:
        options = {**options, "max_tokens": options["max_new_tokens"]}
    accepted = inspect.signature(cls.__init__).parameters
    for key, value in options.items():
        if value is not None and key in accepted and key not in args:
            args[key] = value
    return cls(**args)


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "HFBackend",
    "HeuristicBackend",
    "OpenAIBackend",
    "Prediction",
    "RandomBackend",
    "load_backend",
]
