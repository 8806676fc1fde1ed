"""Evidently's data drift between two windows, as plain data (SCHEMA section 2, "drift").

:func:`drift_between` takes a reference and a current window as pandas DataFrames, runs
Evidently's ``DataDriftPreset`` with its defaults (Evidently >= 0.7 API: ``Report``, ``Dataset``,
``DataDefinition``) and returns JSON-ready data. Evidently picks the test per column; in 0.7.x
(``evidently.legacy.calculations.stattests.registry._get_default_stattest``), with the column's
non-null reference rows ``n_ref`` and distinct values over both windows ``n_uniq``:

====================  ===============================  =======================================
column                n_ref <= 1000                    n_ref > 1000
====================  ===============================  =======================================
numerical             K-S p_value (n_uniq > 5),        Wasserstein distance (normed)
                      chi-square p_value (3-5),        (n_uniq > 5), Jensen-Shannon distance
                      Z-test p_value (<= 2)            (<= 5)
categorical           chi-square p_value (> 2),        Jensen-Shannon distance
                      Z-test p_value (<= 2)
====================  ===============================  =======================================

Thresholds are the tests' defaults: 0.05 for the p-values (drift when p < 0.05; K-S: p <= 0.05),
0.1 for the distances (drift when distance >= 0.1). The dataset drifts when the share of drifted
columns is >= 0.5 (the preset's ``drift_share``; its test is "share < 0.5").

Where the values come from in ``snapshot.dict()``:

* ``metrics[i]`` with ``config.type == "evidently:metric_v2:ValueDrift"``: ``config.column``,
  ``config.method`` (the test's display name, e.g. "K-S p_value"), ``config.threshold`` and
  ``value`` (the score: a p-value or a distance);
* ``metrics[i]`` with ``config.type == "evidently:metric_v2:DriftedColumnsCount"``:
  ``value.count``, ``value.share`` and ``config.drift_share``;
* ``tests[j]`` whose ``metric_config.metric_id`` is a metric's ``id``: ``status`` FAIL means
  drift (``id == "drift"`` for a column, ``id == "lt"`` -- share < drift_share -- for the dataset).

Determinism: windows larger than ``max_rows`` are sampled with ``DataFrame.sample(random_state=
seed)``. Evidently collects a categorical column's values in a Python ``set``, whose order for
strings changes with the interpreter's hash seed, so its Jensen-Shannon and chi-square sums --
and the last digits of the scores -- would differ between processes. The categorical values are
therefore handed to Evidently as integer codes (same counts, same test, stable order); the HTML
report, if asked for, is rendered from a second run on the original labels.

Columns that are empty (no non-null, finite value) in either window cannot be tested -- Evidently
raises on them -- so they are reported with ``drifted: None`` and a note, and left out of the
drifted share.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # Importing Evidently emits DeprecationWarnings from its own and its dependencies' modules
    # (numpy.core in evidently.legacy.tests.utils, litestar's Dependency): noise, not ours.
    warnings.simplefilter("ignore", DeprecationWarning)
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

EVIDENTLY_VERSION = str(evidently.__version__)

_VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
_DRIFTED_COUNT = "evidently:metric_v2:DriftedColumnsCount"


def drift_between(reference: pd.DataFrame, current: pd.DataFrame, *, numerical: list[str],
                  categorical: list[str], max_rows: int = 20_000, seed: int = 0,
                  html_path: str | Path | None = None) -> dict:
    """Evidently's data drift of ``current`` against ``reference`` over the given columns.

    Each window larger than ``max_rows`` is sampled (``DataFrame.sample(n=max_rows,
    random_state=seed)``). Raises ValueError for an empty window, a missing or doubly declared
    column, or a numerical column with non-numeric values. If ``html_path`` is given, Evidently's
    HTML report is saved there (not when no column could be tested).
    """
    numerical, categorical = list(numerical), list(categorical)
    _check_arguments(reference, current, numerical, categorical, max_rows)
    columns = numerical + categorical

    ref = _sample(reference[columns], max_rows, seed)
    cur = _sample(current[columns], max_rows, seed)
    for col in numerical:
        ref[col] = _as_float(ref[col], col, "reference")
        cur[col] = _as_float(cur[col], col, "current")

    rows: list[dict] = []
    tested_num, tested_cat = [], []
    for col in columns:
        kind = "numerical" if col in numerical else "categorical"
        n_ref, n_cur = int(ref[col].notna().sum()), int(cur[col].notna().sum())
        row = {"column": col, "kind": kind, "test": None, "statistic": None, "stattest_threshold": None,
               "drifted": None, "reference_rows": n_ref, "current_rows": n_cur, "note": None}
        empty = [w for w, n in (("reference", n_ref), ("current", n_cur)) if n == 0]
        if empty:
            what = "no finite value" if kind == "numerical" else "no non-null value"
            row["note"] = f"not tested: {what} in the {' and '.join(empty)} window"
        else:
            (tested_num if kind == "numerical" else tested_cat).append(col)
        rows.append(row)

    result = {
        "columns": rows,
        "drifted_columns": 0,
        "total_columns": 0,
        "drift_share": None,
        "drift_share_threshold": float(DataDriftPreset().drift_share),
        "dataset_drift": None,
        "sample": {"reference_rows_used": int(len(ref)), "current_rows_used": int(len(cur)),
                   "reference_rows_total": int(len(reference)), "current_rows_total": int(len(current)),
                   "seed": int(seed)},
        "evidently_version": EVIDENTLY_VERSION,
    }
    tested = tested_num + tested_cat
    if not tested:
        result["note"] = "no column has values in both windows; nothing was tested"
        return result

    definition = DataDefinition(numerical_columns=tested_num, categorical_columns=tested_cat)
    ref_coded, cur_coded = _encode_categories(ref[tested], cur[tested], tested_cat)
    snapshot = _run(ref_coded, cur_coded, definition)
    parsed = _parse(snapshot.dict(), tested)

    by_name = {r["column"]: r for r in rows}
    for col, (test, statistic, threshold, drifted) in parsed["columns"].items():
        row = by_name[col]
        row.update(test=test, statistic=statistic, stattest_threshold=threshold, drifted=drifted)
        if statistic is None:
            row["note"] = "Evidently returned a non-finite score"
    result.update(drifted_columns=parsed["count"], total_columns=len(tested), drift_share=parsed["share"],
                  drift_share_threshold=parsed["drift_share_threshold"], dataset_drift=parsed["dataset_drift"])

    if html_path is not None:
        path = Path(html_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The coded run would show category codes; render the report from the labelled data.
        labelled = snapshot if not tested_cat else _run(ref[tested], cur[tested], definition)
        labelled.save_html(str(path))
    return result


def _check_arguments(reference, current, numerical, categorical, max_rows) -> None:
    for name, df in (("reference", reference), ("current", current)):
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"the {name} window must be a pandas DataFrame, not {type(df).__name__}")
    empty = [name for name, df in (("reference", reference), ("current", current)) if len(df) == 0]
    if empty:
        raise ValueError(f"the {' and '.join(empty)} window {'is' if len(empty) == 1 else 'are'} empty "
                         "(no rows): drift needs rows in both windows")
    columns = numerical + categorical
    if not columns:
        raise ValueError("no columns given: pass numerical and/or categorical column names")
    doubled = sorted({c for c in columns if columns.count(c) > 1})
    if doubled:
        raise ValueError(f"columns declared more than once (numerical and categorical?): {doubled}")
    for name, df in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"the {name} window has no column(s) {missing}")
        if df.columns.duplicated().any():
            raise ValueError(f"the {name} window has duplicate column names")
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer, not {max_rows!r}")


def _sample(df: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(df) > max_rows:
        df = df.sample(n=int(max_rows), random_state=seed)
    return df.reset_index(drop=True).copy()


def _as_float(s: pd.Series, col: str, window: str) -> pd.Series:
    """A numerical column as float64, with missing and infinite values as NaN (Evidently drops both)."""
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        out = pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index)
    else:
        out = pd.to_numeric(s.astype("object").where(s.notna(), None), errors="coerce").astype("float64")
        bad = s.notna() & out.isna()
        if bad.any():
            example = s[bad].iloc[0]
            raise ValueError(f"numerical column {col!r} in the {window} window has non-numeric values "
                             f"(e.g. {example!r}): declare it categorical or clean it")
    return out.replace([np.inf, -np.inf], np.nan)


def _encode_categories(ref: pd.DataFrame, cur: pd.DataFrame, categorical: list[str]):
    """Categorical columns as float codes (NaN for missing), numbered in order of appearance."""
    ref, cur = ref.copy(), cur.copy()
    for col in categorical:
        codes, _ = pd.factorize(pd.concat([ref[col], cur[col]], ignore_index=True).astype("object"))
        codes = np.where(codes < 0, np.nan, codes.astype("float64"))
        ref[col] = codes[: len(ref)]
        cur[col] = codes[len(ref):]
    return ref, cur


def _run(ref: pd.DataFrame, cur: pd.DataFrame, definition: DataDefinition):
    with warnings.catch_warnings():
        # Evidently's chi-square divides by a zero expected count when the current window has a
        # category the reference lacks (the p-value is then 0: drift). scipy warns; we don't.
        warnings.filterwarnings("ignore", message="divide by zero encountered", category=RuntimeWarning)
        return Report([DataDriftPreset()], include_tests=True).run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition),
        )


def _status(value) -> str:
    return str(getattr(value, "value", value)).upper()


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _parse(d: dict, tested: list[str]) -> dict:
    """Per-column and dataset results from ``snapshot.dict()`` (layout: module docstring)."""
    status_by_metric: dict[str, str] = {}
    for t in d.get("tests", []):
        status_by_metric[t["metric_config"]["metric_id"]] = _status(t["status"])

    columns, count_metric = {}, None
    for m in d.get("metrics", []):
        kind = m.get("config", {}).get("type")
        if kind == _VALUE_DRIFT:
            col = m["config"]["column"]
            status = status_by_metric.get(m["id"])
            if status not in ("SUCCESS", "FAIL"):
                raise RuntimeError(f"Evidently {EVIDENTLY_VERSION}: no drift test result for column {col!r}")
            columns[col] = (str(m["config"]["method"]), _finite(m["value"]), _finite(m["config"]["threshold"]),
                            status == "FAIL")
        elif kind == _DRIFTED_COUNT:
            count_metric = m
    if set(columns) != set(tested) or count_metric is None:
        raise RuntimeError(f"Evidently {EVIDENTLY_VERSION}: unexpected report layout "
                           f"(columns {sorted(columns)}, expected {sorted(tested)})")

    count = int(round(float(count_metric["value"]["count"])))
    share = float(count_metric["value"]["share"])
    drifted = sum(1 for *_, flag in columns.values() if flag)
    dataset_status = status_by_metric.get(count_metric["id"])
    if count != drifted or dataset_status not in ("SUCCESS", "FAIL"):
        raise RuntimeError(f"Evidently {EVIDENTLY_VERSION}: dataset count {count} disagrees with the "
                           f"{drifted} drifted column(s), or the dataset test is missing")
    return {"columns": {c: columns[c] for c in tested}, "count": count, "share": share,
            "drift_share_threshold": float(count_metric["config"]["drift_share"]),
            "dataset_drift": dataset_status == "FAIL"}
