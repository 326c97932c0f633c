"""What the task's verifiers make of a reply (:class:`Verdict`), and the task's timeline view of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

import videossr
from videossr.tasks import TASKS
from videossr.types import Sample


@dataclass
class Verdict:
    """A reply and what the verifiers make of it."""

    reply: str
    reward: float  # the paper's smooth training reward
    score: float  # the VIUBench metric of this item
    exact: float  # the strict 0/1 reward (exact match)
    answer: str
    sample: Sample
    parsing: str = "strict"

    @property
    def summary(self) -> str:
        mark = (
            # Plain words, no emoji: not every browser or font can draw them.
            "Exactly right" if self.exact == 1.0 else ("Partly right" if self.reward > 0 else "No credit")
        )
        return (
            f"**{mark}** · reward {self.reward:.3f} · VIUBench score {self.score:.3f} · "
            f"true answer `{self.answer}` ({self.parsing} parsing)"
        )


def verify(sample: Sample, reply: str, parsing: str = "strict") -> Verdict:
    """Score ``reply`` against the sample with the task's own verifiers (they never raise)."""
    if parsing not in ("strict", "lenient"):
        raise gr.Error("Parsing must be 'strict' or 'lenient'.")
    task = videossr.task_for_subtype(sample.subtype)
    return Verdict(
        reply=reply,
        reward=task.reward(reply, sample.answer, parsing),
        score=task.score(reply, sample.answer, parsing),
        exact=task.strict_reward(reply, sample.answer, parsing),
        answer=sample.answer,
        sample=sample,
        parsing=parsing,
    )


def has_timeline(task: str) -> bool:
    """Whether the task draws its replies on the clip's timeline (its ``timeline`` view; grounding)."""
    cls = TASKS.get(task)
    return cls is not None and cls.has_timeline()


def timeline_figure(verdict: Verdict) -> Any:
    """The task's timeline view, the true and the predicted interval on the clip (``None`` for tasks
    without one)."""
    sample = verdict.sample
    if not has_timeline(sample.task):
        return None
    view = (
        TASKS[sample.task]
        .from_subtype(sample.subtype)
        .timeline(verdict.reply, sample.answer, verdict.parsing)
    )
    if view is None:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib.figure import Figure

    true, pred = view
    duration = sample.videos[0].shape[0] / sample.fps
    fig = Figure(figsize=(7, 1.8), layout="constrained")
    ax = fig.add_subplot()
    rows = [("true", true, "#2e7d32")]
    rows.append(("predicted", pred, "#ef6c00"))
    for y, (_name, interval, color) in enumerate(rows):
        if interval is not None:
            start, end = interval
            ax.barh(y, max(end - start, duration * 0.004), left=start, height=0.6, color=color)
            ax.text(
                min(end, duration) + duration * 0.01, y, f"{start:.1f}-{end:.1f} s", va="center", fontsize=9
            )
        else:
            ax.text(duration * 0.01, y, "unparsable reply", va="center", fontsize=9, color="#b71c1c")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_xlim(0, duration * 1.18)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.axvline(duration, color="#9e9e9e", lw=1, ls="--")
    ax.set_xlabel("seconds on the clip's timeline")
    ax.set_title(f"{TASKS[sample.task].metric_name} {verdict.score:.3f}", fontsize=10)
    return fig
