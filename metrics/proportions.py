"""Proportions with their uncertainty: the one Wilson score interval every reliance figure uses.

A rate without its denominator and interval invites over-reading: "0% of canaries missed" from 3
canaries is not evidence. Every rate of the reliance family is reported as ``{"rate", "ci",
"numerator", "denominator"}``; the interval is Wilson's score interval (statsmodels'
``proportion_confint(method="wilson")``), which keeps its coverage near 0 and 1, where oversight
rates live, unlike the normal (Wald) interval.
"""
from __future__ import annotations

import math


Z95 = 1.959963984540054


def wilson(numerator, denominator, *, alpha: float = 0.05) -> dict:
    """``{"rate", "ci", "numerator", "denominator"}``; rate and ci None when the denominator is 0."""
    k = int(numerator or 0)
    n = int(denominator or 0)
    if n <= 0:
        return {"rate": None, "ci": None, "numerator": k, "denominator": 0}
    if not 0 <= k <= n:
        raise ValueError(f"numerator {k} outside 0..{n}")
    from statsmodels.stats.proportion import proportion_confint  # lazily: a cached result never needs statsmodels

    lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
    return {"rate": k / n, "ci": [float(lo), float(hi)], "numerator": k, "denominator": n}


def wilson_effective(rate: float, n_effective: float, *, z: float = Z95) -> list[float] | None:
    """Wilson's score interval for a *weighted* proportion, with Kish's effective sample size in
    place of n (equal weights give exactly :func:`wilson`'s interval)."""
    if n_effective is None or n_effective <= 0 or rate is None:
        return None
    n = float(n_effective)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def sample_size(*, half_width: float, planning_rate: float | None = None, population: int | None = None,
                z: float = Z95) -> int:
    """Cases a simple random sample needs for a 95% interval of +/- ``half_width`` around a rate
    near ``planning_rate`` (0.5, the worst case, when unknown), with the finite-population
    correction when the population size is known."""
    if not 0 < half_width < 1:
        raise ValueError("half_width must be in (0, 1)")
    p = 0.5 if planning_rate is None else min(max(planning_rate, 0.0), 1.0)
    p = max(p, 1e-3) if p < 0.5 else min(p, 1 - 1e-3)  # a planning rate of 0 would ask for no cases
    n0 = z * z * p * (1 - p) / (half_width * half_width)
    if population:
        n0 = n0 / (1 + (n0 - 1) / population)
    return int(math.ceil(n0))


def paired_difference(both: int, first_only: int, second_only: int, neither: int) -> list[float] | None:
    """95% interval for p1 - p2 of two proportions measured on the same n pairs: Newcombe's
    square-and-add score interval (Newcombe 1998, Stat. Med. 17:2635, method 10).

    The 2x2 table counts pairs where both succeed, only the first, only the second, neither. Each
    margin gets its Wilson interval; the two half-widths are combined with the correlation phi of
    the pair (corrected towards 0 by n/2 when positive, 0 when a margin is empty). Unlike the
    normal interval of the mean paired difference it never collapses to zero width when no pair
    is discordant (5 pairs, all both succeeding: [-0.43, 0.43] rather than [0, 0]).
    """
    a, b, c, d = (int(x) for x in (both, first_only, second_only, neither))
    n = a + b + c + d
    if n <= 0:
        return None
    if min(a, b, c, d) < 0:
        raise ValueError("paired counts must be non-negative")
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)["ci"]
    l2, u2 = wilson(a + c, n)["ci"]
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    phi = 0.0 if margins == 0 else (cross - n / 2 if cross > n / 2 else min(cross, 0)) / math.sqrt(margins)
    low = p1 - p2 - math.sqrt(max((p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2), 0.0))
    high = p1 - p2 + math.sqrt(max((p2 - l2) ** 2 + (u1 - p1) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1), 0.0))
    return [max(-1.0, low), min(1.0, high)]
