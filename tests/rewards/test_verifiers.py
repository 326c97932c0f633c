"""Rewards, strict 0/1 variants, VIUBench metrics and parsers: hand-worked cases and fuzzing."""

from __future__ import annotations

import pickle
import re
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videossr import get_task
from videossr.metrics import (
    PAPER_TABLE1,
    TASK_GROUPS,
    VIUBENCH_SUBTYPES,
    aggregate,
    paper_row,
    score,
    table1_row,
)
from videossr.parsing import parse_counts, parse_interval, parse_order
from videossr.rewards import REWARD_FUNCS, FormatReward, TaskReward, get_reward_funcs

G, C, J = get_task("anomaly_grounding"), get_task("object_counting"), get_task("temporal_jigsaw")


# ---- grounding ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "answer", "reward"),
    [
        ("14.5-26.2", "14.5-26.2", 1.0),
        ("0.0-10.0", "5.0-15.0", 5 / 15),  # overlap 5, union 15
        ("0.0-4.0", "5.0-15.0", 0.0),  # disjoint
        ("5.0-10.0", "5.0-15.0", 0.5),  # contained
        (" 5 - 10 ", "5.0-15.0", 0.5),  # whitespace tolerated by the reference pattern
        ("10.0-5.0", "5.0-15.0", 0.0),  # reversed interval
        ("from 5.0s to 10.0s", "5.0-15.0", 0.0),  # strict: the whole reply must be a-b
        ("", "5.0-15.0", 0.0),
    ],
)
def test_grounding_reward(reply, answer, reward):
    assert G.reward(reply, answer) == pytest.approx(reward)
    assert G.score(reply, answer) == pytest.approx(reward)  # mIoU: same per-item quantity


def test_grounding_strict01_and_lenient():
    assert G.strict_reward("14.5-26.2", "14.5-26.2") == 1.0
    assert G.strict_reward("14.50-26.20", "14.5-26.2") == 1.0
    assert G.strict_reward("14.5-26.3", "14.5-26.2") == 0.0
    assert G.reward("The anomaly runs from 5.0s to 10.0s.", "5.0-15.0", mode="lenient") == pytest.approx(0.5)
    assert G.reward("<think>maybe 1-2</think><answer>5-10</answer>", "5.0-15.0", mode="lenient") == 0.5
    assert G.reward("\\boxed{5.0-10.0}", "5.0-15.0", mode="lenient") == 0.5
    assert G.reward("between 0:05 and 0:10", "5.0-15.0", mode="lenient") == 0.5


# ---- counting -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "answer", "reward", "metric"),
    [
        ("3,1,4", "3,1,4", 1.0, 1.0),
        ("3,1,5", "3,1,4", (1 + 1 + 0.75) / 3, 2 / 3),
        ("6,2,8", "3,1,4", 0.0, 0.0),  # double the truth: max(0, 1 - 1) = 0 for each shape
        ("0,0,0", "3,1,4", 0.0, 0.0),
        ("2,1,4", "3,1,4", (2 / 3 + 1 + 1) / 3, 2 / 3),
        ("Answer: 3, 1, 4", "3,1,4", 1.0, 1.0),  # strict takes every integer, needs exactly three
        ("3,1", "3,1,4", 0.0, 0.0),
        ("3,1,4,1", "3,1,4", 0.0, 0.0),
    ],
)
def test_counting_reward_and_metric(reply, answer, reward, metric):
    assert C.reward(reply, answer) == pytest.approx(reward)
    assert C.score(reply, answer) == pytest.approx(metric)
    assert C.strict_reward(reply, answer) == float(metric == 1.0)


def test_counting_lenient():
    assert C.reward("I count 3 circles, 1 square and 4 triangles.", "3,1,4", mode="lenient") == 1.0
    assert C.reward("circles: 3\nsquares: 1\ntriangles: 4", "3,1,4", mode="lenient") == 1.0
    assert C.reward("<answer>3,1,4</answer>", "3,1,4", mode="lenient") == 1.0
    # hedging: two triples, or two counts for one shape, is unparsable
    assert C.reward("3,1,4 or maybe 3,1,5", "3,1,4", mode="lenient") == 0.0
    assert C.reward("3 circles or 4 circles, 1 square, 4 triangles", "3,1,4", mode="lenient") == 0.0


# ---- jigsaw ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "answer", "reward"),
    [
        ("3124", "3124", 1.0),
        # docs/method.md §6 worked example: the reply is the true order reversed. Clip k=1: |2-1|, k=2: |1-2|,
        # k=3: |3-0|, k=4: |0-3|, so E = 8 = floor(16/2) and the reward is 0 (not the digit-wise 0.5).
        ("4213", "3124", 0.0),
        ("1324", "3124", 1 - (1 + 1) / 8),  # clips 3 and 1 swapped: each one place off
        ("3142", "3124", 1 - (1 + 1) / 8),  # clips 2 and 4 swapped
        ("2413", "3124", 1 - (1 + 2 + 3 + 2) / 8),  # k=1: |2-1|, k=2: |0-2|, k=3: |3-0|, k=4: |1-3|
        ("654321", "123456", 0.0),  # reversed order scores 0
        ("123456", "123456", 1.0),
        ("1234", "123456", 0.0),  # wrong length
        ("112345", "123456", 0.0),  # not a permutation
        ("1 2 3 4 5 6", "123456", 0.0),  # strict: the stripped reply must be the digits
    ],
)
def test_jigsaw_reward(reply, answer, reward):
    assert J.reward(reply, answer) == pytest.approx(reward)
    assert J.score(reply, answer) == float(reply.strip() == answer)


def test_jigsaw_random_expectation_is_about_035():
    import itertools
    import statistics

    truth = "123456"
    vals = [J.reward("".join(map(str, p)), truth) for p in itertools.permutations(range(1, 7))]
    assert statistics.mean(vals) == pytest.approx(0.35, abs=0.03)


def test_jigsaw_lenient():
    assert J.reward("The order is Clip 3 > Clip 1 > Clip 2 > Clip 4", "3124", mode="lenient") == 1.0
    assert J.reward("3, 1, 2, 4", "3124", mode="lenient") == 1.0
    assert J.reward("3124 or 1324", "3124", mode="lenient") == 0.0


# ---- hedging never pays ---------------------------------------------------------------------------
@given(st.integers(0, 40), st.integers(1, 20), st.integers(0, 40), st.integers(1, 20))
@settings(max_examples=200, deadline=None)
def test_hedging_intervals_never_beats_committing(a, la, b, lb):
    truth = "10.0-20.0"
    first, second = f"{a}.0-{a + la}.0", f"{b}.0-{b + lb}.0"
    hedge = G.reward(f"{first} or {second}", truth, mode="lenient")
    best = max(G.reward(first, truth, mode="lenient"), G.reward(second, truth, mode="lenient"))
    assert hedge <= best


@given(
    st.lists(st.integers(0, 16), min_size=3, max_size=3), st.lists(st.integers(0, 16), min_size=3, max_size=3)
)
@settings(max_examples=200, deadline=None)
def test_hedging_counts_never_beats_committing(x, y):
    truth = "3,1,4"
    hedge = C.reward(f"{','.join(map(str, x))} or {','.join(map(str, y))}", truth, mode="lenient")
    best = max(
        C.reward(",".join(map(str, x)), truth, mode="lenient"),
        C.reward(",".join(map(str, y)), truth, mode="lenient"),
    )
    assert hedge <= best


@given(st.permutations(list("123456")), st.permutations(list("123456")))
@settings(max_examples=200, deadline=None)
def test_hedging_orders_never_beats_committing(p, q):
    truth = "315264"
    hedge = J.reward(f"{''.join(p)} or {''.join(q)}", truth, mode="lenient")
    assert hedge <= max(
        J.reward("".join(p), truth, mode="lenient"), J.reward("".join(q), truth, mode="lenient")
    )


# ---- never raise, always in [0, 1] ----------------------------------------------------------------
anything = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.binary(max_size=50),
    st.integers(),
    st.floats(allow_nan=True),
    st.lists(
        st.dictionaries(st.sampled_from(["role", "content", "text", "type"]), st.text(max_size=30)),
        max_size=3,
    ),
    st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3),
)
tricky_text = st.text(alphabet="0123456789.-,: <>/\\{}boxedthinkanswercirlsquaretigClp\n", max_size=120)


@given(anything | tricky_text, st.text(max_size=30) | st.sampled_from(["3,1,4", "5.0-15.0", "3124", ""]))
@settings(max_examples=400, deadline=None)
def test_verifiers_never_raise(reply, answer):
    for task in (G, C, J):
        for mode in ("strict", "lenient"):
            for fn in (task.reward, task.strict_reward, task.score):
                value = fn(reply, answer, mode)
                assert isinstance(value, float) and 0.0 <= value <= 1.0


@given(tricky_text)
@settings(max_examples=400, deadline=None)
def test_parsers_never_raise(text):
    for mode in ("strict", "lenient"):
        parse_interval(text, mode)
        parse_counts(text, mode)
        for n in (0, 4, 6, 8, 12):
            parse_order(text, n, mode)


# ---- TRL callables --------------------------------------------------------------------------------
def test_trl_callables_dispatch_by_task():
    completions = [[{"role": "assistant", "content": "3,1,4"}], "5.0-10.0", "3124", "junk"]
    answers = ["3,1,4", "5.0-15.0", "3124", "3,1,4"]
    tasks = ["object_counting", "anomaly_grounding", "temporal_jigsaw", "object_counting"]
    kw = {"prompts": [None] * 4, "completion_ids": [[1]] * 4, "subtype": ["x"] * 4}
    assert REWARD_FUNCS["counting"](completions, answer=answers, task=tasks, **kw) == [1.0, None, None, 0.0]
    assert REWARD_FUNCS["grounding"](completions, answer=answers, task=tasks, **kw) == [None, 0.5, None, None]
    assert REWARD_FUNCS["jigsaw"](completions, answer=answers, task=tasks, **kw) == [None, None, 1.0, None]
    assert REWARD_FUNCS["counting_strict01"](["3,1,5"], answer=["3,1,4"], task=["object_counting"]) == [0.0]
    for name, fn in REWARD_FUNCS.items():
        assert fn.__name__ == name
        clone = pickle.loads(pickle.dumps(fn))
        assert clone(completions, answer=answers, task=tasks) == fn(completions, answer=answers, task=tasks)


def test_format_reward_and_lookup():
    assert FormatReward()(["<think>a</think> <answer>1</answer>", "<answer>1</answer>", None]) == [
        1.0,
        0.0,
        0.0,
    ]
    assert [f.__name__ for f in get_reward_funcs(["grounding", "format"])] == ["grounding", "format"]
    with pytest.raises(ValueError, match="unknown reward"):
        get_reward_funcs(["bogus"])
    with pytest.raises(ValueError):
        TaskReward("anomaly_grounding", kind="fuzzy")


# ---- VIUBench aggregation -------------------------------------------------------------------------
def test_aggregate_matches_the_papers_arithmetic():
    """Feeding each paper row's subtype scores back reproduces its task averages and Overall."""
    for model in PAPER_TABLE1:
        row = paper_row(model)
        per = {s: [row[i] / 100] for i, s in enumerate(VIUBENCH_SUBTYPES)}
        result = aggregate(per)
        got = table1_row(result)
        for i in range(9, 13):
            if (model, i) == ("Seed1.5-VL", 9):
                # The paper prints 62.6 for the mean of 72.3 and 52.0 (= 62.15): a typo in the table,
                # the only cell where the printed average disagrees with its own columns.
                assert got[i] == pytest.approx(62.1, abs=0.11)
                continue
            assert got[i] == pytest.approx(row[i], abs=0.11), (model, i)


def test_aggregate_counts_every_item():
    per = {"counting_easy": [1.0, 0.0, 0.0, 1 / 3], "grounding_mirror": [0.5, 0.0]}
    result = aggregate(per)
    assert result["subtypes"]["counting_easy"] == pytest.approx(33.3)
    assert result["tasks"]["grounding"] == 25.0
    assert result["overall"] == pytest.approx((100 / 3 + 25) / 2, abs=0.05)
    assert set(result["missing"]) == set(VIUBENCH_SUBTYPES) - set(per)
    assert set(TASK_GROUPS) == {"counting", "grounding", "jigsaw"}


def test_score_by_subtype_name():
    assert score("grounding_mirror", "5.0-10.0", "5.0-15.0") == 0.5
    assert score("jigsaw_hard", "12345678", "12345678") == 1.0
    assert score("counting_easy", None, "3,1,4") == 0.0
    assert score("nonsense", "1", "1") == 0.0


# ---- hostile replies (linear-time parsing) --------------------------------------------------------
def test_exponent_numbers_are_not_intervals():
    for mode in ("strict", "lenient"):
        assert parse_interval("1e309-1e310", mode) is None
        assert G.reward("1e309-1e310", "1.0-309.0", mode=mode) == 0.0
    assert parse_interval("from 1e3 to 2e3 seconds", "lenient") is None


@pytest.mark.timeout(60)
def test_megabyte_replies_parse_in_linear_time():
    """Quadratic patterns took 66 s on 16,000 digits; at 1 MB they would take hours, so this times out.

    The speed itself is measured by ``tests/perf/bench_parsing.py``; this only guards against a return
    of super-linear behaviour, on every hostile shape that benchmark uses.
    """
    from _hostile import hostile_replies

    for text in hostile_replies(1_000_000).values():
        for mode in ("strict", "lenient"):
            parse_interval(text, mode)
            parse_counts(text, mode)
            parse_order(text, 6, mode)
            for task, answer in ((G, "1.0-2.0"), (C, "3,1,4"), (J, "213456")):
                assert 0.0 <= task.reward(text, answer, mode) <= 1.0


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 5:
# FormatReward runs in linear time and agrees with the pattern it replaces
# --------------------------------------------------------------------------------------------------
_OLD_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)


def test_format_reward_is_linear():
    from videossr.rewards import FormatReward

    reply = "<think>" + "</think><answer></answer>x" * (400_000 // 25)
    start = time.perf_counter()
    assert FormatReward()([reply]) == [0.0]
    assert time.perf_counter() - start < 0.5  # was 22 s


def test_format_reward_matches_the_reference_pattern():
    from videossr.rewards import FormatReward

    rng = np.random.default_rng(0)
    pieces = ["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x", "</think> <answer>", "\u2003"]
    replies = ["".join(rng.choice(pieces, size=int(rng.integers(0, 9)))) for _ in range(3000)] + [
        "<think>a</think>\n<answer>b</answer>\n",
        "<think></think><answer></answer>",
        "<think></think><answer>",
    ]
    fmt = FormatReward()
    for reply in replies:
        assert fmt([reply]) == [float(bool(_OLD_FORMAT.match(reply)))], repr(reply)


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 6:
# a lone surrogate never breaks the lenient parsers
# --------------------------------------------------------------------------------------------------
def test_lone_surrogate_after_a_box():
    from videossr.evaluation import scoring
    from videossr.parsing import parse_counts, parse_interval, parse_order

    assert parse_counts("\\boxed{3,1,4}\ud800", "lenient") == (3, 1, 4)
    assert parse_interval("\udcff\\boxed{1.0-2.0}", "lenient") == (1.0, 2.0)
    assert parse_order("\\boxed{3124} \udfff", 4, "lenient") == (3, 1, 2, 4)
    assert scoring.counting(["\\boxed{3,1,4}\ud800"], ["3,1,4"], mode="lenient")["per_shape_accuracy"] == 1.0


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 10:
# an exponent is not an interval
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply", ["1e-400-2", "2.5E+10-20", "the value 3.e-4-5 s"])
def test_exponent_is_not_an_interval(reply):
    from videossr.parsing import parse_interval
    from videossr.tasks import get_task

    assert parse_interval(reply, "lenient") is None
    assert get_task("anomaly_grounding").reward(reply, "2.0-400.0", "lenient") == 0.0


def test_intervals_after_a_dash_still_parse():
    from videossr.parsing import parse_interval

    assert parse_interval("answer -2-5", "lenient") == (2.0, 5.0)
    assert parse_interval("see-3-5", "lenient") == (3.0, 5.0)


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 11:
# leading zeros in any script count as int() counts them
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("zero", ["\u0660", "\uff10", "\u09e6", "0"])
def test_non_ascii_leading_zeros(zero):
    from videossr.parsing import count_value
    from videossr.tasks import get_task

    digits = zero * 20 + "3"
    assert count_value(digits) == int(digits) == 3
    reply = f"{digits},1,4"
    assert get_task("object_counting").reward(reply, "3,1,4") == 1.0
    assert get_task("object_counting").reward(reply, "3,1,4", "lenient") == 1.0


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 12:
# completion_text on hostile Python objects
# --------------------------------------------------------------------------------------------------
def test_self_containing_list_is_bounded():
    from videossr.parsing import completion_text

    a: list = []
    a += [a, a]
    start = time.perf_counter()
    assert completion_text(a) == ""
    b: list = ["3,1,4"]
    b.append(b)
    assert completion_text(b) == "3,1,4"
    wide: list = ["x"]
    for _ in range(40):  # a DAG that doubles at each level: 2**40 leaves if walked naively
        wide = [wide, wide]
    completion_text(wide)
    assert time.perf_counter() - start < 1.0


def test_numpy_array_of_replies():
    from videossr.rewards import REWARD_FUNCS

    replies = np.array(["3,1,4", "3,1,5"])
    answers = np.array(["3,1,4", "3,1,4"])
    tasks = np.array(["object_counting"] * 2)
    assert REWARD_FUNCS["counting"](replies, answer=answers, task=tasks) == [1.0, pytest.approx(0.9166666)]
    assert REWARD_FUNCS["format"](np.array(["<think></think><answer>1</answer>"])) == [1.0]
    assert REWARD_FUNCS["counting"](np.array([]), solution=np.array([])) == []


class _Hostile(str):
    def __str__(self):
        raise RuntimeError("boom")

    __repr__ = __str__

    def strip(self, *args):
        raise RuntimeError("boom")

    def lower(self):
        raise RuntimeError("boom")

    def __getitem__(self, key):
        raise RuntimeError("boom")

    def __iter__(self):
        raise RuntimeError("boom")

    def __len__(self):
        raise RuntimeError("boom")

    def __contains__(self, item):
        raise RuntimeError("boom")

    def encode(self, *args, **kwargs):
        raise RuntimeError("boom")

    def replace(self, *args):
        raise RuntimeError("boom")


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_hostile_str_subclass(mode):
    from videossr.tasks import get_task

    for name, reply, answer in [
        ("object_counting", "3,1,4", "3,1,4"),
        ("anomaly_grounding", "1.0-2.0", "1.0-2.0"),
        ("temporal_jigsaw", "3124", "3124"),
    ]:
        task = get_task(name)
        for fn in (task.reward, task.strict_reward, task.score):
            assert fn(_Hostile(reply), _Hostile(answer), mode) == 1.0
