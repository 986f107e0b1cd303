"""Proportions with exact 95% intervals, as every evaluation reports them.

A rate measured on a few dozen messages is uncertain; the Clopper-Pearson interval says how
much, without the normal approximation that fails near 0% and 100% (where our red-flag
figures sit).
"""

from __future__ import annotations

from typing import Any

from scipy.stats import beta


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for a proportion."""
    alpha = 1 - confidence
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, n - successes + 1))
    high = 1.0 if successes == n else float(beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return low, high


def rate(hits: int, n: int) -> dict[str, Any]:
    """Hits out of n, the rate, and its 95% interval, as the evaluations' JSON holds them."""
    low, high = clopper_pearson(hits, n) if n else (0.0, 1.0)
    return {"hits": hits, "n": n, "rate": hits / n if n else None, "ci95": [low, high]}


def line(label: str, r: dict[str, Any]) -> str:
    """One report line: `label  hits/n  rate  (95% CI low-high)`."""
    low, high = r["ci95"]
    shown = f"{r['rate']:6.1%}" if r["rate"] is not None else "     -"
    return f"  {label:22} {r['hits']:4d}/{r['n']:<4d} {shown}  (95% CI {low:.1%}-{high:.1%})"
