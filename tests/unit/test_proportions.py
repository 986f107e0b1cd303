"""Exact intervals for the evaluations' rates (tools/proportions.py)."""

from __future__ import annotations

import pytest

from tools.proportions import clopper_pearson, line, rate


def test_clopper_pearson_matches_known_values():
    low, high = clopper_pearson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.3085, abs=1e-4)
    low, high = clopper_pearson(50, 50)
    assert low == pytest.approx(0.9289, abs=1e-4) and high == 1.0


def test_a_rate_and_its_report_line():
    r = rate(9, 10)
    assert r["rate"] == pytest.approx(0.9) and r["ci95"][0] < 0.9 < r["ci95"][1]
    assert "9/10" in line("set", r) and "90.0%" in line("set", r)
    assert rate(0, 0)["rate"] is None and "-" in line("empty", rate(0, 0))
