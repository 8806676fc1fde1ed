"""Drift between a reference window and the current window, with Evidently's tests and defaults.

Monitored columns: the declared features, ``model_score``, the model's positive decision (0/1)
and, for reviewed cases, whether the case was overridden (0/1) -- a rising override rate is
drift in how well the model serves the reviewers. Evidently runs in
:mod:`metrics.drift_core`; this module chooses the windows and draws a bounded, seeded sample
of cases from each in the engine (Evidently takes about 40 s on 1M rows, and a remote engine
must not ship whole windows).

Default windows (SCHEMA/issue): reference = the first ``reference_months`` months of the
period, current = the last ``current_months`` months.
"""
from __future__ import annotations

import datetime as dt
import importlib
import threading

import pandas as pd

from metrics.source import Filter, Source

DEFAULT_SAMPLE = 20_000


def preload_evidently() -> threading.Thread:
    """Import Evidently (about 2 s) in a background thread while the engine computes the other
    metrics: the engine's work releases the GIL, so a full run does not wait for the import.
    The later ``from metrics import drift_core`` waits on Python's import lock if needed."""
    def load() -> None:
        try:
            importlib.import_module("metrics.drift_core")
        except Exception:  # noqa: BLE001 - the real import in drift_summary raises it where it matters
            pass

    t = threading.Thread(target=load, daemon=True)
    t.start()
    return t


def default_windows(period: tuple[dt.date, dt.date], *, reference_months: int = 3,
                    current_months: int = 1) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """``(reference, current)`` windows inside ``period`` as inclusive date ranges."""
    start, end = period
    ref_end = _add_months(start, reference_months) - dt.timedelta(days=1)
    cur_start = _add_months(end + dt.timedelta(days=1), -current_months)
    return (start, min(ref_end, end)), (max(cur_start, start), end)


def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    import calendar

    return dt.date(day.year + y, m + 1, min(day.day, calendar.monthrange(day.year + y, m + 1)[1]))


def window_sample(source: Source, flt: Filter, *, features: list[str], positive_label: str | None,
                  max_rows: int = DEFAULT_SAMPLE, seed: int = 0) -> tuple[pd.DataFrame, int]:
    """A seeded sample (at most ``max_rows`` cases) of one window, features pivoted to columns."""
    c, total = source.sample_cases(flt, max_rows=max_rows, seed=seed)
    cols = {"system": c.system, "case_id": c.case_id, "model_score": c.model_score,
            "overridden": c.overridden.cast("int8")}
    if positive_label is not None:
        cols["model_positive"] = (c.model_decision == positive_label).cast("int8")
    sample = c.select(**cols)
    df = sample.order_by(["system", "case_id"]).to_pandas()  # same row order on every engine
    if features and not df.empty:
        a = source.table("case_attributes")
        a = a.filter(a.name.isin(features)).semi_join(sample, ["system", "case_id"])
        wide = a.to_pandas().pivot_table(index=["system", "case_id"], columns="name", values="value",
                                         aggfunc="first")
        df = df.merge(wide.reset_index(), on=["system", "case_id"], how="left")
    for f in features:
        if f not in df:
            df[f] = None
    return df.drop(columns=["system", "case_id"]), total


def _kinds(ref: pd.DataFrame, cur: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    """Numeric when every non-empty value parses as a number in both windows; else categorical."""
    numerical, categorical = ["model_score"], []
    for f in features:
        both = pd.concat([ref[f], cur[f]]).dropna()
        parsed = pd.to_numeric(both, errors="coerce")
        (numerical if len(both) and parsed.notna().all() else categorical).append(f)
    for flag in ("model_positive", "overridden"):
        if flag in ref:
            categorical.append(flag)
    return numerical, categorical


def drift_summary(source: Source, flt: Filter, *, period: tuple[dt.date, dt.date] | None = None,
                  reference: tuple[dt.date, dt.date] | None = None, current: tuple[dt.date, dt.date] | None = None,
                  reference_months: int = 3, current_months: int = 1, max_rows: int = DEFAULT_SAMPLE,
                  seed: int = 0, html_path=None) -> dict:
    """Evidently's data-drift result over the two windows, as plain data."""
    if reference is None or current is None:
        if period is None:
            raise ValueError("give the period, or both windows")
        ref_w, cur_w = default_windows(period, reference_months=reference_months, current_months=current_months)
        reference, current = reference or ref_w, current or cur_w
    cfg = source.config(flt.system)
    features = cfg.features
    ref, n_ref = window_sample(source, flt.but(start=reference[0], end=reference[1]), features=features,
                               positive_label=cfg.positive_label, max_rows=max_rows, seed=seed)
    cur, n_cur = window_sample(source, flt.but(start=current[0], end=current[1]), features=features,
                               positive_label=cfg.positive_label, max_rows=max_rows, seed=seed)
    windows = {"reference": {"from": reference[0].isoformat(), "to": reference[1].isoformat(), "cases": n_ref},
               "current": {"from": current[0].isoformat(), "to": current[1].isoformat(), "cases": n_cur}}
    if ref.empty or cur.empty:
        empty = "reference" if ref.empty else "current"
        return {"windows": windows, "error": f"the {empty} window has no cases", "columns": [],
                "drift_share": None, "dataset_drift": None}
    numerical, categorical = _kinds(ref, cur, features)
    for col in numerical:
        ref[col] = pd.to_numeric(ref[col], errors="coerce")
        cur[col] = pd.to_numeric(cur[col], errors="coerce")
    for col in categorical:
        ref[col] = ref[col].astype("string")
        cur[col] = cur[col].astype("string")
    from metrics import drift_core  # imports Evidently (slow): only when drift is asked for

    result = drift_core.drift_between(ref, cur, numerical=numerical, categorical=categorical,
                                      max_rows=max_rows, seed=seed, html_path=html_path)
    result["windows"] = windows
    if isinstance(result.get("sample"), dict):  # drift_core saw the engine-side sample: report the windows' totals
        result["sample"].update(reference_rows_total=n_ref, current_rows_total=n_cur,
                                sampled=n_ref > len(ref) or n_cur > len(cur))
    return result
