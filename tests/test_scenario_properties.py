"""Property tests (hypothesis) of the stage constructions, on index sets alone."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from plasticity_bench.errors import ConfigError
from plasticity_bench.scenarios.class_imbalanced import class_imbalanced_indices, class_partition
from plasticity_bench.scenarios.incremental import equal_sizes, nested_stage_indices
from plasticity_bench.scenarios.smooth_drift import DriftSampler, drift_probability

FAST = settings(max_examples=60, deadline=None)


@st.composite
def sizes_strategy(draw):
    k = draw(st.integers(1, 6))
    xs = sorted(set(draw(st.lists(st.floats(0.02, 0.98), min_size=k, max_size=k))))
    return xs


@FAST
@given(n=st.integers(20, 500), sizes=sizes_strategy(), seed=st.integers(0, 2**31 - 1))
def test_data_incremental_stages_are_nested_and_end_with_the_full_set(n, sizes, seed):
    stages = nested_stage_indices(n, sizes, seed)
    assert len(stages) == len(sizes) + 1
    sets = [set(s.tolist()) for s in stages]
    for s, t in zip(stages, sets):
        assert len(t) == len(s)  # no duplicate inside a stage
    for a, b in zip(sets, sets[1:]):
        assert a <= b
    assert sets[-1] == set(range(n))
    for s, frac in zip(stages, sizes):
        assert len(s) == max(1, round(frac * n))


@FAST
@given(n_splits=st.integers(1, 8))
def test_equal_increments(n_splits):
    sizes = equal_sizes(n_splits)
    assert len(sizes) == n_splits and all(math.isclose(b - a, 1 / (n_splits + 1)) for a, b in zip([0] + sizes, sizes))


@st.composite
def labelled(draw):
    num_classes = draw(st.integers(2, 12))
    n = draw(st.integers(num_classes, 400))
    labels = draw(st.lists(st.integers(0, num_classes - 1), min_size=n, max_size=n))
    return torch.tensor(labels, dtype=torch.int64), num_classes


@FAST
@given(data=labelled(), n_splits=st.integers(1, 6), ratio=st.floats(0, 1), seed=st.integers(0, 2**31 - 1))
def test_class_imbalanced_follows_appendix_a3(data, n_splits, ratio, seed):
    y, num_classes = data
    n = len(y)
    stages, groups, d_u = class_imbalanced_indices(y, num_classes, n_splits, ratio, seed)
    sets = [set(s.tolist()) for s in stages]
    # nested, no duplicates in a stage, the last stage is D
    for s, t in zip(stages, sets):
        assert len(t) == len(s)
    for a, b in zip(sets, sets[1:]):
        assert a <= b
    assert sets[-1] == set(range(n))
    # class groups: n+1 of them, disjoint, covering
    flat = [c for g in groups for c in g]
    assert len(groups) == n_splits + 1 and sorted(flat) == list(range(num_classes))
    # |D_u| / |D| = r within rounding
    assert len(d_u) == round(ratio * n)
    # every example of D_c first appears in the stage of its class group
    group_of = {c: i for i, g in enumerate(groups) for c in g}
    uniform = set(d_u.tolist())
    for x in set(range(n)) - uniform:
        first = next(i for i, t in enumerate(sets) if x in t)
        assert first == group_of[int(y[x])]
    # D_u is split into n+1 parts, each arriving whole in its stage (sizes within one)
    new_uniform = [len((sets[i] - (sets[i - 1] if i else set())) & uniform) for i in range(n_splits + 1)]
    assert sum(new_uniform) == len(uniform) and max(new_uniform) - min(new_uniform) <= 1


def test_class_imbalanced_limits():
    y = torch.arange(200) % 10
    uniform_stages, _, _ = class_imbalanced_indices(y, 10, 4, 1.0, 0)
    assert [len(s) for s in uniform_stages] == [40, 80, 120, 160, 200]  # r = 1: uniform increments
    by_class, groups, d_u = class_imbalanced_indices(y, 10, 4, 0.0, 0)
    assert len(d_u) == 0
    for i, s in enumerate(by_class):  # r = 0: stage i holds exactly the classes of groups 1..i
        assert set(y[s].tolist()) == {c for g in groups[: i + 1] for c in g}


def test_given_class_groups_are_used_and_checked():
    y = torch.arange(100) % 4
    stages, groups, _ = class_imbalanced_indices(y, 4, 1, 0.0, 0, class_groups=[[3, 1], [0, 2]])
    assert groups == [[3, 1], [0, 2]] and set(y[stages[0]].tolist()) == {1, 3}
    for bad, msg in [([[0, 1], [1, 2, 3]], "repeated [1]"), ([[0, 1], [2]], "missing [3]"),
                     ([[0, 1], [2, 3, 7]], "unknown classes [7]"), ([[0, 1, 2, 3]], "give 2 groups")]:
        with pytest.raises(ConfigError, match=r"class_groups: .*" + msg.replace("[", r"\[").replace("]", r"\]")):
            class_partition(4, 2, 0, bad)


@FAST
@given(num_classes=st.integers(1, 20), n_groups=st.integers(1, 8), seed=st.integers(0, 10**6))
def test_drawn_partition_is_as_even_as_possible(num_classes, n_groups, seed):
    groups = class_partition(num_classes, n_groups, seed)
    sizes = [len(g) for g in groups]
    assert sorted(c for g in groups for c in g) == list(range(num_classes))
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=25, deadline=None)
@given(gamma=st.floats(0.05, 0.95), seed=st.integers(0, 10**6), start=st.integers(0, 900))
def test_drift_full_set_share_matches_p_within_a_binomial_tolerance(gamma, seed, start):
    n_full, pre = 1000, torch.arange(0, 1000, 2)
    p = drift_probability(gamma, 1000)
    sampler = DriftSampler(pre, n_full, p, steps_per_epoch=10)
    sampler.step = start
    g = torch.Generator().manual_seed(seed)
    batch, steps = 256, 40
    draws, expected = 0, 0.0
    for _ in range(steps):
        expected += p(sampler.step) * batch
        _, from_full = sampler.draw(batch, g)
        draws += int(from_full.sum())
    total = batch * steps
    var = sum(p(start + i) * (1 - p(start + i)) for i in range(steps)) * batch
    assert abs(draws - expected) <= 5 * math.sqrt(var) + 1  # 5 sigma: a false alarm about once in 3.5 million


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), frac=st.floats(0.05, 0.95))
def test_drift_with_p_zero_never_leaves_the_pretraining_subset(seed, frac):
    n = 500
    pre = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: max(1, int(frac * n))]
    sampler = DriftSampler(pre, n, lambda step: 0.0, steps_per_epoch=20)
    g = torch.Generator().manual_seed(seed)
    got = torch.cat(list(sampler(torch.arange(n), 64, g)))
    assert set(got.tolist()) <= set(pre.tolist()) and len(got) == 20 * 64


def test_drift_schedule_is_the_papers():
    p = drift_probability(0.5, 200)
    assert p(0) == 0.0
    assert p(100) == pytest.approx(1 - 0.5**25)
    assert p(4) == pytest.approx(1 - 0.5)  # 50 * 4 / 200 = 1
