"""Continuous oversight (issue 18): the writing side of monitoring.

``monitor`` evaluates the policy on each system's latest window and appends every finding's
status to ``findings_history`` and the audit chain; ``alerts`` tells configured channels when a
status changed; ``incidents`` keeps the Art. 73 register and its deadlines; ``remediation``
tracks who fixes a failing finding by when. The statistics live in
:mod:`hitlgov.metrics.monitoring` (this layer sits above metrics and ingestion; only the
dashboard and the CLI import it).
"""

import datetime as _dt

from hitlgov.errors import HitlgovError as _Error

#: dates the oversight records accept: a typo such as 0206 or 20266 is an error, not a deadline
EARLIEST, LATEST = _dt.date(1970, 1, 1), _dt.date(2200, 12, 31)


def check_day(day: _dt.date, flag: str) -> _dt.date:
    """``day`` if it lies between 1970 and 2200, else a one-line error naming the option."""
    if not EARLIEST <= day <= LATEST:
        raise _Error(f"{flag} {day.isoformat()}: expected a date between {EARLIEST.year} and {LATEST.year}")
    return day
