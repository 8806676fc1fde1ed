"""Plain-data helpers shared by the metric modules: no NaN leaves this package."""
from __future__ import annotations

import decimal
import math
from typing import Any


def ratio(numerator, denominator) -> float | None:
    """``numerator / denominator``, or None where the denominator is zero or unknown."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def plain(value: Any) -> Any:
    """Turn numpy/pandas scalars into Python ones and NaN/NaT into None, recursively."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, decimal.Decimal):
        # DuckDB's SUM of integers is a HUGEINT; pandas hands it over as Decimal when the column
        # also holds NULL (a group whose every value was NULL): JSON knows no Decimal
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "isoformat"):
        try:
            import pandas as pd

            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
        return value.isoformat()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


def records(df) -> list[dict]:
    """A DataFrame as a list of plain dicts."""
    return [plain(r) for r in df.to_dict(orient="records")]
