"""Anytime-valid rate alarms (metrics/monitoring.py).

The e-value is checked against a second implementation (numerical integration of the mixture),
and its promise -- under no change, the chance of *ever* alarming over 100 evaluations is at
most alpha -- by simulation, beside the naive point-estimate check it replaces, which the same
simulation shows alarming far more often.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from hitlgov.metrics import monitoring
from hitlgov.metrics.monitoring import log_rate_evalue, rate_evalue, sequential_status


def _by_quadrature(s, n, bound, direction="above"):
    if direction == "below":
        s, bound = n - s, 1 - bound
    num = integrate.quad(lambda p: p ** s * (1 - p) ** (n - s), bound, 1, epsabs=0, epsrel=1e-12)[0]
    return num / stats.uniform.sf(bound) / (bound ** s * (1 - bound) ** (n - s))


@pytest.mark.parametrize("s,n,bound,direction", [
    (3, 10, 0.2, "above"), (30, 100, 0.25, "above"), (0, 5, 0.1, "above"), (7, 7, 0.5, "above"),
    (2, 10, 0.5, "below"), (85, 100, 0.9, "below"), (40, 120, 0.35, "above"),
])
def test_e_value_equals_the_mixture_integral(s, n, bound, direction):
    assert rate_evalue(s, n, bound=bound, direction=direction) == pytest.approx(_by_quadrature(s, n, bound, direction), rel=1e-8)


def test_hand_computed_values():
    # uniform prior, one success against bound 1/2: int_{1/2}^1 p dp / (1/2) / (1/2) = (3/8) * 4 = 1.5
    assert rate_evalue(1, 1, bound=0.5) == pytest.approx(1.5)
    # before any outcome the e-value is 1 (nothing learned)
    assert rate_evalue(0, 0, bound=0.3) == pytest.approx(1.0)


def _simulate(rate, bound, *, direction="above", reps=2000, evaluations=100, batch=20, seed=7):
    """For each replicate: successes after each evaluation (cumulative since monitoring began)."""
    rng = np.random.default_rng(seed)
    per_batch = rng.binomial(batch, rate, size=(reps, evaluations))
    s = per_batch.cumsum(axis=1)
    n = np.arange(1, evaluations + 1) * batch
    return s, np.broadcast_to(n, s.shape)


def test_no_change_alarm_rate_over_100_evaluations_stays_at_or_below_alpha():
    alpha = 0.05
    for bound, direction in ((0.35, "above"), (0.90, "below")):
        s, n = _simulate(bound, bound, direction=direction)  # the rate sits exactly on the bound
        log_e = log_rate_evalue(s, n, bound=bound, direction=direction)
        ever = (log_e >= math.log(1 / alpha)).any(axis=1).mean()
        assert ever <= alpha, (bound, ever)
        if direction == "above":  # the check it replaces: point estimate beyond the bound at any run
            naive = ((s / n) > bound).any(axis=1).mean()
        else:
            naive = ((s / n) < bound).any(axis=1).mean()
        assert naive > 0.5, naive  # ...which this simulation shows crying wolf


def test_a_real_change_is_detected():
    s, n = _simulate(0.45, 0.35)  # ten points over the bound
    log_e = log_rate_evalue(s, n, bound=0.35)
    assert (log_e >= math.log(20)).any(axis=1).mean() >= 0.95


def test_sequential_status_picks_the_worst_crossed_bound():
    rule = {"fail_below": 0.01, "warn_below": 0.02, "warn_above": 0.25, "fail_above": 0.35}
    assert sequential_status(400, 1000, rule)["status"] == "warn"     # 40%: clearly > 25%, not yet clearly > 35%
    assert sequential_status(450, 1000, rule)["status"] == "fail"
    assert sequential_status(450, 1000, rule)["threshold"] == 0.35
    quiet = sequential_status(100, 1000, rule)
    assert quiet["status"] == "pass" and quiet["e_value"] < 1
    assert sequential_status(0, 2000, rule)["status"] == "fail"       # no override in 2,000 reviews: below 1%


def test_point_status_would_fail_where_the_evidence_is_not_yet_there():
    # 4 of 10 overridden is above 35%, but 10 reviews are no evidence that the rate is
    assert sequential_status(4, 10, {"fail_above": 0.35})["status"] == "pass"


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError):
        sequential_status(0, 0, {"fail_above": 0.3})
    with pytest.raises(ValueError):
        rate_evalue(5, 3, bound=0.3)
    with pytest.raises(ValueError):
        rate_evalue(1, 3, bound=1.0)
    with pytest.raises(ValueError):
        sequential_status(1, 3, {"fail_above": 0.3}, alpha=0)
    assert monitoring.DEFAULT_ALPHA == 0.05
