"""The evidence behind a report: every figure it shows, the parameters, and their digest.

A report lays out one **evidence document** and embeds it, as ``hitlgov-evidence.json``, in the
PDF. The document has four parts:

``parameters``  what determines the figures: the filter (period, system, model version,
                segment), the policy's name and SHA-256, the generator version, the bootstrap
                and sampling settings, whether reviewer ids are pseudonymised (and which key).
``values``      every figure the report shows, as the metric functions return them:
                ``metrics`` (:func:`hitlgov.metrics.summary.compute_metrics`: oversight, automation
                bias, reviewer accuracy, agreement, fairness, drift, ROI, data quality, findings,
                policy), ``series`` (the monthly trends the charts draw) and ``inputs`` (the
                ingestion runs that stored the cases and reviews in scope, with each file's
                SHA-256 and row counts, and their quarantine) and ``comparison``
                (:func:`hitlgov.metrics.summary.kpis`: the executive tiles for the period and
                for the period just before it, with their deltas).
``digest``      SHA-256 of the canonical JSON of ``{"parameters", "values"}``.
``context``     what describes the act of reporting rather than the data, and is *not* in the
                digest: kind, generation time, the store's path, the policy file's path and
                text, and ``audit_chain``: the store's verification at generation time with
                the signed checkpoint the report was made from (``checkpoint``) and its key's
                fingerprint (``key_fingerprint``); ``report --verify`` checks the store *as of*
                that checkpoint; and ``period_choice``: how the period was chosen (given, the
                default last full quarter, or the whole log when no quarter is covered).

Canonical JSON: keys sorted, no whitespace, UTF-8, floats rounded to 12 significant digits
(so that the last bits of a floating-point sum cannot change a digest). The same store, period,
policy and generator version therefore give the same digest -- whichever kind of report, at
whatever time, from whichever copy of the store; :mod:`hitlgov.reports.verify` recomputes it.

This module only calls metric functions; it computes no metric itself.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from hitlgov.metrics import drift, inventory, oversight, roi
from hitlgov.metrics.policy import Policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.metrics.summary import compute_metrics, kpis, resolve_period

from hitlgov import __version__

FORMAT = "hitlgov-report-evidence/1"
ATTACHMENT = "hitlgov-evidence.json"
GENERATOR = f"hitlgov {__version__}"
SIGNIFICANT_DIGITS = 12
N_BOOT = 1000
WALK_LIMIT = 250_000
SEED = 0

Progress = Callable[[str, float | None], None]


# -- canonical form and digest --------------------------------------------------------------------

def canonical(value: Any) -> Any:
    """Plain JSON data with floats rounded to :data:`SIGNIFICANT_DIGITS` (integral floats stay floats)."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "item"):  # a numpy scalar that slipped through
        return canonical(value.item())
    raise TypeError(f"not JSON data: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest_of(parameters: dict, values: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``{"parameters": ..., "values": ...}``."""
    text = canonical_json({"parameters": parameters, "values": values})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- parameters -------------------------------------------------------------------------------------

def policy_text(policy: Policy) -> str | None:
    """The text of the policy file the figures were evaluated against (embedded for re-verification)."""
    if policy.source == "default":
        text = resources.files("hitlgov.metrics").joinpath("default_policy.yaml").read_text(encoding="utf-8")
    else:
        try:
            text = Path(policy.source).read_text(encoding="utf-8")
        except OSError:
            return None
    return text if hashlib.sha256(text.encode("utf-8")).hexdigest() == policy.sha256 else None


def parameters_for(flt: Filter, policy: Policy, *, n_boot: int = N_BOOT, seed: int = SEED,
                   pseudonym_key_id: str | None = None) -> dict:
    """The digested parameters. ``flt`` must have its period resolved."""
    return {
        "filter": flt.describe(),
        "policy": {"name": policy.name, "sha256": policy.sha256},
        "generator": GENERATOR,
        "evidence_format": FORMAT,
        "n_boot": n_boot,
        "seed": seed,
        "pseudonymised": pseudonym_key_id is not None,
        "pseudonym_key_id": pseudonym_key_id,
    }


def filter_from(parameters: dict) -> Filter:
    f = parameters["filter"]
    seg = f.get("segment")
    return Filter(start=dt.date.fromisoformat(f["from"]) if f.get("from") else None,
                  end=dt.date.fromisoformat(f["to"]) if f.get("to") else None,
                  system=f.get("system"), model_version=f.get("model_version"),
                  segment=(seg["attribute"], seg["value"]) if seg else None)


# -- values -----------------------------------------------------------------------------------------

def _step(progress: Progress | None, text: str, share: float) -> None:
    if progress is not None:
        progress(text, share)


def collect(source: Source, flt: Filter, policy: Policy, *, n_boot: int = N_BOOT, seed: int = SEED,
            progress: Progress | None = None, cache: bool = False,
            on_miss: Callable[[], None] | None = None) -> tuple[Filter, dict]:
    """``(resolved filter, values)``: every figure a report shows, from the metric functions.

    ``cache=True`` (``hitlgov report``) serves them from the store's result cache when the data,
    code, filter, policy and options are unchanged (:mod:`hitlgov.result_cache`), else computes
    them and records them when the store closes; ``on_miss`` runs before computing (the Evidently
    prefetch). ``report --verify`` never uses the cache: it must recompute from the tables.
    """
    if not cache or source.raw is None:
        if on_miss is not None:
            on_miss()
        return _collect(source, flt, policy, n_boot=n_boot, seed=seed, progress=progress)
    from hitlgov import result_cache

    version = result_cache.data_version(source.raw)
    key = result_cache.key("report_values", version, filter=flt.describe(),
                           policy=[policy.sha256, policy.source, policy.name], n_boot=n_boot, seed=seed)
    hit = result_cache.lookup(source.raw, key)
    if hit is None:
        if on_miss is not None:
            on_miss()
        resolved, values = _collect(source, flt, policy, n_boot=n_boot, seed=seed, progress=progress)
        hit = {"period": resolved.describe(), "values": values}
        text = json.dumps(hit, allow_nan=False)
        source.pending_cache.append((key, "report_values", version, text))
        hit = json.loads(text)
    period = hit["period"]
    resolved = flt.but(start=dt.date.fromisoformat(period["from"]) if period["from"] else None,
                       end=dt.date.fromisoformat(period["to"]) if period["to"] else None)
    return resolved, hit["values"]


def _collect(source: Source, flt: Filter, policy: Policy, *, n_boot: int, seed: int,
             progress: Progress | None) -> tuple[Filter, dict]:
    _step(progress, "Computing oversight, agreement, fairness and drift metrics", 0.05)
    flt = resolve_period(source, flt)
    metrics = compute_metrics(source, flt, policy=policy, n_boot=n_boot, seed=seed)
    metrics["policy"] = {k: v for k, v in metrics["policy"].items() if k != "source"}  # a path: in context
    _step(progress, "Computing monthly trends and the inputs in scope", 0.55)
    series = {"oversight_by_month": [], "roi_by_month": [], "score_by_month": []}
    if metrics["counts"]["cases"]:
        series = {
            "oversight_by_month": oversight.trend(source, flt, period="month"),
            "roi_by_month": roi.roi_trend(source, flt, **roi.costs_from(policy)),
            "score_by_month": drift.score_trend(source, flt, period="month"),
        }
    series["drift_distributions"] = _drift_distributions(source, flt, metrics.get("drift") or {})
    runs = inventory.runs_in_scope(source, flt)
    inputs = {
        "ingestion_runs": runs,
        "quarantine": inventory.quarantine_summary(source, top=10, run_ids=[r["run_id"] for r in runs]),
    }
    # the Overview's tiles and deltas against the previous period, for page 1 of the executive report
    comparison = kpis(source, flt, **roi.costs_from(policy)) if metrics["counts"]["cases"] else None
    return flt, canonical({"metrics": metrics, "series": series, "inputs": inputs, "comparison": comparison})


def _drift_distributions(source: Source, flt: Filter, result: dict) -> list[dict]:
    """Reference vs current distribution of every column the drift tests covered (except the
    derived 0/1 columns), from :func:`hitlgov.metrics.drift.distribution` -- the overlays the
    dashboard's Drift page draws, over all cases of the same two windows."""
    w = result.get("windows") or {}
    if not (w.get("reference") and w.get("current") and result.get("columns")):
        return []
    window = {k: (dt.date.fromisoformat(w[k]["from"][:10]), dt.date.fromisoformat(w[k]["to"][:10]))
              for k in ("reference", "current")}
    out = []
    for c in result["columns"]:
        name = c.get("column")
        if name in ("model_positive", "overridden"):  # 0/1 columns whose shares the table already gives
            continue
        dist = drift.distribution(source, flt, column=name, reference=window["reference"], current=window["current"])
        dist["drifted"] = c.get("drifted")
        out.append(dist)
    return out


def context_for(source: Source, flt: Filter, policy: Policy, *, kind: str, store: str | None,
                engine: str | None, chain: dict | None = None, period_choice: dict | None = None) -> dict:
    """What is recorded but not digested. Group colours use every value of the system's
    sensitive attributes (as the dashboard does), so a group keeps its colour across reports."""
    chain = chain if chain is not None else audit_chain(source)
    try:
        segments = source.segments(flt.but(start=None, end=None, segment=None, model_version=None))
    except Exception:  # noqa: BLE001 - colours only; never fail a report over them
        segments = {}
    return {
        "kind": kind,
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "store": store,
        "engine": engine,
        "policy_file": policy.source,
        "policy_text": policy_text(policy),
        "audit_chain": chain,
        "segments": segments,
        "monitoring": _monitoring(source, flt),
        "period_choice": period_choice,
    }


def _monitoring(source: Source, flt: Filter) -> dict | None:
    """The monitor's findings history and remediation for the period (context: not digested)."""
    from hitlgov.metrics import continuous

    try:
        return continuous.monitoring_record(source, flt, as_of=dt.datetime.now(dt.timezone.utc).date())
    except Exception:  # noqa: BLE001 - a store from before these tables: the section says so
        return None


def audit_chain(source: Source) -> dict:
    """The store's full verification when the report is generated (``hitlgov verify``: the chain,
    its signed checkpoints, every stored row re-hashed against its run's Merkle root, in-place
    files against their hashes), with the checkpoint the report is made from and the fingerprint
    of the key that signed it. A report is never made from a store that fails it
    (:func:`hitlgov.reports.build.render_report` refuses)."""
    from hitlgov import audit, checkpoint

    if source.raw is None:
        return {"ok": None, "walked": False, "events": None, "head": None, "problems": [], "checkpoint": None,
                "key_fingerprint": None, "problem": "the audit chain lives in the embedded DuckDB store only"}
    result = audit.verify(source.raw)
    chain = result["chain"]
    cp = checkpoint.describe(result.get("checkpoint"))
    return {"ok": result["ok"], "walked": True, "events": chain["events"], "head": chain["head"],
            "problem": result["problems"][0] if result["problems"] else None, "problems": result["problems"][:10],
            "notes": result.get("notes", []), "checkpoint": cp,
            "key_fingerprint": ((cp or {}).get("key") or {}).get("fingerprint")}


def document(parameters: dict, values: dict, context: dict) -> dict:
    """The evidence document as embedded in the PDF."""
    return {
        "format": FORMAT,
        "digest": {"algorithm": "sha256", "value": digest_of(parameters, values), "covers": ["parameters", "values"],
                   "canonical_json": f"keys sorted, no whitespace, UTF-8, floats to {SIGNIFICANT_DIGITS} "
                                     "significant digits"},
        "parameters": copy.deepcopy(parameters),
        "values": values,
        "context": context,
    }


def dumps(doc: dict) -> str:
    """The attachment's text: readable JSON (the digest is over the canonical form, not these bytes)."""
    return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
