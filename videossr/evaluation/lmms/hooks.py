"""The lmms-eval hooks of the VIUBench tasks (``hub/lmms_eval/viubench/utils.py`` binds them):
``process_docs``, ``doc_to_visual``, ``doc_to_text``, ``doc_to_messages``, ``doc_to_target``,
``process_results`` and the aggregations. The prompt, the parser and the metric are the package's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from videossr.evaluation.data import BenchItem
from videossr.evaluation.harness import is_parsed
from videossr.evaluation.lmms.clips import clip_paths
from videossr.evaluation.lmms.config import REQUIRED_COLUMNS, LmmsEvalError
from videossr.metrics import aggregate, score, viubench_subtypes


# ---------------------------------------------------------------------------------------------- docs
def check_docs(dataset: Any) -> Any:
    """lmms-eval ``process_docs``: refuse rows that are not this project's VIUBench rows (clear error)."""
    columns = set(getattr(dataset, "column_names", None) or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise LmmsEvalError(
            f"not a VIUBench built by `videossr build viubench`: columns {sorted(columns)} lack {missing}"
        )
    bench = viubench_subtypes()
    unknown = sorted(set(dataset["subtype"]) - set(bench))
    if unknown:
        raise LmmsEvalError(f"not VIUBench: subtypes {unknown} are not among {list(bench)}")
    return dataset


def _messages(doc: dict[str, Any]) -> list[tuple[str, list[str | int]]]:
    """The stored prompt as ``(role, parts)`` per message: text chunks and clip indices, in order."""
    out: list[tuple[str, list[str | int]]] = []
    k = 0
    for message in doc["prompt"]:
        content = message.get("content")
        parts: list[str | int] = []
        for item in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            if item.get("type") == "video":
                parts.append(k)
                k += 1
            elif item.get("text") is not None:
                parts.append(item["text"])
        out.append((str(message.get("role", "user")), parts))
    return out


def doc_to_visual(doc: dict[str, Any]) -> list[str]:
    """lmms-eval ``doc_to_visual``: the row's clips as video file paths, in prompt order."""
    return clip_paths(doc)


def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """lmms-eval ``doc_to_text``: the question with the clips left out (simple models put them first).

    A stored system turn (simple models have no channel for one) comes first, on its own line.
    ``lmms_eval_specific_kwargs`` may set ``pre_prompt``, ``post_prompt`` (both empty by default: the
    paper asks the question as stored) and ``video_marker``, text put where each clip was.
    """
    kwargs = lmms_eval_specific_kwargs or {}
    marker = kwargs.get("video_marker", "")
    turns = ["".join(p if isinstance(p, str) else marker for p in parts) for _, parts in _messages(doc)]
    text = "\n".join(t for t in turns if t)
    return f"{kwargs.get('pre_prompt', '')}{text}{kwargs.get('post_prompt', '')}"


def doc_to_messages(
    doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """lmms-eval ``doc_to_messages``: the prompt as stored (every turn), text and clips (video files)
    interleaved.

    ``pre_prompt`` / ``post_prompt`` from ``lmms_eval_specific_kwargs`` go around the user turn.
    """
    kwargs = lmms_eval_specific_kwargs or {}
    paths = clip_paths(doc)
    messages = []
    for role, parts in _messages(doc):
        content: list[dict[str, Any]] = []
        if role == "user" and kwargs.get("pre_prompt"):
            content.append({"type": "text", "text": kwargs["pre_prompt"]})
        for part in parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
            else:
                content.append({"type": "video", "url": paths[part]})
        if role == "user" and kwargs.get("post_prompt"):
            content.append({"type": "text", "text": kwargs["post_prompt"]})
        messages.append({"role": role, "content": content})
    return messages


def doc_to_target(doc: dict[str, Any]) -> str:
    """lmms-eval ``doc_to_target``: the ground truth in the answer format of docs/method.md."""
    return str(doc["answer"])


def _reply_text(result: Any) -> str:
    if isinstance(result, (list, tuple)):
        result = result[0] if result else ""
    text = getattr(result, "text", result)  # lmms-eval's GenerationResult or a plain string
    return text if isinstance(text, str) else str(text)


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """lmms-eval ``process_results``: one reply scored with the VIUBench metric (strict parser).

    Every metric gets the same per-item record; the aggregations below read the fields they need.
    """
    reply = _reply_text(results[0] if results else "")
    subtype = str(doc["subtype"])
    item = BenchItem(
        id=str(doc["id"]),
        task=str(doc["task"]),
        subtype=subtype,
        answer=str(doc["answer"]),
        fps=float(doc["fps"]),
        num_videos=len(doc["videos"]),
        prompt_text="",
    )
    record = {
        "id": item.id,
        "subtype": subtype,
        "answer": item.answer,
        "prediction": reply,
        "score": float(score(item.task, reply, item.answer, mode="strict")),
        "parsed": is_parsed(item, reply, "strict"),
    }
    return {"score": record, "unparsed": record}


# ---------------------------------------------------------------------------------------------- aggregation
class SubtypeScore(float):
    """A Table 1 cell (percent, rounded) that remembers its unrounded fraction and its subtype.

    lmms-eval shows and saves it as a plain number; the group aggregation reads ``fraction`` so that
    Overall is the mean of the unrounded subtype scores, as in ``videossr bench``.
    """

    fraction: float
    subtype: str

    def __new__(cls, value: float, fraction: float, subtype: str) -> SubtypeScore:
        obj = super().__new__(cls, value)
        obj.fraction = float(fraction)
        obj.subtype = subtype
        return obj

    def __reduce__(self):  # pickling (lmms-eval gathers results across processes) keeps the fields
        return (SubtypeScore, (float(self), self.fraction, self.subtype))


def aggregate_score(items: Iterable[dict[str, Any]]) -> float:
    """lmms-eval aggregation of one subtype: its VIUBench score in percent with one decimal."""
    items = list(items)
    per_subtype: dict[str, list[float]] = {}
    for item in items:
        per_subtype.setdefault(item["subtype"], []).append(float(item["score"]))
    if len(per_subtype) != 1:
        raise LmmsEvalError(f"a VIUBench subtask must hold one subtype, got {sorted(per_subtype)}")
    ((subtype, scores),) = per_subtype.items()
    table = aggregate(per_subtype)
    return SubtypeScore(table["subtypes"][subtype], sum(scores) / len(scores), subtype)


def aggregate_unparsed(items: Iterable[dict[str, Any]]) -> int:
    """lmms-eval aggregation: replies the strict parser could not read (they score 0 and still count)."""
    return int(sum(0 if item.get("parsed") else 1 for item in items))


def aggregate_group(metrics: Sequence[float], sizes: Sequence[int], weight_by_size: bool = False) -> float:
    """lmms-eval group aggregation: the plain mean of the subtype scores (never weighted by size).

    With the subtypes' unrounded fractions at hand (the normal case) the result is exactly
    ``videossr bench``'s Overall (or task average); scores read back from a saved file carry only
    the rounded value, and the mean of those is returned instead.
    """
    if metrics and all(isinstance(m, SubtypeScore) for m in metrics):
        table = aggregate({m.subtype: [m.fraction] for m in metrics})  # type: ignore[union-attr]
        return float(table["overall"])
    return round(sum(float(m) for m in metrics) / len(metrics), 1) if metrics else float("nan")
