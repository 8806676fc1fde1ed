"""Anytime-valid alarms for rate thresholds: evaluating a policy again and again without
inflating false alarms.

Why: ``hitlgov monitor`` runs every night. A point estimate compared with a bound at each run
raises a false alarm sooner or later even when nothing changed (at a rate exactly on the
bound, about half the runs would "fail"). Compliance teams stop reading alarms that cry wolf.

Definitions:

* **mixture e-value** for "the rate exceeds ``bound``" after ``trials`` Bernoulli outcomes with
  ``successes`` ones -- the Beta(a, b)-mixture likelihood ratio against the bound, with the
  prior restricted to rates above the bound::

      M = Int_{bound}^{1} p^S (1-p)^(n-S) dBeta(p; a, b) / (P_Beta(p > bound) * bound^S (1-bound)^(n-S))

  For every true rate ``p <= bound`` the per-outcome ratio has expectation <= 1, so ``M`` is a
  non-negative supermartingale with ``M_0 = 1``, and Ville's inequality gives
  ``P(M_n >= 1/alpha for some n) <= alpha``: **the probability of ever raising the alarm, however
  often one looks, is at most ``alpha``** (the documented false-alarm rate). The mixture is the
  conjugate ("Robbins mixture") form of a confidence sequence: the set of bounds not rejected
  at level ``alpha`` is a (1 - alpha) confidence sequence for the rate.
* "the rate is below ``bound``" is the same test on the complementary outcomes.
* **sequential status** of a rule: ``fail`` when a fail bound is crossed with evidence
  ``M >= 1/alpha``, else ``warn`` for a warn bound, else ``pass``.

Evidence accumulates over the outcomes observed since monitoring began (the caller chooses the
anchor); a change late in a long stream is therefore detected more slowly than by a fresh
window (the price of the guarantee; restart the anchor after remediation).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

DEFAULT_ALPHA = 0.05
DEFAULT_PRIOR = (1.0, 1.0)


def log_rate_evalue(successes, trials, *, bound: float, direction: str = "above",
                    prior: tuple[float, float] = DEFAULT_PRIOR):
    """Natural log of the mixture e-value against "rate <= bound" (``direction='above'``) or
    "rate >= bound" (``'below'``). Vectorised over ``successes``/``trials`` arrays."""
    if direction not in ("above", "below"):
        raise ValueError(f"direction must be 'above' or 'below', not {direction!r}")
    if not 0.0 < bound < 1.0:
        raise ValueError(f"bound must be strictly between 0 and 1, not {bound!r}")
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(n < 0) or np.any(s < 0) or np.any(s > n):
        raise ValueError("need 0 <= successes <= trials")
    a, b = prior
    if direction == "below":  # a rate below the bound = the complementary rate above 1 - bound
        s, bound, a, b = n - s, 1.0 - bound, b, a
    f = n - s
    with np.errstate(divide="ignore"):
        log_num = special.betaln(a + s, b + f) + stats.beta.logsf(bound, a + s, b + f)
        log_den = special.betaln(a, b) + stats.beta.logsf(bound, a, b) + s * math.log(bound) + f * math.log1p(-bound)
    out = log_num - log_den
    return float(out) if out.ndim == 0 else out


def rate_evalue(successes: int, trials: int, *, bound: float, direction: str = "above",
                prior: tuple[float, float] = DEFAULT_PRIOR) -> float:
    """The mixture e-value itself (see the module docstring); 1.0 before any outcome."""
    return float(math.exp(min(log_rate_evalue(successes, trials, bound=bound, direction=direction, prior=prior), 700.0)))


def sequential_status(successes: int, trials: int, rule: dict, *, alpha: float = DEFAULT_ALPHA) -> dict:
    """The anytime-valid status of a rate rule (bounds as in the policy) and the evidence behind it.

    Returns ``status``, ``e_value`` (the largest e-value among the crossed bounds, else among
    all bounds) and the ``threshold`` that decided it.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, not {alpha!r}")
    if trials <= 0:
        raise ValueError("no outcomes: a sequential status needs at least one trial")
    limit = math.log(1.0 / alpha)
    checks = []
    for level in ("fail", "warn"):
        for side, direction in (("above", "above"), ("below", "below")):
            key = f"{level}_{side}"
            if key not in rule:
                continue
            bound = float(rule[key])
            if not 0.0 < bound < 1.0:  # a bound of 0 or 1 cannot be crossed from the inside
                continue
            log_e = log_rate_evalue(successes, trials, bound=bound, direction=direction)
            checks.append((level, bound, log_e))
    for level in ("fail", "warn"):
        crossed = [(b, e) for lv, b, e in checks if lv == level and e >= limit]
        if crossed:
            bound, log_e = max(crossed, key=lambda c: c[1])
            return {"status": level, "threshold": bound, "e_value": math.exp(min(log_e, 700.0))}
    if not checks:
        return {"status": "pass", "threshold": None, "e_value": 1.0}
    bound, log_e = max(((b, e) for _, b, e in checks), key=lambda c: c[1])
    return {"status": "pass", "threshold": bound, "e_value": math.exp(min(log_e, 700.0))}
