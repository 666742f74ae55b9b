"""The gap as a pure function, and its summary over seeds, on hand-made numbers."""

from __future__ import annotations

import math

import pytest

from plasticity_bench.metrics.gap import generalisation_gap, last_k_mean, paired_gap_summary, summarize


def test_gap_is_scratch_minus_warm_over_the_last_k_epochs():
    scratch = [0.10, 0.50, 0.90, 0.92, 0.94]
    warm = [0.80, 0.85, 0.88, 0.86, 0.90]
    # last 2: scratch (0.92 + 0.94)/2 = 0.93; warm (0.86 + 0.90)/2 = 0.88
    assert generalisation_gap(scratch, warm, 2) == pytest.approx(0.05)
    # last 1: 0.94 - 0.90
    assert generalisation_gap(scratch, warm, 1) == pytest.approx(0.04)
    # whole curve: 0.672 - 0.858
    assert generalisation_gap(scratch, warm, 5) == pytest.approx(0.672 - 0.858)


def test_positive_gap_means_warm_generalises_worse():
    assert generalisation_gap([0.9] * 4, [0.8] * 4, 2) > 0
    assert generalisation_gap([0.8] * 4, [0.9] * 4, 2) < 0


def test_earlier_epochs_do_not_count():
    # A terrible start of the curve outside the window changes nothing.
    assert generalisation_gap([0.0, 0.0, 0.9, 0.9], [0.8, 0.8, 0.85, 0.85], 2) == pytest.approx(0.05)


@pytest.mark.parametrize("window", [0, -1, 6, 2.5])
def test_window_outside_the_curve_is_an_error(window):
    with pytest.raises(ValueError, match="window"):
        last_k_mean([0.5] * 5, window)


def test_empty_curve_is_an_error():
    with pytest.raises(ValueError, match="non-empty"):
        last_k_mean([], 1)


def test_ci_matches_a_worked_example():
    # Gaps 1, 2, 3, 4 (points): mean 2.5, sample std sqrt(5/3) = 1.290994;
    # t_{0.975, 3} = 3.182446; half width = 3.182446 * 1.290994 / 2 = 2.054260.
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.n == 4
    assert s.mean == pytest.approx(2.5)
    assert s.std == pytest.approx(1.2909944)
    assert s.ci_low == pytest.approx(2.5 - 2.0542603, abs=1e-6)
    assert s.ci_high == pytest.approx(2.5 + 2.0542603, abs=1e-6)
    assert s.half_width == pytest.approx(2.0542603, abs=1e-6)


def test_ci_with_two_seeds_uses_t_with_one_degree_of_freedom():
    # t_{0.975, 1} = 12.706205; std of (0, 2) = sqrt(2); half = 12.706205 * sqrt(2) / sqrt(2)
    s = summarize([0.0, 2.0])
    assert s.half_width == pytest.approx(12.706205, rel=1e-6)


def test_one_seed_has_no_spread():
    s = summarize([0.3])
    assert s.mean == 0.3 and s.n == 1 and math.isnan(s.std) and math.isnan(s.ci_low)


def test_paired_summary_pairs_by_seed_and_ignores_unpaired_seeds():
    scratch = {0: 0.90, 1: 0.92, 2: 0.91, 7: 0.5}
    warm = {0: 0.88, 1: 0.89, 2: 0.90, 9: 0.1}
    s = paired_gap_summary(scratch, warm)
    assert s.n == 3
    assert s.mean == pytest.approx((0.02 + 0.03 + 0.01) / 3)
