"""Calendar periods: the default reporting period and the period a figure is compared with.

**The last full quarter.** A report or a dashboard view opened without a period covers the
latest calendar quarter (Jan-Mar, Apr-Jun, Jul-Sep, Oct-Dec) that the system's log covers
*entirely*: the quarter that ends on or before the day of the last model decision and starts
on or after the day of the first one. Executives read quarters; the whole log mixes a year of
drift, model upgrades and outcomes not yet known into one number. When the log covers no whole
quarter (it spans less than one, or the latest quarter ending before the last decision begins
before the first), the default is the whole log, and every surface says so
(:attr:`PeriodChoice.notice`).

The quarter is chosen from the system's decisions -- not narrowed by model version or segment --
so the dashboard (whose period control is the system's) and ``hitlgov report`` pick the same
quarter for the same system. ``hitlgov metrics`` keeps its documented default, the whole log.

**The previous period.** Deltas compare a period with the one just before it: for a period of
whole calendar months (a month, a quarter, a year) the same number of calendar months before
it (Q1 2026 -> Q4 2025: 1 Oct - 31 Dec, 92 days against 90), otherwise the same number of days.

Pure date arithmetic: no data is read here (:func:`hitlgov.metrics.summary.choose_period` reads
the first and last decision and calls :func:`default_period`).
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

#: how a period was chosen
GIVEN, LAST_FULL_QUARTER, WHOLE_LOG, NO_DATA = "given", "last_full_quarter", "whole_log", "no_data"


def quarter_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar quarter containing ``day``: (first day, last day)."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = dt.date(day.year, first_month, 1)
    return start, _month_end(day.year, first_month + 2)


def quarter_label(start: dt.date, end: dt.date) -> str | None:
    """``"2026 Q1"`` when ``start..end`` is exactly one calendar quarter, else None."""
    if (start, end) != quarter_of(start):
        return None
    return f"{start.year} Q{(start.month - 1) // 3 + 1}"


def last_full_quarter(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date] | None:
    """The latest calendar quarter inside ``first..last`` (days of the first and last decision),
    or None when that span holds no whole quarter."""
    start, end = quarter_of(last)
    if end > last:  # the last decision's quarter is not over: take the one before it
        start, end = quarter_of(start - dt.timedelta(days=1))
    return (start, end) if start >= first else None


def whole_months(start: dt.date, end: dt.date) -> int | None:
    """The number of calendar months ``start..end`` spans when it begins on a 1st and ends on a
    month's last day, else None."""
    if start.day != 1 or end != _month_end(end.year, end.month) or end < start:
        return None
    return (end.year - start.year) * 12 + end.month - start.month + 1


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period just before ``start..end``: the same number of calendar months when the period
    is whole months (a quarter's predecessor is the previous quarter), else the same number of days."""
    months = whole_months(start, end)
    if months is not None:
        y, m = divmod(start.year * 12 + start.month - 1 - months, 12)
        return dt.date(y, m + 1, 1), start - dt.timedelta(days=1)
    length = end - start + dt.timedelta(days=1)
    return start - length, start - dt.timedelta(days=1)


def describe(start: dt.date | None, end: dt.date | None) -> str:
    """``"2026 Q1 (2026-01-01 to 2026-03-31)"`` for a quarter, else ``"2026-01-05 to 2026-03-02"``."""
    if start is None or end is None:
        return "no period"
    label = quarter_label(start, end)
    span = f"{start.isoformat()} to {end.isoformat()}"
    return f"{label} ({span})" if label else span


@dataclass(frozen=True)
class PeriodChoice:
    """A period and how it was chosen: ``how`` is one of :data:`GIVEN` (by the user),
    :data:`LAST_FULL_QUARTER` (the default), :data:`WHOLE_LOG` (the default when the log covers no
    whole quarter) or :data:`NO_DATA` (nothing to choose from). ``log`` is the span of the
    system's log (first, last decision day) the default was chosen from."""

    start: dt.date | None
    end: dt.date | None
    how: str
    log: tuple[dt.date, dt.date] | None = None

    @property
    def label(self) -> str | None:
        """``"2026 Q1"`` when the period is one calendar quarter."""
        return quarter_label(self.start, self.end) if self.start and self.end else None

    @property
    def notice(self) -> str | None:
        """One sentence every surface shows when the period was chosen by default."""
        if self.how == LAST_FULL_QUARTER:
            return (f"Period: {self.label}, the last full calendar quarter of the log (the default; the log "
                    f"covers {self.log[0].isoformat()} to {self.log[1].isoformat()}).")
        if self.how == WHOLE_LOG:
            return (f"The log ({self.log[0].isoformat()} to {self.log[1].isoformat()}) does not cover a whole "
                    "calendar quarter, so the period is the whole log instead of the last full quarter.")
        return None

    def as_dict(self) -> dict:
        return {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None, "how": self.how, "label": self.label,
                "log": [d.isoformat() for d in self.log] if self.log else None, "notice": self.notice}


def default_period(first: dt.date | None, last: dt.date | None) -> PeriodChoice:
    """The default period of a log whose first and last decisions fall on ``first`` and ``last``."""
    if first is None or last is None:
        return PeriodChoice(None, None, NO_DATA)
    quarter = last_full_quarter(first, last)
    if quarter is None:
        return PeriodChoice(first, last, WHOLE_LOG, (first, last))
    return PeriodChoice(quarter[0], quarter[1], LAST_FULL_QUARTER, (first, last))


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])
