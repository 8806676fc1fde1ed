"""How numbers are written on the dashboard (the tests format the metrics' values with these too)."""
from __future__ import annotations

import datetime as dt

NA = "n/a"


def pct(x: float | None, digits: int = 1) -> str:
    """0.2231 -> '22.3%'."""
    return NA if x is None else f"{x * 100:.{digits}f}%"


def pp(x: float | None, digits: int = 1) -> str | None:
    """A change of a rate in percentage points: 0.012 -> '+1.2 pp' (None stays None: no delta)."""
    return None if x is None else f"{x * 100:+.{digits}f} pp"


def num(x: float | int | None, digits: int = 0) -> str:
    """1234.5 -> '1,234' (digits=0) or '1,234.5'."""
    return NA if x is None else f"{x:,.{digits}f}"


def count(x: int | None) -> str:
    return NA if x is None else f"{int(x):,}"


def interval(ci, write=None) -> str:
    """A confidence interval ``[low, high]`` written with ``write`` (default :func:`pct`):
    '41.2% – 48.9%'; 'n/a' when there is none."""
    write = write or pct
    if not ci or ci[0] is None or ci[1] is None:
        return NA
    return f"{write(ci[0])} – {write(ci[1])}"


def p_value(x: float | None) -> str:
    """A p-value as a reader can take it in: '0.032', '< 1e-6' below one in a million (a
    float's last digits there are noise from the test's approximation, not information)."""
    if x is None:
        return NA
    if x < 1e-6:
        return "< 1e-6"
    if x < 0.001:
        return f"{x:.1e}"
    return f"{x:.3f}"


def ratio(x: float | None, digits: int = 3) -> str:
    """A statistic in [-1, 1] or a ratio: 0.77769 -> '0.778'."""
    return NA if x is None else f"{x:.{digits}f}"


def money(x: float | None, currency: str = "EUR") -> str:
    if x is None:
        return NA
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency.upper())
    return f"{symbol}{x:,.0f}" if symbol else f"{x:,.0f} {currency}"


def money_short(x: float | None, currency: str = "EUR") -> str:
    """A KPI-sized amount: '€203.8k', '€1.25M', '€950'."""
    if x is None:
        return NA
    for size, suffix, digits in ((1e9, "bn", 2), (1e6, "M", 2), (1e3, "k", 1)):
        if abs(x) >= size:
            symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency.upper())
            text = f"{x / size:,.{digits}f}{suffix}"
            return f"{symbol}{text}" if symbol else f"{text} {currency}"
    return money(x, currency)


def money_delta(x: float | None, currency: str = "EUR") -> str | None:
    """A signed amount for a KPI delta: '+€1,234' / '-€56' (None: no delta)."""
    if x is None:
        return None
    return ("-" if x < 0 else "+") + money(abs(x), currency)


def seconds(x: float | None) -> str:
    """Review time: '170 s', '2.5 min', '1.2 h'."""
    if x is None:
        return NA
    if x < 120:
        return f"{x:,.0f} s"
    if x < 7200:
        return f"{x / 60:,.1f} min"
    return f"{x / 3600:,.1f} h"


def hours(x: float | None) -> str:
    return NA if x is None else f"{x:,.0f} h"


def day(x) -> str:
    if x is None:
        return NA
    if isinstance(x, str):
        return x[:10]
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()[:10]
    return str(x)


def when(x) -> str:
    """A timestamp to the minute: '2026-11-25 06:38'."""
    if x is None:
        return NA
    return str(x).replace("T", " ")[:16]


def finding_value(metric: str, value: float | None) -> str:
    """A policy finding's value or threshold, in the unit its metric is read in (by its name)."""
    if value is None:
        return NA
    name = metric.rsplit(".", 1)[-1]
    if "seconds" in name:
        return seconds(value)
    if name.endswith("months"):
        return f"{value:.1f} months"
    if name.endswith("reviewers"):
        return count(value)
    if name.endswith(("rate", "coverage", "completeness", "share")):
        return pct(value)
    return ratio(value)
