"""``load_backend`` refuses options no backend takes instead of dropping them."""

from __future__ import annotations

import pytest

from videossr.evaluation.backends import BackendError, load_backend


def test_misspelled_option_raises():
    with pytest.raises(BackendError, match=r"unknown backend option 'sed'.*seed"):
        load_backend("random", sed=3)
    with pytest.raises(BackendError, match="'max_new_token', 'num_worker'"):
        load_backend("heuristic", max_new_token=8, num_worker=2)
    # The random backend's rule is a task-agnostic one of RANDOM_RULES, checked when it is built.
    with pytest.raises(BackendError, match="unknown random rule 'max_length'"):
        load_backend("random:max_length")


def test_options_of_other_backends_still_pass_through():
    # The CLI hands every flag to every backend: what this one does not take is ignored, and None dropped.
    backend = load_backend("random", seed=7, max_new_tokens=16, dtype="auto", concurrency=None)
    assert backend.seed == 7
    assert load_backend("heuristic", num_workers=1, system_prompt="x").num_workers == 1
