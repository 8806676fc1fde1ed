"""Argilla dataset records export -> canonical decision-log rows.

Shapes read (a JSON list of records, or JSON Lines with one record per line), each as the
Argilla source writes it:

* **2.x nested** -- ``dataset.records.to_list(flatten=False)`` / ``dataset.records.to_json(path)``
  (``Record.to_dict`` in ``argilla/records/_resource.py``): ``{"id", "fields": {...},
  "metadata": {...}, "suggestions": {question: {"value", "score", "agent"}}, "responses":
  {question: [{"value", "user_id"}]}, "vectors", "status", "_server_id"}``.
* **2.x flattened / Hugging Face datasets** -- ``to_list(flatten=True)``, ``to_datasets()`` and
  ``to_hub`` (``GenericIO._record_to_dict`` in ``argilla/records/_io/_generic.py``): fields and
  metadata at the top level, ``<q>.responses``, ``<q>.responses.users``,
  ``<q>.responses.status``, ``<q>.suggestion``, ``<q>.suggestion.score``,
  ``<q>.suggestion.agent``. A ``datasets`` ``to_json`` of it is JSON Lines.
* **1.x FeedbackDataset records** (``FeedbackRecord``: ``schemas/records.py``,
  ``responses.py``, ``suggestions.py``): ``{"fields", "metadata", "external_id",
  "responses": [{"user_id", "values": {question: {"value"}}, "status"}], "suggestions":
  [{"question_name", "value", "score", "agent", "type"}]}``.
* **1.x Hugging Face format** (``FeedbackDataset.format_as("datasets")`` / ``push_to_huggingface``):
  fields at the top level, ``<q>: [{"user_id", "value", "status"}]``, ``<q>-suggestion``,
  ``<q>-suggestion-metadata: {"type", "score", "agent"}``, ``external_id``, ``metadata`` (a
  JSON string).

Mapping: record id (``id``; 1.x ``external_id``) -> ``case_id``; the question's suggestion ->
``model_decision`` (value), ``model_score`` (score), ``model_version`` (agent); each
*submitted* response -> one review (``reviewer_id`` = ``user_id``, ``human_decision`` =
value); ``discarded`` and ``draft`` responses are not reviews: each is a row quarantined with
that reason, so every response read is accounted for. The 2.x nested export carries no
response status: there every response counts as submitted (use the flattened export to tell
drafts apart). Scalar fields and metadata -> case attributes.

``ts`` (when the model decided): a field or metadata property named ``ts`` (or the one named by
``ts_field=``); else the record's ``inserted_at`` (else ``updated_at``) where the export has
them; else the earliest response's ``inserted_at``/``updated_at``. An export with none of these
is refused before anything is stored, naming ``--default-ts DATE``. A response's
``updated_at`` (else ``inserted_at``) is its ``review_completed_at``.

A record without a suggestion is stored with no model decision (Argilla is an annotation tool).

The question: the one named by ``question=`` (``--question``), else the first question (in
export order) with label-like values -- numbers, lists of labels, or short strings (at most 40
characters and four words: a label or a rating, not free text) -- preferring one that has
suggestions; a notice says which was used when there are several. A multi-label answer becomes
its labels sorted and joined with ``|``. The question named by
``rationale_question=`` (default ``rationale``), when present, gives each reviewer's
``rationale``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hitlgov import hookimpl
from hitlgov.adapters import (
    frame,
    head_text,
    json_kind,
    label,
    read_text,
    row,
    scalar_attributes,
    text,
)
from hitlgov.errors import IngestError
from hitlgov.hookspecs import Reader

EXPECTED = "expected a JSON list or JSON Lines of Argilla records with fields, suggestions and responses"
REVIEW_STATUSES = ("submitted", None)  # None: the 2.x nested export has no response status
_NOT_ATTRIBUTES = ("id", "external_id", "status", "_server_id", "metadata", "fields", "vectors", "inserted_at", "updated_at",
                   "responses", "suggestions")


@dataclass
class _Record:
    number: int
    id: Any
    attributes: dict[str, str]
    inserted_at: Any = None  # the record's own time (2.x / 1.x server exports), when exported
    fields: dict = field(default_factory=dict)  # the record's content, for a case id when it has none
    suggestions: dict[str, dict] = field(default_factory=dict)   # question -> {value, score, agent}
    responses: dict[str, list[dict]] = field(default_factory=dict)  # question -> [{value, user_id, status}]


def detect(path: Path, head: bytes) -> bool:
    """JSON list or JSON Lines whose first record has Argilla's response/suggestion layout."""
    try:
        sample = head_text(head)
        if not sample.startswith(("[", "{")) or '"annotations"' in sample or '"humanAnswers"' in sample:
            return False
        nested = '"fields"' in sample and ('"responses"' in sample or '"suggestions"' in sample)
        flat = '.responses"' in sample or '.suggestion"' in sample
        v1_hf = '-suggestion-metadata"' in sample
        return nested or flat or v1_hf
    except Exception:
        return False


def read(con: Any, path: Path, *, question: str | None = None, rationale_question: str = "rationale",
         ts_field: str = "ts") -> pd.DataFrame:
    """Read an Argilla records export; ``con`` is not needed."""
    records = [_normalise(path, n, r) for n, r in enumerate(_load(path), start=1)]
    if not records:
        raise IngestError(f"{path}: the Argilla export has no records")
    unnamed = [r for r in records if r.id is None]
    for r in unnamed:
        r.id = content_id(r.fields)
    chosen = question or _pick_question(records, exclude=rationale_question)
    names = list(dict.fromkeys(q for r in records for q in (*r.suggestions, *r.responses) if q != rationale_question))
    if question and not any(question in r.suggestions or question in r.responses for r in records):
        raise IngestError(f"{path}: question '{question}' (--question) is not in the Argilla export "
                          f"(questions: {', '.join(sorted(names)) or 'none'})")
    rows = []
    for r in records:
        suggestion = r.suggestions.get(chosen, {})
        attributes = dict(r.attributes)
        answered = sorted(str(t) for x in r.responses.get(chosen, []) if (t := _answered_at(x)))
        case = {
            "case_id": r.id,
            "ts": attributes.pop(ts_field, None) or r.inserted_at or (answered[0] if answered else None),
            "model_decision": label(suggestion.get("value")),
            "model_score": suggestion.get("score"),
            "model_version": suggestion.get("agent"),
        }
        rationale = {x.get("user_id"): x.get("value") for x in r.responses.get(rationale_question, [])}
        reviews = [x for x in r.responses.get(chosen, []) if x.get("status") in REVIEW_STATUSES]
        for x in reviews:
            review = {"reviewer_id": x.get("user_id"), "human_decision": label(x.get("value")),
                      "rationale": rationale.get(x.get("user_id")), "review_completed_at": _answered_at(x)}
            rows.append({**row(attributes, {**case, **review}, prefix="metadata"), "_record": r.number})
        if not reviews:
            rows.append({**row(attributes, case, prefix="metadata"), "_record": r.number})
        for x in r.responses.get(chosen, []):  # in the export, not a review: kept, quarantined
            if x.get("status") not in REVIEW_STATUSES:
                review = {"reviewer_id": x.get("user_id"), "human_decision": label(x.get("value"))}
                rows.append({**row(attributes, {**case, **review}, prefix="metadata"), "_record": r.number,
                             "_reject": f"{x.get('status')} response by {x.get('user_id')}: not a submitted review"})
    df = frame(rows)
    notices = []
    if question is None and len(names) > 1:
        notices.append(f"used question '{chosen}' as the decision (questions: {', '.join(names)}); "
                       "choose another with --question NAME")
    if unnamed:
        notices.append(f"{len(unnamed)} of {len(records)} record(s) have no id or external_id: each is identified "
                       "by a hash of its fields ('fields:<sha256>'), so the same record in another export is the "
                       "same case; give records an external_id when you log them")
    if notices:
        df.attrs["hitlgov_notices"] = notices
    return df


def content_id(fields: dict) -> str:
    """A case id for a record the export names no id for (argilla 1.x ``FeedbackRecord`` exports
    whose ``external_id`` is null): the SHA-256 of its fields, empty ones left out, so the record
    gets the same id in every layout and every export (not its position, which changes)."""
    content = {str(k): v for k, v in fields.items() if v is not None}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    return f"fields:{digest[:32]}"


def _answered_at(response: dict) -> Any:
    return response.get("updated_at") or response.get("inserted_at")


def _load(path: Path) -> list:
    """A JSON list of records, or JSON Lines (one record per line)."""
    content = read_text(path, "an Argilla export")
    if not content.strip():
        return []
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        if not content.lstrip("\ufeff \t\r\n").startswith("{"):
            raise IngestError(f"{path}: not an Argilla export: invalid JSON at line {exc.lineno} "
                              f"column {exc.colno} ({exc.msg})") from None
        data = []
        for number, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                try:
                    data.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise IngestError(f"{path}: not an Argilla export: line {number} is not valid JSON "
                                      f"({err.msg})") from None
    if isinstance(data, dict):
        data = [data]  # a JSON Lines file of one record
    if not isinstance(data, list):
        raise IngestError(f"{path}: not an Argilla export: {EXPECTED} (found a JSON {json_kind(data)})")
    return data


def _normalise(path: Path, number: int, rec: Any) -> _Record:
    where = f"{path}: not an Argilla export: record {number}"
    if not isinstance(rec, dict):
        raise IngestError(f"{where} is a JSON {json_kind(rec)}, not an object ({EXPECTED})")
    if isinstance(rec.get("fields"), dict):
        return _nested(where, number, rec)
    if any(k.endswith((".responses", ".suggestion")) for k in rec):
        return _flat(where, number, rec)
    if any(k.endswith("-suggestion-metadata") for k in rec):
        return _v1_hf(where, number, rec)
    raise IngestError(f"{where} has no 'fields' and no question columns ({EXPECTED})")


def _attributes(fields: Any, metadata: Any) -> dict[str, str]:
    """Scalar fields, then metadata (a metadata name already used by a field gets a prefix)."""
    attributes = scalar_attributes(fields)
    for name, value in scalar_attributes(metadata).items():
        attributes[f"metadata.{name}" if name in attributes else name] = value
    return attributes


def _nested(where: str, number: int, rec: dict) -> _Record:
    """2.x ``to_list(flatten=False)`` (dicts by question) or 1.x ``FeedbackRecord`` (lists)."""
    record_id = rec.get("external_id") if rec.get("external_id") is not None else rec.get("id")
    out = _Record(number, record_id, _attributes(rec["fields"], rec.get("metadata")),
                  inserted_at=rec.get("inserted_at") or rec.get("updated_at"), fields=rec["fields"])
    suggestions, responses = rec.get("suggestions") or {}, rec.get("responses") or {}
    if isinstance(suggestions, dict):  # 2.x
        out.suggestions = {q: s for q, s in suggestions.items() if isinstance(s, dict)}
    elif isinstance(suggestions, list):  # 1.x
        out.suggestions = {s["question_name"]: s for s in suggestions if isinstance(s, dict) and "question_name" in s}
    else:
        raise IngestError(f"{where}: 'suggestions' is a JSON {json_kind(suggestions)}")
    if isinstance(responses, dict):  # 2.x: question -> [{value, user_id}]
        for q, answers in responses.items():
            if not isinstance(answers, list):
                raise IngestError(f"{where}: responses of '{q}' are not a list")
            for i, a in enumerate(answers, start=1):
                if not isinstance(a, dict):
                    raise IngestError(f"{where}: response {i} of 'responses.{q}' is a JSON {json_kind(a)}, "
                                      "not an object")
            out.responses[q] = answers
    elif isinstance(responses, list):  # 1.x: one response per user with values by question
        for i, response in enumerate(responses, start=1):
            if not isinstance(response, dict) or not isinstance(response.get("values") or {}, dict):
                raise IngestError(f"{where}: response {i} of 'responses' is not an object with 'values'")
            for q, value in (response.get("values") or {}).items():
                out.responses.setdefault(q, []).append({
                    "value": value.get("value") if isinstance(value, dict) else value,
                    "user_id": response.get("user_id"), "status": response.get("status", "submitted"),
                    "inserted_at": response.get("inserted_at"), "updated_at": response.get("updated_at")})
    else:
        raise IngestError(f"{where}: 'responses' is a JSON {json_kind(responses)}")
    return out


def _flat(where: str, number: int, rec: dict) -> _Record:
    """2.x ``to_list(flatten=True)`` / Hugging Face datasets: dotted question columns."""
    questions = list(dict.fromkeys(k.rsplit(".", 1)[0] for k in rec if k.endswith((".responses", ".suggestion"))))
    used = {f"{q}{s}" for q in questions for s in (".responses", ".responses.users", ".responses.status",
                                                   ".suggestion", ".suggestion.score", ".suggestion.agent")}
    content = {k: v for k, v in rec.items() if k not in used and k not in _NOT_ATTRIBUTES}
    out = _Record(number, rec.get("id"), scalar_attributes(content), fields=content,
                  inserted_at=rec.get("inserted_at") or rec.get("updated_at"))
    for q in questions:
        if rec.get(f"{q}.suggestion") is not None:
            out.suggestions[q] = {"value": rec.get(f"{q}.suggestion"), "score": rec.get(f"{q}.suggestion.score"),
                                  "agent": rec.get(f"{q}.suggestion.agent")}
        values = rec.get(f"{q}.responses") or []
        users = rec.get(f"{q}.responses.users") or []
        statuses = rec.get(f"{q}.responses.status") or []
        for name, given in ((".responses", values), (".responses.users", users), (".responses.status", statuses)):
            if not isinstance(given, list):
                raise IngestError(f"{where}: '{q}{name}' is a JSON {json_kind(given)}, not a list")
        out.responses[q] = [{"value": v, "user_id": u, "status": s}
                            for v, u, s in zip(values, users, [*statuses, *[None] * len(values)])]
    return out


def _v1_hf(where: str, number: int, rec: dict) -> _Record:
    """1.x ``format_as("datasets")``: ``<q>`` response lists and ``<q>-suggestion`` columns."""
    questions = [k[: -len("-suggestion-metadata")] for k in rec if k.endswith("-suggestion-metadata")]
    used = {f"{q}{s}" for q in questions for s in ("", "-suggestion", "-suggestion-metadata")}
    metadata = rec.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            metadata = {"metadata": metadata}
    fields = {k: v for k, v in rec.items() if k not in used and k not in _NOT_ATTRIBUTES}
    out = _Record(number, rec.get("external_id"), _attributes(fields, metadata), fields=fields)
    for q in questions:
        meta = rec.get(f"{q}-suggestion-metadata") or {}
        if rec.get(f"{q}-suggestion") is not None:
            out.suggestions[q] = {"value": rec.get(f"{q}-suggestion"), "score": meta.get("score"),
                                  "agent": meta.get("agent")}
        out.responses[q] = _response_list(where, q, rec.get(q))
    return out


def _response_list(where: str, question: str, given: Any) -> list[dict]:
    """``<q>`` of the 1.x Hugging Face layout: a list of ``{user_id, value, status}``, or -- as
    ``push_to_huggingface`` writes it -- a dict of lists ``{user_id: [...], value: [...], status:
    [...]}`` (one entry per response)."""
    if isinstance(given, dict):
        for k, v in given.items():
            if not isinstance(v, list):
                raise IngestError(f"{where}: '{question}.{k}' is a JSON {json_kind(v)}, not a list of responses")
        n = max((len(v) for v in given.values()), default=0)
        return [{k: (v[i] if i < len(v) else None) for k, v in given.items()} for i in range(n)]
    if given is not None and not isinstance(given, list):
        raise IngestError(f"{where}: '{question}' is a JSON {json_kind(given)}, not a list of responses")
    for i, a in enumerate(given or [], start=1):
        if not isinstance(a, dict):
            raise IngestError(f"{where}: response {i} of '{question}' is a JSON {json_kind(a)}, not an object")
    return list(given or [])


def _pick_question(records: list[_Record], *, exclude: str) -> str | None:
    """The first question, in export order, with a suggestion and label-like values."""
    order: dict[str, None] = {}
    for r in records:
        order.update((q, None) for q in (*r.suggestions, *r.responses) if q != exclude)

    def short(v: Any) -> bool:  # a label or rating, not free text
        t = text(v)
        return t is not None and (not isinstance(v, str) or (len(t) <= 40 and len(t.split()) <= 4))

    def label_like(q: str) -> bool:
        values = [r.suggestions[q].get("value") for r in records if q in r.suggestions]
        values += [a.get("value") for r in records for a in r.responses.get(q, [])]
        return all(v is None or short(v) or (isinstance(v, list) and all(short(x) for x in v))
                   for v in values)

    suggested = [q for q in order if any(q in r.suggestions for r in records)]
    return next((q for q in suggested + list(order) if label_like(q)), next(iter(order), None))


@hookimpl
def hitlgov_readers() -> list[Reader]:
    return [Reader(name="argilla", detect=detect, read=read, priority=10, annotation_source=True,
                   description="Argilla dataset records (2.x nested or flattened, 1.x FeedbackDataset), "
                               "JSON or JSON Lines")]
