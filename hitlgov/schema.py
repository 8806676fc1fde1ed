"""The canonical decision log: the one place that names its fields (SCHEMA.md §1).

Every layer that needs the field list reads it from here -- the store's migrations are checked
against it (``tests/ground/test_schema.py``), the mapping validates names with it, the pipeline
and the in-place views type and split rows with it, the adapters emit it, the Parquet export
and the engine sources expect it. A new canonical field is added here once.

A log row is one human review of a case. The *case* fields describe the model's decision and
repeat on every review row of the case; the *review* fields describe one person's review and are
empty on a row no human reviewed. ``system`` and ``case_id`` identify a case; with
``reviewer_id`` they identify a review.

``required`` names what a row must carry. ``model_decision`` is required of an ordinary system's
log (a row without it is wrong, and quarantined) but not of an *annotation-only* source: a
labelling or review tool's export that has no prediction (the adapters declare this), or a
system the mapping declares ``annotation_only: true``. Such a case is stored with an empty model
decision; its reviews count for workload, latency, agreement and accuracy, and the metrics that
need the model's decision exclude it and say how many they excluded.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    type: str          # the Ibis type of the stored column ("string", "timestamp", "float64", "boolean")
    belongs_to: str    # "key", "case" or "review"
    required: bool = False
    label: bool = False  # takes values in the system's label space (mapped through `labels:`)
    model_output: bool = False  # the model's output: optional for an annotation-only source


FIELDS: tuple[Field, ...] = (
    Field("case_id", "string", "key", required=True),
    Field("ts", "timestamp", "case", required=True),
    Field("system", "string", "key"),
    Field("model_version", "string", "case"),
    Field("model_decision", "string", "case", required=True, label=True, model_output=True),
    Field("model_score", "float64", "case"),
    Field("reviewer_id", "string", "review"),
    Field("human_decision", "string", "review", label=True),
    Field("review_started_at", "timestamp", "review"),
    Field("review_completed_at", "timestamp", "review"),
    Field("review_seconds", "float64", "review"),
    Field("escalated", "boolean", "review"),
    Field("rationale", "string", "review"),
    Field("final_decision", "string", "case", label=True),
    Field("outcome", "string", "case", label=True),
    # reliance evidence (issue 17). On the review: the reviewer's own label before seeing the
    # model's output belongs to one person's review. On the case: whether the output shown was a
    # planted wrong one (a canary) and whether the case was drawn into the random audit of the
    # automated stream, with its inclusion probability, are facts about the case -- every review
    # of it saw the same output and it was sampled once.
    Field("canary", "boolean", "case"),
    Field("audit_sample", "boolean", "case"),
    Field("audit_probability", "float64", "case"),
    Field("human_initial_decision", "string", "review", label=True),
)
BY_NAME = {f.name: f for f in FIELDS}

#: every canonical field, in the order of the input contract
CANONICAL_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)
#: fields a row must carry (empty = quarantined)
REQUIRED: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)
#: fields even an annotation-only source's row must carry (the store's NOT NULL case columns)
REQUIRED_ALWAYS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required and not f.model_output)


def required_fields(*, annotation_only: bool) -> tuple[str, ...]:
    """The fields a row must carry: :data:`REQUIRED`, or :data:`REQUIRED_ALWAYS` for an
    annotation-only source (a labelling tool export without predictions)."""
    return REQUIRED_ALWAYS if annotation_only else REQUIRED

#: the case's model fields, stored once per case
CASE_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.belongs_to == "case")
#: the fields of one review, without ``reviewer_id`` (which identifies it)
REVIEW_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.belongs_to == "review" and f.name != "reviewer_id")
#: everything a review row carries, ``reviewer_id`` included
REVIEW_COLUMNS: tuple[str, ...] = ("reviewer_id",) + REVIEW_FIELDS
LABEL_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.label)
TIMESTAMP_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.type == "timestamp")
DEFAULT_SYSTEM = "default"
#: optional fields added after the first release: a lake table or an older Parquet export without
#: them is read with the column empty, not refused
ADDED_OPTIONAL: tuple[str, ...] = ("canary", "audit_sample", "audit_probability", "human_initial_decision",
                                   "favourable_label")

#: the integer surrogate key of a case (store migration 9, :mod:`hitlgov.case_keys`): not a field
#: of the log (SCHEMA.md's identity stays ``system, case_id``) but a column of the relations that
#: join on a case. Optional for another engine: a lake without it is joined on the string key.
CASE_KEY = "case_key"
KEYED_TABLES: tuple[str, ...] = ("cases", "reviews", "case_attributes")

#: the canonical relations every source provides (the store's tables, a lake's views) and their
#: Ibis types; the store adds bookkeeping columns (run_id, source_row) the metrics never read
TABLES: dict[str, dict[str, str]] = {
    "cases": {"system": "string", "case_id": "string",
              **{n: BY_NAME[n].type for n in CASE_FIELDS}, CASE_KEY: "int64"},
    "reviews": {"system": "string", "case_id": "string",
                **{n: BY_NAME[n].type for n in REVIEW_COLUMNS}, CASE_KEY: "int64"},
    "case_attributes": {"system": "string", "case_id": "string", "name": "string", "value": "string",
                        CASE_KEY: "int64"},
    "systems": {"system": "string", "positive_label": "string", "label_order": "array<string>",
                "favourable_label": "string"},
    "attribute_roles": {"system": "string", "name": "string", "role": "string"},
    # review-stage verdicts (issue 12): a second person accepting or rejecting a stored review
    # (Label Studio Enterprise reviews[]); reviewer_id is the reviewed annotator
    "review_events": {"system": "string", "case_id": "string", "reviewer_id": "string", "reviewed_by": "string",
                      "accepted": "boolean", "reviewed_at": "timestamp", "event_id": "string", CASE_KEY: "int64"},
}
#: canonical relations added after the first release: a lake (Parquet export, views file,
#: catalog) that predates one has no rows of it (no review stage), rather than being refused
OPTIONAL_TABLES: tuple[str, ...] = ("review_events",)
