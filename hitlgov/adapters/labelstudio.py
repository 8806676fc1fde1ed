"""Label Studio JSON export -> canonical decision-log rows.

Follows Label Studio's documented export format ("Label Studio JSON format of annotated
tasks", https://labelstud.io/guide/task_format and https://labelstud.io/guide/export#JSON,
which is what ``GET /api/projects/{id}/export?exportType=JSON`` returns): a JSON list of tasks,
each with ``id``, ``data``, ``created_at``, ``annotations[]`` (``completed_by``, ``result[]``,
``was_cancelled``, ``ground_truth``, ``created_at``, ``updated_at``, ``lead_time``, and in
Label Studio Enterprise ``reviews[]``) and ``predictions[]`` (``model_version``, ``score``,
``result[]``, ``created_at``). Also read: one task object instead of a list, and the pre-1.0
format whose annotations are called ``completions``.

Mapping (one row per human review, SCHEMA §1):

* task ``id`` -> ``case_id``; the task's scalar ``data`` values -> case attributes.
* The most recent prediction (latest ``created_at``; else the last listed) -> ``model_decision``
  (its label for the chosen control), ``model_score`` (its ``score``, else the result item's),
  ``model_version``. ``ts`` = the prediction's ``created_at``, else the task's, else the
  earliest annotation's: Label Studio does not record when the model decided, the prediction's
  creation is the closest moment. A task without a prediction is stored with no model decision
  (Label Studio is an annotation tool: most projects have no model).
* The decision is the result of one control (``from_name``): ``--question NAME`` names it;
  by default the first control in the export whose results carry labels (``choices``,
  ``labels``, ``rectanglelabels``, ``polygonlabels``, ``taxonomy``, ``rating``... any result
  whose value has a key named like its type), a free-text ``textarea`` only when there is
  nothing else. All the control's result items in one annotation (several boxes) give one label:
  the set of their labels, sorted and joined with ``|``. A taxonomy path is joined with ``/``.
* Each annotation that was not cancelled (skipped) -> one review: ``reviewer_id`` =
  ``completed_by`` (a user id; when an object, its email, else its id; a pre-1.0 completion
  records no user: ``completion:<completion id>``, with a notice), ``human_decision`` = its
  label, ``rationale`` = the text of a ``textarea`` control (other than the decision),
  ``review_completed_at`` = ``created_at`` (else ``updated_at``), ``review_seconds`` =
  ``lead_time``, ``review_started_at`` = completed - lead_time.
* An annotation marked ``ground_truth`` gives the case's ``outcome`` (its label).
* Enterprise ``reviews[]`` (a reviewer accepting or rejecting an annotation) -> review-stage
  events in the ``_review_events`` column (JSON): the pipeline stores them in ``review_events``.
* A task with no (non-cancelled) annotation -> one unreviewed row. A cancelled (skipped)
  annotation is a row too, quarantined with the reason: every annotation read is accounted for.

Label Studio's CSV/TSV export flattens results to text and drops predictions, reviewers' ids and
review-stage events: it is recognised and refused with a message naming the JSON export.
"""
from __future__ import annotations

import json
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

TEXT_TYPES = ("textarea",)
EXPECTED = "expected a JSON list of tasks with 'annotations'"
CSV_COLUMNS = ("annotation_id", "annotator", "lead_time")
# JSON-MIN: one flat object per annotation (label-studio-converter ``convert_to_json_min``)
JSON_MIN_KEYS = ("annotation_id", "annotator", "lead_time")
JSON_MIN_META = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement")


def detect(path: Path, head: bytes) -> bool:
    """A JSON list (or one task object) carrying Label Studio's ``annotations``/``completions``."""
    try:
        sample = head_text(head)
        full = (sample.startswith(("[", "{")) and ('"annotations"' in sample or '"completions"' in sample)
                and ('"data"' in sample or '"predictions"' in sample) and '"humanAnswers"' not in sample)
        return full or (sample.startswith("[") and all(f'"{k}"' in sample for k in JSON_MIN_KEYS))
    except Exception:
        return False


def read(con: Any, path: Path, *, question: str | None = None) -> pd.DataFrame:
    """Read a Label Studio JSON export; ``con`` is not needed. ``question`` names the control
    (``from_name``) whose result is the decision."""
    tasks = load_json(path, "a Label Studio export")
    if isinstance(tasks, dict) and any(k in tasks for k in ("id", "annotations", "completions")):
        # one task exported / fetched alone (GET /api/tasks/{id})
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise IngestError(f"{path}: not a Label Studio export: {EXPECTED} (found a JSON {json_kind(tasks)})")
    if not tasks:
        raise IngestError(f"{path}: the Label Studio export has no tasks")
    if all(isinstance(t, dict) and "annotation_id" in t and "annotations" not in t for t in tasks):
        return _json_min(path, tasks, question)
    for number, task in enumerate(tasks, start=1):
        _check_task(path, number, task)
    controls = _controls(tasks)
    if question is not None and question not in controls:
        raise IngestError(f"{path}: control '{question}' (--question) is not in the Label Studio export "
                          f"(controls: {', '.join(controls) or 'none'})")
    chosen = question or _default_control(controls)
    rows = []
    for number, task in enumerate(tasks, start=1):
        rows.extend(_task_rows(number, task, chosen))
    df = frame(rows)
    notices = []
    if question is None and len(controls) > 1:
        notices.append(f"used control '{chosen}' as the decision (controls: {', '.join(controls)}); "
                       "choose another with --question NAME")
    anonymous = sum(1 for t in tasks if _is_pre1(t) for c in t["completions"] if _user(c.get("completed_by")) is None)
    if anonymous:
        notices.append(f"{anonymous} completion(s) of the pre-1.0 'completions' format have no completed_by: each "
                       "is credited to the placeholder reviewer 'completion:<completion id>' (one per completion, "
                       "so reviewer workload and agreement cannot tell who did them)")
    missing = sum(1 for t in tasks if not _annotations(t) and not (t.get("predictions") or []))
    if missing:
        notices.append(f"{missing} task(s) have neither annotations nor predictions")
    df.attrs["hitlgov_notices"] = notices
    return df


def _json_min(path: Path, records: list[dict], question: str | None) -> pd.DataFrame:
    """JSON-MIN: one object per annotation -- the task's data, ``id``, ``annotator``,
    ``annotation_id``, ``created_at``, ``updated_at``, ``lead_time`` and each control's result
    under its ``from_name`` (a string for one choice or text, else a list of region / choice
    objects). Without the labelling config a control cannot be told from a data field, so the
    decision is the control named by ``--question``, or the only field holding result objects."""
    fields = list(dict.fromkeys(k for r in records for k in r if k not in JSON_MIN_META))
    regions = [f for f in fields if any(isinstance(r.get(f), (list, dict)) and _min_labels(r.get(f)) for r in records)]
    if question is not None and question not in fields:
        raise IngestError(f"{path}: field '{question}' (--question) is not in the Label Studio JSON-MIN export "
                          f"(fields: {', '.join(fields)})")
    chosen = question or (regions[0] if len(regions) == 1 else None)
    if chosen is None:
        raise IngestError(f"{path}: Label Studio JSON-MIN export: name the field that holds the decision with "
                          f"--question NAME (fields: {', '.join(fields)}), or export JSON instead")
    first_seen: dict[str, list[str]] = {}
    for r in records:
        if (t := text(r.get("created_at") or r.get("updated_at"))) is not None:
            first_seen.setdefault(str(r.get("id")), []).append(t)
    rows = []
    for number, r in enumerate(records, start=1):
        if r.get("id") is None:
            raise IngestError(f"{path}: not a Label Studio export: record {number} has no 'id'")
        completed = r.get("created_at") or r.get("updated_at")
        times = sorted(first_seen.get(str(r["id"]), []))
        case = {"case_id": r["id"], "ts": times[0] if times else None,
                "reviewer_id": _user(r.get("annotator")), "human_decision": label(_min_labels(r.get(chosen))),
                "review_completed_at": completed, "review_seconds": r.get("lead_time"),
                "review_started_at": _minus(completed, r.get("lead_time"))}
        attributes = scalar_attributes({k: v for k, v in r.items() if k not in JSON_MIN_META and k != chosen})
        rows.append({**row(attributes, case, prefix="data"), "_record": number})
    df = frame(rows)
    df.attrs["hitlgov_notices"] = [] if question else [f"used field '{chosen}' of the JSON-MIN export as the decision"]
    return df


def _min_labels(value: Any) -> list[str] | None:
    """A JSON-MIN result: a string, or region/choice objects whose ``*labels``/``choices``/
    ``taxonomy``/``rating`` entries are the labels."""
    if isinstance(value, str):
        return [value]
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for k, v in item.items():
                if k.endswith("labels") or k in ("choices", "taxonomy", "rating"):
                    for x in v if isinstance(v, list) else [v]:
                        x = "/".join(map(str, x)) if isinstance(x, list) else x
                        if (t := text(x)) is not None:
                            out.append(t)
    return out or None


def _annotations(task: dict) -> list[dict]:
    """``annotations``; before Label Studio 1.0 they were called ``completions``."""
    return task.get("annotations") if task.get("annotations") is not None else (task.get("completions") or [])


def _check_task(path: Path, number: int, task: Any) -> None:
    where = f"{path}: not a Label Studio export: task {number}"
    if not isinstance(task, dict):
        raise IngestError(f"{where} is a JSON {json_kind(task)}, not an object ({EXPECTED})")
    if task.get("id") is None:
        raise IngestError(f"{where} has no 'id'")
    for key, value in (("annotations", _annotations(task)), ("predictions", task.get("predictions") or [])):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise IngestError(f"{where}: '{key}' is not a list of objects")
    kind = "completion" if _is_pre1(task) else "annotation"
    for n, a in enumerate(_annotations(task), start=1):
        reviews = a.get("reviews") or []
        if not isinstance(reviews, list):
            raise IngestError(f"{where}: {kind} {n}: 'reviews' is a JSON {json_kind(reviews)}, not a list")
        for i, r in enumerate(reviews, start=1):
            if not isinstance(r, dict):
                raise IngestError(f"{where}: {kind} {n}: 'reviews' item {i} is a JSON {json_kind(r)}, not an object")
    for key, entries in ((kind, _annotations(task)), ("prediction", task.get("predictions") or [])):
        for n, entry in enumerate(entries, start=1):
            result = entry.get("result")
            if result is None:
                continue
            if not isinstance(result, list):
                raise IngestError(f"{where}: {key} {n}: 'result' is a JSON {json_kind(result)}, not a list")
            for i, item in enumerate(result, start=1):
                if not isinstance(item, dict):
                    raise IngestError(f"{where}: {key} {n}: 'result' item {i} is a JSON {json_kind(item)}, "
                                      "not an object")


def _controls(tasks: list[dict]) -> dict[str, str]:
    """Every control (``from_name``) with a labelled result, in export order -> its type."""
    found: dict[str, str] = {}
    for task in tasks:
        for entry in [*_annotations(task), *(task.get("predictions") or [])]:
            for item in entry.get("result") or [] if isinstance(entry.get("result"), list) else []:
                if isinstance(item, dict) and _labels_of(item) is not None and item.get("from_name") is not None:
                    found.setdefault(str(item["from_name"]), str(item.get("type")))
    return found


def _default_control(controls: dict[str, str]) -> str | None:
    """The first control with labels; free text only when there is nothing else."""
    labelled = [name for name, kind in controls.items() if kind not in TEXT_TYPES]
    return (labelled or list(controls) or [None])[0]


def _task_rows(number: int, task: dict, chosen: str | None) -> list[dict]:
    annotations = _annotations(task)
    predictions = task.get("predictions") or []

    prediction = _latest(predictions)
    items = _items(prediction.get("result"), chosen)
    reviews = [a for a in annotations if not a.get("was_cancelled")]
    submitted = sorted(str(t) for a in reviews if (t := a.get("created_at") or a.get("updated_at")))
    case = {
        "case_id": task["id"],
        "ts": prediction.get("created_at") or task.get("created_at") or (submitted[0] if submitted else None),
        "model_version": prediction.get("model_version") or None,
        "model_decision": _decision(items),
        "model_score": _first(prediction.get("score"), *(i.get("score") for i in items)),
    }
    for a in reviews:
        if a.get("ground_truth"):
            case["outcome"] = _decision(_items(a.get("result"), chosen))
    attributes = scalar_attributes(task.get("data"))
    # a skipped (cancelled) annotation is not a review, but it is in the export: kept, quarantined
    old = _is_pre1(task)
    skipped = [{**row(attributes, {**case, **_review(a, chosen, old, task)}, prefix="data"), "_record": number,
                "_reject": f"skipped annotation (was_cancelled) by {_user(a.get('completed_by'))}: not a review"}
               for a in annotations if a.get("was_cancelled")]
    if not reviews:
        return [{**row(attributes, case, prefix="data"), "_record": number}, *skipped]
    return [{**row(attributes, {**case, **_review(a, chosen, old, task)}, prefix="data"), "_record": number,
             "_review_events": _review_events(a)}
            for a in reviews] + skipped


def _is_pre1(task: dict) -> bool:
    """A task of the pre-1.0 format: its annotations are ``completions``."""
    return task.get("annotations") is None and bool(task.get("completions"))


def _placeholder(completion: dict, task: dict) -> str:
    """The stand-in reviewer of a pre-1.0 completion without ``completed_by`` (Label Studio
    before 1.0 recorded no user): ``completion:<completion id>``, else
    ``completion:<task id>/<position>`` -- stable, so ingesting the export again finds the same review."""
    if text(completion.get("id")) is not None:
        return f"completion:{text(completion['id'])}"
    position = next(i for i, c in enumerate(task["completions"], start=1) if c is completion)
    return f"completion:{text(task.get('id'))}/{position}"


def _review(annotation: dict, chosen: str | None, pre1: bool = False, task: dict | None = None) -> dict:
    completed = annotation.get("created_at") or annotation.get("updated_at")
    seconds = annotation.get("lead_time")
    reviewer = _user(annotation.get("completed_by"))
    if reviewer is None and pre1 and task is not None:
        reviewer = _placeholder(annotation, task)
    return {
        "reviewer_id": reviewer,
        "human_decision": _decision(_items(annotation.get("result"), chosen)),
        "rationale": _textarea(annotation.get("result"), chosen),
        "review_started_at": _minus(completed, seconds),
        "review_completed_at": completed,
        "review_seconds": seconds,
    }


def _review_events(annotation: dict) -> str | None:
    """Enterprise review stage: who accepted or rejected this annotation, and when (JSON)."""
    events = [{"reviewed_by": _user(r.get("created_by")), "accepted": r.get("accepted"),
               "reviewed_at": r.get("created_at"), "review_id": text(r.get("id"))}
              for r in annotation.get("reviews") or [] if isinstance(r, dict)]
    return json.dumps(events) if events else None


def _latest(predictions: list[dict]) -> dict:
    """The most recent prediction ({} if none); list order breaks ties and stands in for missing dates."""
    if not predictions:
        return {}
    dated = [(str(p.get("created_at") or ""), i) for i, p in enumerate(predictions)]
    return predictions[max(dated)[1]] if all(d for d, _ in dated) else predictions[-1]


def _labels_of(item: dict) -> list[str] | None:
    """The labels of one result item: ``value[<type>]`` (``choices``, ``rectanglelabels``,
    ``rating``, ``taxonomy`` paths joined with ``/``; ``textarea`` is ``value.text``)."""
    value, kind = item.get("value"), item.get("type")
    if not isinstance(value, dict) or not isinstance(kind, str):
        return None
    given = value.get("text") if kind in TEXT_TYPES else value.get(kind)
    if given is None:
        return None
    if kind in TEXT_TYPES:
        lines = given if isinstance(given, list) else [given]
        joined = "\n".join(t for t in (text(x) for x in lines) if t is not None)
        return [joined] if joined else None
    out = []
    for v in given if isinstance(given, list) else [given]:
        if isinstance(v, list):  # a taxonomy path
            v = "/".join(t for t in (text(x) for x in v) if t is not None)
        if (t := text(v)) is not None:
            out.append(t)
    return out or None


def _items(result: Any, chosen: str | None) -> list[dict]:
    """The result items of the chosen control."""
    return [i for i in result if isinstance(i, dict) and chosen is not None and str(i.get("from_name")) == chosen
            and _labels_of(i) is not None] if isinstance(result, list) else []


def _decision(items: list[dict]) -> str | None:
    """All the control's items (several boxes) as one label: their label set, joined with ``|``."""
    if not items:
        return None
    if items[0].get("type") in TEXT_TYPES:
        return _labels_of(items[0])[0]
    return label([x for i in items for x in _labels_of(i)])


def _textarea(result: Any, chosen: str | None) -> str | None:
    for item in result if isinstance(result, list) else []:
        if (isinstance(item, dict) and item.get("type") in TEXT_TYPES and str(item.get("from_name")) != chosen
                and (labels := _labels_of(item))):
            return labels[0]
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


def detect_csv(path: Path, head: bytes) -> bool:
    """Label Studio's CSV/TSV export: a header with ``annotation_id``, ``annotator``, ``lead_time``."""
    try:
        first = head_text(head).splitlines()[0] if head else ""
        return all(f'"{c}"' in first or c in first.replace('"', "").replace("\t", ",").split(",")
                   for c in CSV_COLUMNS)
    except Exception:
        return False


def read_csv(con: Any, path: Path) -> pd.DataFrame:
    raise IngestError(f"{path}: this is a Label Studio CSV/TSV export, which drops predictions, reviewer ids and "
                      "review events; export JSON instead (Export -> JSON, or "
                      "GET /api/projects/<id>/export?exportType=JSON) and ingest that file")


@hookimpl
def hitlgov_readers() -> list[Reader]:
    return [Reader(name="labelstudio", detect=detect, read=read, priority=10, annotation_source=True,
                   description="Label Studio JSON export (tasks with annotations and predictions)"),
            Reader(name="labelstudio-csv", detect=detect_csv, read=read_csv, priority=11,
                   description="Label Studio CSV/TSV export (refused: export JSON instead)")]
