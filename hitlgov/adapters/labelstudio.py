"""Label Studio JSON export -> canonical decision-log rows.

Follows Label Studio's documented export format ("Label Studio JSON format of annotated
tasks", https://labelstud.io/guide/task_format and https://labelstud.io/guide/export#JSON,
which is what ``GET /api/projects/{id}/export?exportType=JSON`` returns): a JSON list of tasks,
each with ``id``, ``data``, ``created_at``, ``annotations[]`` (``completed_by``, ``result[]``,
``was_cancelled``, ``ground_truth``, ``created_at``, ``updated_at``, ``lead_time``) and
``predictions[]`` (``model_version``, ``score``, ``result[]``, ``created_at``).

Mapping (one row per human review, SCHEMA §1):

* task ``id`` -> ``case_id``; the task's scalar ``data`` values -> case attributes.
* The most recent prediction (latest ``created_at``; else the last listed) -> ``model_decision``
  (its ``choices``/``labels`` result), ``model_score`` (its ``score``, else the result item's),
  ``model_version``. ``ts`` = the prediction's ``created_at``, else the task's: Label Studio
  does not record when the model decided, the prediction's creation is the closest moment.
* Each annotation that was not cancelled (skipped) -> one review: ``reviewer_id`` =
  ``completed_by`` (a user id; when an object, its email, else its id), ``human_decision`` = its
  ``choices``/``labels`` result, ``rationale`` = its ``textarea`` text, ``review_completed_at`` =
  ``created_at`` (when it was submitted; else ``updated_at``), ``review_seconds`` =
  ``lead_time``, ``review_started_at`` = completed - lead_time.
* An annotation marked ``ground_truth`` gives the case's ``outcome`` (its label).
* A task with no (non-cancelled) annotation -> one unreviewed row. A task with no prediction
  still yields its rows: the pipeline quarantines them ("missing required field
  model_decision").

Several choice controls: the first ``choices``/``labels`` result is the decision, or the one
whose ``from_name`` is given with ``read(..., from_name=...)``.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from hitlgov import hookimpl
from hitlgov.adapters import (
    frame,
    head_text,
    json_kind,
    label,
    load_json,
    row,
    scalar_attributes,
    text,
)
from hitlgov.errors import IngestError
from hitlgov.hookspecs import Reader

DECISION_TYPES = ("choices", "labels")
EXPECTED = "expected a JSON list of tasks with 'annotations'"


def detect(path: Path, head: bytes) -> bool:
    """A JSON list whose first task carries Label Studio's ``annotations`` key."""
    try:
        sample = head_text(head)
        return (sample.startswith("[") and '"annotations"' in sample
                and ('"data"' in sample or '"predictions"' in sample) and '"humanAnswers"' not in sample)
    except Exception:
        return False


def read(con: Any, path: Path, *, from_name: str | None = None) -> pd.DataFrame:
    """Read a Label Studio JSON export; ``con`` is not needed."""
    tasks = load_json(path, "a Label Studio export")
    if not isinstance(tasks, list):
        raise IngestError(f"{path}: not a Label Studio export: {EXPECTED} (found a JSON {json_kind(tasks)})")
    if not tasks:
        raise IngestError(f"{path}: the Label Studio export has no tasks")
    rows = []
    for number, task in enumerate(tasks, start=1):
        rows.extend(_task_rows(path, number, task, from_name))
    return frame(rows)


def _task_rows(path: Path, number: int, task: Any, from_name: str | None) -> list[dict]:
    where = f"{path}: not a Label Studio export: task {number}"
    if not isinstance(task, dict):
        raise IngestError(f"{where} is a JSON {json_kind(task)}, not an object ({EXPECTED})")
    if task.get("id") is None:
        raise IngestError(f"{where} has no 'id'")
    annotations = task.get("annotations") or []
    predictions = task.get("predictions") or []
    for key, value in (("annotations", annotations), ("predictions", predictions)):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise IngestError(f"{where}: '{key}' is not a list of objects")

    prediction = _latest(predictions)
    decision_item = _decision_item(prediction.get("result"), from_name) or {}
    case = {
        "case_id": task["id"],
        "ts": prediction.get("created_at") or task.get("created_at"),
        "model_version": prediction.get("model_version") or None,
        "model_decision": _decision(decision_item),
        "model_score": _first(prediction.get("score"), decision_item.get("score")),
    }
    reviews = [a for a in annotations if not a.get("was_cancelled")]
    for a in reviews:
        if a.get("ground_truth"):
            case["outcome"] = _decision(_decision_item(a.get("result"), from_name))
    attributes = scalar_attributes(task.get("data"))
    if not reviews:
        return [{**row(attributes, case, prefix="data"), "_record": number}]
    return [{**row(attributes, {**case, **_review(a, from_name)}, prefix="data"), "_record": number}
            for a in reviews]


def _review(annotation: dict, from_name: str | None) -> dict:
    completed = annotation.get("created_at") or annotation.get("updated_at")
    seconds = annotation.get("lead_time")
    return {
        "reviewer_id": _user(annotation.get("completed_by")),
        "human_decision": _decision(_decision_item(annotation.get("result"), from_name)),
        "rationale": _textarea(annotation.get("result")),
        "review_started_at": _minus(completed, seconds),
        "review_completed_at": completed,
        "review_seconds": seconds,
    }


def _latest(predictions: list[dict]) -> dict:
    """The most recent prediction ({} if none); list order breaks ties and stands in for missing dates."""
    if not predictions:
        return {}
    dated = [(str(p.get("created_at") or ""), i) for i, p in enumerate(predictions)]
    return predictions[max(dated)[1]] if all(d for d, _ in dated) else predictions[-1]


def _decision_item(result: Any, from_name: str | None) -> dict | None:
    for item in result if isinstance(result, list) else []:
        if (isinstance(item, dict) and item.get("type") in DECISION_TYPES
                and (from_name is None or item.get("from_name") == from_name)):
            return item
    return None


def _decision(item: dict | None) -> str | None:
    if not item or not isinstance(item.get("value"), dict):
        return None
    return label(item["value"].get(item["type"]))


def _textarea(result: Any) -> str | None:
    for item in result if isinstance(result, list) else []:
        if isinstance(item, dict) and item.get("type") == "textarea" and isinstance(item.get("value"), dict):
            lines = item["value"].get("text")
            return "\n".join(map(str, lines)) if isinstance(lines, list) else text(lines)
    return None


def _user(completed_by: Any) -> str | None:
    """``completed_by`` is a user id; some versions export the user object (email, id...)."""
    if isinstance(completed_by, dict):
        return text(completed_by.get("email")) or text(completed_by.get("id"))
    return text(completed_by)


def _minus(completed: Any, seconds: Any) -> str | None:
    """``completed - seconds`` as ISO 8601; None when either is missing or unparsable."""
    try:
        end = datetime.fromisoformat(str(completed))
        started = (end - timedelta(seconds=float(seconds))).isoformat()
    except (TypeError, ValueError, OverflowError):
        return None
    return started[:-6] + "Z" if started.endswith("+00:00") else started


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


@hookimpl
def hitlgov_readers() -> list[Reader]:
    return [Reader(name="labelstudio", detect=detect, read=read, priority=10,
                   description="Label Studio JSON export (tasks with annotations and predictions)")]
