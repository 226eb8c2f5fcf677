"""Drift statistics from bucket counts: PSI, KS at the reference edges, chi-square."""

from __future__ import annotations

import datetime as dt

import pytest
from scipy import stats

from atelier.monitoring.drift import compare, rolling

NUMERIC = {"type": "numeric", "edges": [1.0, 2.0, 3.0], "shares": [0.25, 0.25, 0.25, 0.25], "null_share": 0.0}
CATEGORICAL = {"type": "categorical", "bins": ["JFK", "EWR", "<other>"], "shares": [0.5, 0.3, 0.2], "null_share": 0.0}


def test_the_reference_itself_has_no_drift() -> None:
    same = compare("x", NUMERIC, {"0": 250, "1": 250, "2": 250, "3": 250}, "numeric")
    assert same.psi == pytest.approx(0.0, abs=1e-9) and same.ks == pytest.approx(0.0) and same.rows == 1000


def test_a_shift_to_the_top_bins_gives_psi_and_ks() -> None:
    moved = compare("x", NUMERIC, {"2": 500, "3": 500}, "numeric")
    assert moved.ks == pytest.approx(0.5) and moved.psi > 2  # half the mass below 2 is gone


def test_nulls_are_a_bin_of_their_own() -> None:
    nulls = compare("x", NUMERIC, {"0": 200, "1": 200, "2": 200, "3": 200, "<null>": 200}, "numeric")
    assert nulls.null_share == pytest.approx(0.2) and nulls.psi > 0.2 and nulls.ks == pytest.approx(0.0)


def test_categories_outside_the_reference_fall_in_other_and_chi_square_judges_them() -> None:
    same = compare("origin", CATEGORICAL, {"JFK": 500, "EWR": 300, "LGA": 150, "XYZ": 50}, "categorical")
    assert same.psi == pytest.approx(0.0, abs=1e-6) and same.chi2_p > 0.99 and same.ks is None
    moved = compare("origin", CATEGORICAL, {"JFK": 100, "EWR": 300, "LGA": 600}, "categorical")
    assert moved.psi > 0.5 and moved.chi2_p < 1e-9


def test_nothing_counted_is_no_row() -> None:
    assert compare("x", NUMERIC, {}, "numeric") is None


def test_a_trailing_window_sums_the_daily_counts_it_covers() -> None:
    day = dt.date(2013, 10, 1)
    daily = {(day + dt.timedelta(days=i),): {"x": {"0": 1 + i, "1": 10}} for i in range(4)}
    summed = rolling(daily, 3)
    assert summed[(day,)] == {"x": {"0": 1, "1": 10}}  # only the days the data has
    assert summed[(day + dt.timedelta(days=3),)] == {"x": {"0": 2 + 3 + 4, "1": 30}}
    assert rolling(daily, 1) is daily


def test_chi_square_equals_scipys() -> None:
    reference = {"type": "categorical", "bins": ["AA", "UA", "<other>"], "shares": [0.5, 0.3, 0.15], "null_share": 0.05}
    found = compare("carrier", reference, {"AA": 40, "UA": 45, "DL": 9, "<other>": 3, "<null>": 3}, "categorical")
    statistic, p = stats.chisquare([40, 45, 12, 3], [50, 30, 15, 5])  # DL is one of the others; nulls a bin
    assert found.chi2 == pytest.approx(statistic, rel=1e-12) and found.chi2_p == pytest.approx(p, rel=1e-9)
