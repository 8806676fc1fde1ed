"""Column mapping: adapts a deployment's field names and label values to the canonical schema.

A mapping file is YAML (every key optional)::

    system: recidivism-screening      # system for rows that carry none
    columns:                          # canonical field: the source column that holds it
      case_id: id
      ts: compas_screening_date
      model_decision: score_text
      outcome: two_year_recid
    labels:                           # per canonical label field: source value -> label
      model_decision: {High: high, Medium: high, Low: low}
      outcome: {"1": high, "0": low}
    timestamp_format: "%Y-%m-%d"      # strptime format; default ISO 8601 or epoch seconds
    attributes: [race, sex, age]      # extra columns to keep (default: all of them)
    sensitive: [race, sex]            # attributes for fairness
    features: [age]                   # attributes for drift
    positive_label: high              # the favourable/positive label for binary metrics
    label_order: [low, high]          # declares labels ordered (ordinal agreement)

CLI flags (``--system``, ``--sensitive``, ``--features``, ``--positive-label``) override the
file. Canonical files need no mapping at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from hitlgov.errors import MappingError
from hitlgov.schema import CANONICAL_FIELDS, LABEL_FIELDS, TIMESTAMP_FIELDS  # noqa: F401 (re-exported)
from hitlgov.yamlfile import read_yaml_mapping


@dataclass(frozen=True)
class Mapping:
    system: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    timestamp_format: str | None = None
    attributes: list[str] | None = None
    sensitive: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    positive_label: str | None = None
    label_order: list[str] | None = None

    def with_overrides(self, **overrides) -> "Mapping":
        """CLI flags win over the file; ``None`` means the flag was not given."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _str_list(value, key: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise MappingError(f"{where}: '{key}' must be a list of column names")
    return [str(v) for v in value]


def load_mapping(path: str | Path | None) -> Mapping:
    if path is None:
        return Mapping()
    where = str(path)
    doc = read_yaml_mapping(path, kind="mapping", error=MappingError)
    known = {"system", "columns", "labels", "timestamp_format", "attributes", "sensitive",
             "features", "positive_label", "label_order"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    columns = doc.get("columns") or {}
    if not isinstance(columns, dict):
        raise MappingError(f"{where}: 'columns' must map canonical field -> source column")
    bad = sorted(set(columns) - set(CANONICAL_FIELDS))
    if bad:
        raise MappingError(f"{where}: 'columns' names unknown canonical field(s) {', '.join(bad)}")
    labels = doc.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, dict) for v in labels.values()):
        raise MappingError(f"{where}: 'labels' must map a label field to {{source value: label}}")
    bad = sorted(set(labels) - set(LABEL_FIELDS))
    if bad:
        raise MappingError(f"{where}: 'labels' names non-label field(s) {', '.join(bad)}; "
                           f"label fields are {', '.join(LABEL_FIELDS)}")
    attributes = doc.get("attributes")
    return Mapping(
        system=None if doc.get("system") is None else str(doc["system"]),
        columns={str(k): str(v) for k, v in columns.items()},
        # YAML reads `1: approve` as an int key; source values are compared as text.
        labels={f: {_label_key(k): str(v) for k, v in m.items()} for f, m in labels.items()},
        timestamp_format=doc.get("timestamp_format"),
        attributes=None if attributes is None else _str_list(attributes, "attributes", where),
        sensitive=_str_list(doc.get("sensitive"), "sensitive", where),
        features=_str_list(doc.get("features"), "features", where),
        positive_label=None if doc.get("positive_label") is None else str(doc["positive_label"]),
        label_order=_str_list(doc.get("label_order"), "label_order", where) or None,
    )


def _label_key(key) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
