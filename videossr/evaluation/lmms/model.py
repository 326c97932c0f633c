"""The lmms-eval model class that wraps a ``videossr bench`` backend (``videossr bench --via lmms-eval``).

lmms-eval is optional (the ``lmms`` extra): this module imports it at its top, so only the runner imports
this module, once lmms-eval's version has been checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lmms_eval.api.model import lmms

from videossr.evaluation.data import item_from_row
from videossr.evaluation.harness import prompt_sha1
from videossr.evaluation.lmms.clips import read_clip


class VideoSSRModel(lmms):
    """Any ``videossr bench`` backend (``hf:``, ``openai:``, ``random``, ``heuristic``) as an lmms-eval
    chat model.

    It reads what the task hands a chat model, ``doc_to_messages``: the text parts and the clip
    files, which it decodes back into frames. The row's fps (which a video container can only
    approximate) and its id, subtype and source come from the document. All requests go to the
    backend in one call, so it batches them exactly as ``videossr bench`` does.
    """

    is_simple = False

    def __init__(self, backend: Any, batch_size: int | None = None):
        super().__init__()
        self.backend = backend
        self.batch_size_per_gpu = int(batch_size or backend.default_batch_size)
        self.inputs: dict[str, dict[str, Any]] = {}  # what the model saw, by item id

    def _item(self, messages: list[dict[str, Any]], doc: dict[str, Any]):
        prompt: list[dict[str, Any]] = []
        clips: list[np.ndarray] = []
        for message in messages:  # every turn as the task gave it; clips decoded from their files
            content: list[dict[str, Any]] = []
            for part in message["content"]:
                if part.get("type") == "video":
                    clips.append(read_clip(part["url"]))
                    content.append({"type": "video", "text": None})
                elif part.get("type") == "text":
                    content.append({"type": "text", "text": part["text"]})
            prompt.append({"role": message["role"], "content": content})
        row = {**doc, "prompt": prompt, "videos": clips}
        return item_from_row(row, str(doc["subtype"]), lambda: row)

    def generate_until(self, requests: list[Any]) -> list[str]:
        items = []
        for request in requests:
            _, doc_to_messages_fn, _, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            items.append(self._item(doc_to_messages_fn(doc), doc))
        replies: dict[str, str] = {}
        for batch in self.backend.predict(items, self.batch_size_per_gpu):
            for pred in batch:
                replies[pred.item.id] = pred.reply if isinstance(pred.reply, str) else str(pred.reply)
                record = dict(pred.inputs)
                # The question as the model read it, by hash (as in ``videossr bench``'s records).
                record["prompt_sha1"] = prompt_sha1(pred.item.prompt_text)
                self.inputs[pred.item.id] = record
        return [replies[item.id] for item in items]

    # lmms-eval's base class declares these two abstract, so the class must define them. Every
    # VIUBench task is `output_type: generate_until`, so lmms-eval never calls them; a task folder
    # that asked for them would get this error instead of a silent wrong score.
    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("VIUBench tasks are single-turn: output_type is generate_until")

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("VIUBench tasks score generated replies, not log-likelihoods")


def lmms_model(backend: Any, batch_size: int | None = None) -> VideoSSRModel:
    """Wrap a videossr :class:`~videossr.evaluation.backends.Backend` as an lmms-eval model instance."""
    return VideoSSRModel(backend, batch_size=batch_size)
