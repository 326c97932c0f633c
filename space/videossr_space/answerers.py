"""Who answers a generated question: the person, a built-in baseline, or a model.

This is a thin adapter over the evaluation area's backends (``videossr.evaluation.load_backend``): the
random and heuristic baselines, ``hf:PATH`` for a local transformers checkpoint and ``openai:URL#MODEL``
for an OpenAI-compatible server. The Space and ``videossr bench`` thus ask a model the same way; the Space
wraps one generated sample as a one-item benchmark.

Safety: the set of models is fixed by the server (``VIDEOSSR_SPACE_MODELS``), never typed into the page,
because a model path is a path on the server's disk. A person may point the app at their own
OpenAI-compatible endpoint only when the operator allows it (``VIDEOSSR_SPACE_ALLOW_CUSTOM_ENDPOINT=1``,
meant for local runs), and the key they type is used for that one call and never shown or logged.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from videossr.types import Sample

log = logging.getLogger("videossr.space")

PERSON = "person"
RANDOM = "random"
HEURISTIC = "heuristic"
CUSTOM = "custom_endpoint"

#: Largest reply kept from any answerer (a model that rambles, a person who pastes a novel).
MAX_REPLY_CHARS = 2000


class BackendUnavailable(RuntimeError):
    """The chosen answerer cannot run in this installation; the message is meant for people."""


@dataclass(frozen=True)
class Answerer:
    """One entry of the "Who answers?" menu."""

    key: str  # the stable value sent by the page and by API clients
    label: str  # what people read
    spec: str | None = None  # backend spec for model answerers: "hf:PATH" or "openai:URL#MODEL"


def parse_model_list(text: str | None) -> list[Answerer]:
    """Operator-configured models from ``"Label=spec; Label 2=spec2"`` (specs ``hf:...`` or ``openai:...``).

    Example:
        >>> [a.key for a in parse_model_list("Tiny=hf:/models/tiny; GPT=openai:http://x/v1#gpt")]
        ['model:Tiny', 'model:GPT']
    """
    out: list[Answerer] = []
    for item in (text or "").replace("\n", ";").split(";"):
        label, sep, spec = item.partition("=")
        label, spec = label.strip(), spec.strip()
        if not sep or not label or not spec:
            continue
        if not spec.startswith(("hf:", "openai:")):
            log.warning("ignoring model %r: spec must start with hf: or openai:", label)
            continue
        out.append(Answerer(key=f"model:{label}", label=label, spec=spec))
    return out


def answerers(models: list[Answerer], allow_custom_endpoint: bool) -> list[Answerer]:
    """The full menu: the person, the two baselines, configured models, optionally a custom endpoint."""
    menu = [
        Answerer(PERSON, "You (type the answer)"),
        Answerer(RANDOM, "Random guess (baseline)", spec="random"),
        Answerer(HEURISTIC, "Heuristic solver (classical vision, no learning)", spec="heuristic"),
        *models,
    ]
    if allow_custom_endpoint:
        menu.append(Answerer(CUSTOM, "Your OpenAI-compatible endpoint"))
    return menu


# --------------------------------------------------------------------------------------------------
# Backends of the evaluation area (the same code `videossr bench` uses)
# --------------------------------------------------------------------------------------------------
def _gpu(fn: Callable) -> Callable:
    """Run ``fn`` on a ZeroGPU slice when the Space has one; a no-op everywhere else.

    The ``spaces`` package exists only on Hugging Face Spaces, so importing it is optional.
    """
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return spaces.GPU(duration=120)(fn)


def bench_item(sample: Sample, sample_id: str) -> Any:
    """The sample as the harness's ``BenchItem``, so any backend can answer it.

    The row is encoded only if a backend asks for frames (the random guess never does).
    """
    from videossr.evaluation.data import BenchItem

    return BenchItem.from_sample(sample, sample_id, keep_row=False)


@functools.lru_cache(maxsize=4)
def _cached_backend(spec: str) -> tuple[Any, threading.Lock]:
    """Build a backend once (loading a checkpoint is slow) with a lock: one generation at a time per model."""
    from videossr.evaluation import load_backend

    # One request at a time and a short reply budget: the Space answers single questions.
    backend = load_backend(spec, max_new_tokens=64, num_workers=1, prefetch=1, concurrency=1, retries=2)
    return backend, threading.Lock()


def _predict(backend: Any, sample: Sample, sample_id: str) -> str:
    batches = list(backend.predict([bench_item(sample, sample_id)], batch_size=1))
    return str(batches[0][0].reply) if batches and batches[0] else ""


@_gpu
def _predict_local(spec: str, sample: Sample, sample_id: str) -> str:
    # Loading and generation both happen inside the (optionally GPU-decorated) call: on ZeroGPU a GPU
    # exists only while such a call runs.
    backend, lock = _cached_backend(spec)
    with lock:
        return _predict(backend, sample, sample_id)


def model_reply(spec: str, sample: Sample, sample_id: str) -> str:
    """The reply of a backend spec (``random``, ``heuristic``, ``hf:PATH``, ``openai:URL#MODEL``)."""
    if spec.startswith("hf:"):
        return _predict_local(spec, sample, sample_id)
    backend, lock = _cached_backend(spec)
    if spec.startswith("openai:"):  # remote: requests may overlap
        return _predict(backend, sample, sample_id)
    with lock:
        return _predict(backend, sample, sample_id)


def endpoint_reply(url: str, model: str, api_key: str, sample: Sample, sample_id: str, timeout: float) -> str:
    """A reply from a person's own OpenAI-compatible endpoint (only when the operator allows it)."""
    from videossr.evaluation import load_backend

    url, model = (url or "").strip(), (model or "").strip()
    if not url.startswith(("http://", "https://")):
        raise BackendUnavailable("The endpoint must be an http(s) URL.")
    if not model:
        raise BackendUnavailable("Name the model the endpoint should use.")
    # Built per call and never cached: the key belongs to this request only.
    backend = load_backend(
        f"openai:{url}#{model}",
        api_key=api_key or "",
        timeout=timeout,
        retries=1,
        concurrency=1,
        max_new_tokens=64,
    )
    return _predict(backend, sample, sample_id)


def reply_for(
    answerer: Answerer,
    sample: Sample,
    sample_id: str,
    typed: str = "",
    endpoint: tuple[str, str, str] | None = None,
    timeout: float = 120.0,
) -> str:
    """The reply of ``answerer`` to ``sample``, cut to :data:`MAX_REPLY_CHARS`."""
    if answerer.key == PERSON:
        text = typed or ""
    elif answerer.key == CUSTOM:
        url, model, key = endpoint or ("", "", "")
        text = endpoint_reply(url, model, key, sample, sample_id, timeout)
    elif answerer.spec:
        text = model_reply(answerer.spec, sample, sample_id)
    else:
        raise BackendUnavailable(f"Unknown answerer {answerer.key!r}.")
    # Control characters (a random-weight model emits plenty) would garble the page; keep newlines and tabs.
    text = "".join(ch for ch in str(text) if ch in "\n\t" or ch.isprintable())
    return text[:MAX_REPLY_CHARS]
