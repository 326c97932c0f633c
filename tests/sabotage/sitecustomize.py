r"""Deliberate breakage for the learning test (tests/learnbed/test_learnbed.py), to show that it fails
when learning breaks.

Python imports ``sitecustomize`` at start-up from ``sys.path``, so putting this folder on ``PYTHONPATH``
applies the sabotage in every process the bed starts (each GRPO run is its own process)::

    VIDEOSSR_SABOTAGE=zero_video_loss    PYTHONPATH=tests/sabotage \
        .venv/bin/python -m pytest tests/learnbed/test_learnbed.py -m slow
    VIDEOSSR_SABOTAGE=shuffle_advantages PYTHONPATH=tests/sabotage ...
    VIDEOSSR_SABOTAGE=constant_reward    PYTHONPATH=tests/sabotage ...
    VIDEOSSR_SABOTAGE=swapped_clips      PYTHONPATH=tests/sabotage ...

* ``zero_video_loss``: generation sees the real clips, but the log-prob passes (old policy, reference, loss)
  get all-zero pixels: the failure the TRL video bridge exists to prevent.
* ``shuffle_advantages``: the advantages are permuted across the whole batch, so a reply is credited with
  another group's result.
* ``constant_reward``: every reply gets reward 0.5.
* ``swapped_clips``: both arms train on swapped clips (the video arm gets the control's data): the model
  can then learn only the answers' prior, and must not beat the best video-blind answer.

Nothing happens unless ``VIDEOSSR_SABOTAGE`` is set; the patch is applied when ``videossr.trl_video``,
``videossr.rewards`` or ``videossr.training.data`` is first imported.
"""

import os
import sys

_MODE = os.environ.get("VIDEOSSR_SABOTAGE")


def _patch_trl_video(module):
    trainer = module.VideoGRPOTrainer
    if _MODE == "zero_video_loss":
        original = trainer._compute_loss

        def compute_loss(self, model, inputs):
            key = module._PIXELS
            if key in inputs:
                inputs = dict(inputs)
                inputs[key] = [None if t is None else t.new_zeros(t.shape) for t in inputs[key]]
            return original(self, model, inputs)

        trainer._compute_loss = compute_loss
        # The old-policy and reference passes run inside generation's scoring: zero them there too.
        original_scoring = trainer._get_per_token_logps_and_entropies

        def scoring(self, model, input_ids, *args, **kwargs):
            active = self._active_videos
            if active is not None and module._PIXELS in active:
                zeroed = dict(active)
                zeroed[module._PIXELS] = [
                    None if t is None else t.new_zeros(t.shape) for t in active[module._PIXELS]
                ]
                self._active_videos = zeroed
                try:
                    return original_scoring(self, model, input_ids, *args, **kwargs)
                finally:
                    self._active_videos = active
            return original_scoring(self, model, input_ids, *args, **kwargs)

        trainer._get_per_token_logps_and_entropies = scoring
    elif _MODE == "shuffle_advantages":
        import torch

        original = trainer._generate_and_score_completions

        def generate_and_score(self, inputs):
            output = original(self, inputs)
            advantages = output["advantages"]
            generator = torch.Generator().manual_seed(int(self.state.global_step))
            output["advantages"] = advantages[torch.randperm(advantages.numel(), generator=generator)]
            return output

        trainer._generate_and_score_completions = generate_and_score


def _patch_rewards(module):
    if _MODE != "constant_reward":
        return
    for cls in {type(func) for func in module.REWARD_FUNCS.values()}:
        original = cls.__call__

        def call(self, *args, _original=original, **kwargs):
            values = _original(self, *args, **kwargs)
            return [None if v is None else 0.5 for v in values]

        cls.__call__ = call


def _patch_training_data(module):
    if _MODE != "swapped_clips":
        return
    original = module.load_train_data

    def load_train_data(script_args, training_args, curriculum=None):
        if not script_args.online and not script_args.video_control:
            script_args.video_control = "swap"
        return original(script_args, training_args, curriculum=curriculum)

    module.load_train_data = load_train_data


class _Finder:
    """Patch the modules right after their first import (wraps the real loader's ``exec_module``)."""

    targets = {
        "videossr.trl_video": _patch_trl_video,
        "videossr.rewards": _patch_rewards,
        "videossr.training.data": _patch_training_data,
    }

    def find_spec(self, name, path=None, target=None):
        if name not in self.targets:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        execute = spec.loader.exec_module

        def exec_module(module, _execute=execute, _patch=self.targets[name]):
            _execute(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


if _MODE:
    if _MODE not in ("zero_video_loss", "shuffle_advantages", "constant_reward", "swapped_clips"):
        raise SystemExit(f"unknown VIDEOSSR_SABOTAGE={_MODE!r}")
    sys.meta_path.insert(0, _Finder())
    print(f"[sabotage] {_MODE} active", file=sys.stderr)
