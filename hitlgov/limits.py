"""The documented limits of one ingestion, and the plausible range of timestamps.

Why limits at all: a few hundred bytes can ask for gigabytes (a gzip bomb, a 100,000-column
header whose cost grows quadratically, a YAML alias bomb). Each limit is checked *before* the
expensive step and fails with one line naming the file, the limit and the variable that raises
it; the store is not touched. Every value can be raised per machine through the environment.

| limit | default | variable |
|---|---|---|
| bytes of one input file after gzip decompression | 8 GiB | ``HITLGOV_MAX_INPUT_BYTES`` |
| columns of one file | 2,000 | ``HITLGOV_MAX_COLUMNS`` |
| bytes of one CSV line / JSON line (so of one field) | 16 MiB | ``HITLGOV_MAX_LINE_BYTES`` |
| bytes of a YAML file (mapping, views) | 1 MiB | ``HITLGOV_MAX_YAML_BYTES`` |
| aliases (``*ref``) in a YAML file | 100 | ``HITLGOV_MAX_YAML_ALIASES`` |

Plausible timestamps: ``ts`` and the review times must lie in
``1970-01-01T00:00:00`` .. *now + 1 year* (UTC); review seconds in 0 .. one year. A value outside is
quarantined with a reason naming it: a date in year 10000 or BC cannot be shown or computed with,
and 0001-01-01 would make a retention check pass by 24,000 months.
"""
from __future__ import annotations

import os

from hitlgov.errors import HitlgovError

EARLIEST_TS = "1970-01-01 00:00:00"
#: SQL for the latest plausible timestamp (evaluated at ingestion time)
LATEST_TS_SQL = "(now()::TIMESTAMP + INTERVAL 1 YEAR)"
MAX_REVIEW_SECONDS = 366 * 24 * 3600

_DEFAULTS = {
    "HITLGOV_MAX_INPUT_BYTES": 8 << 30,
    "HITLGOV_MAX_COLUMNS": 2000,
    "HITLGOV_MAX_LINE_BYTES": 16 << 20,
    "HITLGOV_MAX_YAML_BYTES": 1 << 20,
    "HITLGOV_MAX_YAML_ALIASES": 100,
}


def limit(name: str) -> int:
    """The limit ``name`` (one of the variables above): the environment's value, else the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return _DEFAULTS[name]
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise HitlgovError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise HitlgovError(f"{name}={raw!r} must be positive")
    return value
