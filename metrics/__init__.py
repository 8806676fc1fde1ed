"""Oversight metrics of a human-in-the-loop system: one module per family, one public API here.

Every metric is a function of a :class:`~hitlgov.metrics.source.Source` (the store, or an engine) and a
:class:`~hitlgov.metrics.source.Filter` returning plain data::

    from hitlgov.metrics import Filter, open_source, oversight_summary
    with open_source("hitlgov.duckdb") as src:
        print(oversight_summary(src, Filter(system="loans"))["override_rate"])

The names below are re-exported lazily (PEP 562): ``import metrics.source`` must not pay for
importing Fairlearn and Evidently, which only the fairness and drift families need.
"""
from __future__ import annotations

import importlib

_PUBLIC = {
    "source": ("Filter", "Source"),
    "engines": ("open_source",),
    "oversight": ("oversight_summary", "by_reviewer", "by_model_version", "trend", "latency_histogram",
                  "reviewer_accuracy", "automation_bias", "high_risk_coverage"),
    "agreement": ("agreement_summary", "multi_review_ratings"),
    "fairness": ("fairness_summary", "fairness_by_attribute", "group_counts"),
    "drift": ("drift_summary", "default_windows", "windows_for"),
    "roi": ("roi_summary", "roi_trend"),
    "review_stage": ("rejection_rate",),
    "inventory": ("counts", "retention", "completeness", "ingestion_runs", "quarantine_summary"),
    "identity": ("confusable_reviewer_ids",),
    "policy": ("Policy", "load_policy", "evaluate"),
    "monitoring": ("rate_evalue", "sequential_status"),
    "competence": ("untrained_review_share", "two_person_rule"),
    "continuous": ("monitoring_record",),
    "summary": ("compute_metrics",),
    "reliance": ("reliance_summary",),
    "selective_accuracy": ("selective_accuracy_summary",),
    "reviewer_quality": ("reviewer_quality_summary", "dawid_skene"),
    "gwet_stats": ("gwet_ac", "gwet_ac1", "gwet_ac2"),
    "bias_audit": ("bias_audit_table", "bias_audit_csv"),
    "proportions": ("wilson",),
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"hitlgov.metrics.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hitlgov.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
