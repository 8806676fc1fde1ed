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
    positive_label: high              # the label selection rate and FPR/FNR are defined on
    favourable_label: low             # the outcome that benefits the person (default: positive_label)
    label_order: [low, high]          # declares labels ordered (ordinal agreement)
    annotation_only: true             # the system's log has no model decision (labelling only)
    question: sentiment               # tool exports: the question / control that is the decision
    default_ts: 2024-03-01            # ts for rows of an export that records none
    adapter_options:                  # tool exports: the adapter's options (KEY: VALUE)
      model_decision: inputContent.prediction
    score_range: [0, 1]               # model_score is a probability: values outside are quarantined

One source column feeds one canonical field: a mapping that puts two fields in the same column
(``reviewer_id: id`` beside ``case_id: id``) would invent reviews -- every case "reviewed" with
zero overrides -- so it is refused, here and again once the file's columns are known
(:func:`check_one_column_per_field`).

CLI flags (``--system``, ``--sensitive``, ``--features``, ``--positive-label``, ``--favourable-label``, ``--question``,
``--default-ts``, ``--adapter-option``) override the file. Canonical files need no mapping at all.
"""
from __future__ import annotations

import math
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
    favourable_label: str | None = None
    label_order: list[str] | None = None
    annotation_only: bool = False
    question: str | None = None
    default_ts: str | None = None
    adapter_options: dict[str, str] = field(default_factory=dict)
    score_range: tuple[float, float] | None = None

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
             "features", "positive_label", "favourable_label", "label_order", "annotation_only", "question", "default_ts",
             "adapter_options", "score_range"}
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
    used: dict[str, str] = {}
    for canonical, source in columns.items():
        if not isinstance(source, (str, int, float)) or isinstance(source, bool) or str(source).strip() == "":
            raise MappingError(f"{where}: 'columns.{canonical}' must name one source column")
        if str(source) in used:
            raise MappingError(f"{where}: column '{source}' is mapped to both {used[str(source)]} and {canonical}; "
                               "one source column feeds one canonical field")
        used[str(source)] = canonical
    attributes = doc.get("attributes")
    annotation_only = doc.get("annotation_only", False)
    if not isinstance(annotation_only, bool):
        raise MappingError(f"{where}: 'annotation_only' must be true or false")
    options = doc.get("adapter_options") or {}
    if not isinstance(options, dict) or not all(isinstance(v, (str, int, float, bool)) for v in options.values()):
        raise MappingError(f"{where}: 'adapter_options' must map option name -> value")
    return Mapping(
        system=None if doc.get("system") is None else str(doc["system"]),
        columns={str(k): str(v) for k, v in columns.items()},
        # YAML reads `1: approve` as an int key; source values are compared as text.
        labels={f: {_label_key(k): str(v) for k, v in m.items()} for f, m in labels.items()},
        timestamp_format=doc.get("timestamp_format"),
        attributes=None if attributes is None else _str_list(attributes, "attributes", where),
        sensitive=_str_list(doc.get("sensitive"), "sensitive", where),
        features=_str_list(doc.get("features"), "features", where),
        positive_label=_one_label(doc.get("positive_label"), "positive_label", where),
        favourable_label=_one_label(doc.get("favourable_label"), "favourable_label", where),
        label_order=_str_list(doc.get("label_order"), "label_order", where) or None,
        annotation_only=annotation_only,
        question=None if doc.get("question") is None else str(doc["question"]),
        # YAML reads an unquoted 2024-03-01 as a date: keep its ISO text
        default_ts=None if doc.get("default_ts") is None else _iso(doc["default_ts"]),
        adapter_options={str(k): _label_key(v) for k, v in options.items()},
        score_range=_score_range(doc.get("score_range"), where),
    )


def parse_options(pairs: list[str] | None, *, flag: str = "--adapter-option") -> dict[str, str] | None:
    """``["KEY=VALUE", ...]`` -> ``{KEY: VALUE}`` (None when no flag was given)."""
    if not pairs:
        return None
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MappingError(f"{flag} {pair!r}: expected KEY=VALUE (e.g. model_decision=inputContent.prediction)")
        options[key.strip()] = value.strip()
    return options


def _one_label(value, key: str, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        raise MappingError(f"{where}: '{key}' must be one label (e.g. {key}: approve)")
    return _label_key(value)


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _score_range(value, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
    if not ok or not math.isfinite(value[0]) or not math.isfinite(value[1]) or value[0] >= value[1]:
        raise MappingError(f"{where}: 'score_range' must be [low, high] with two numbers, low < high (e.g. [0, 1])")
    return float(value[0]), float(value[1])


def check_one_column_per_field(source_of: dict[str, str], where: str) -> None:
    """Refuse two canonical fields read from one column, once the mapping meets the file's columns
    (a field not in the mapping reads the column of its own name: ``reviewer_id: case_id``)."""
    seen: dict[str, str] = {}
    for field_name, source in source_of.items():
        if source in seen:
            raise MappingError(f"{where}: column '{source}' would feed both {seen[source]} and {field_name}; "
                               "one source column feeds one canonical field (fix the mapping)")
        seen[source] = field_name


def _label_key(key) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
