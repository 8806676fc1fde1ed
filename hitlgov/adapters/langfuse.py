"""Langfuse scores -> canonical decision-log rows: LLM-as-a-judge vs human annotation.

Langfuse (LLM observability) attaches *scores* to traces. Its public Scores API
(``GET /api/public/v2/scores``, ``GET /api/public/v3/scores``; fern definition
``fern/apis/server/definition/scores.yml`` in ``langfuse/langfuse``) returns JSON pages
``{"data": [score, ...], "meta": {...}}``; a trace fetched with ``GET /api/public/traces/{id}``
(or a trace export ``{"trace": {..., "scores": [...]}, "observations": [...]}``) carries its
scores too. Each score has ``id``, ``traceId``, ``observationId``, ``name``, ``source``
(``ANNOTATION`` a human in the UI or an annotation queue, ``EVAL`` an LLM-as-a-judge evaluator,
``API`` the application), ``dataType`` (``NUMERIC``, ``CATEGORICAL``, ``BOOLEAN``, ``TEXT``...),
``value`` / ``stringValue``, ``authorUserId``, ``comment``, ``timestamp``, ``queueId``.
Scores API v3 (the only read endpoint left on Langfuse v4; v2 is deprecated) replaces the flat
``traceId`` / ``observationId`` by a ``subject`` object (``{"kind": "trace", "id"}`` or
``{"kind": "observation", "id", "traceId"}``) and ``stringValue`` by one typed ``value``
(a boolean is ``true``/``false``, read as v2's ``"True"``/``"False"``); both versions are read.

Read: one page, a JSON list of pages, JSON Lines of pages (one ``GET`` per line), a bare JSON list
of scores, or a trace export.

Mapping -- a *case* is one score name on one trace (or observation): ``case_id`` =
``<traceId>/<name>`` (``<traceId>/<observationId>/<name>`` for an observation's score), so a
trace judged on "correctness" and on "toxicity" is two cases:

* the latest ``EVAL`` score (the judge) -> ``model_decision`` (``stringValue`` when given,
  else ``value``), ``model_score`` (its numeric ``value``), ``model_version`` =
  ``"langfuse-eval"`` plus its ``configId`` when set; ``ts`` = its ``timestamp`` (else the
  case's earliest score's). A case with no judge score is stored without a model decision.
* each ``ANNOTATION`` score -> one review: ``reviewer_id`` = ``authorUserId``,
  ``human_decision`` = its value, ``rationale`` = ``comment``, ``review_completed_at`` =
  ``timestamp``; ``queueId`` is kept as an attribute.
  ``--adapter-option review_sources=ANNOTATION,API`` also counts ``API`` scores as reviews.
* every other score (an earlier judge score, an ``API`` score) -> one unreviewed row of its case:
  a duplicate, so that rows read = scores read.
* a ``CORRECTION`` score (``dataType`` CORRECTION: a human rewrote the output in the UI; a trace
  export lists them under ``corrections``) is a review whose decision is the corrected text
  (``stringValue``; the trace export's ``longStringValue``). What it corrects is the model's
  output, so in a trace export the trace's (or the observation's) ``output`` is the case's
  model decision when no judge scored it (``ts`` = the trace's ``timestamp``, the observation's
  ``startTime``): a correction that changes the text is an override.

``--question NAME`` keeps one score name. Numeric scores compare as their exact value: to read
a 0-1 judge score as a label, give a ``labels:`` mapping or use a categorical/boolean score.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from hitlgov import hookimpl
from hitlgov.adapters import frame, head_text, json_kind, read_text, row, text
from hitlgov.errors import IngestError
from hitlgov.hookspecs import Reader

EXPECTED = "expected Langfuse Scores API pages ({\"data\": [scores], \"meta\": {...}}), a list of scores or a trace export"
JUDGE = "EVAL"
CORRECTION = "CORRECTION"


def detect(path: Path, head: bytes) -> bool:
    """Scores carry ``traceId`` (v3: a ``subject``) together with ``source`` and ``dataType``."""
    try:
        sample = head_text(head)
        return (sample.startswith(("{", "[")) and ('"traceId"' in sample or '"subject"' in sample)
                and '"source"' in sample
                and ('"dataType"' in sample or '"authorUserId"' in sample) and '"humanAnswers"' not in sample)
    except Exception:
        return False


def read(con: Any, path: Path, *, question: str | None = None, review_sources: str = "ANNOTATION") -> pd.DataFrame:
    """Read Langfuse scores; ``con`` is not needed."""
    scores = _scores(path)
    humans = {s.strip().upper() for s in review_sources.split(",") if s.strip()}
    if not scores:
        raise IngestError(f"{path}: the Langfuse export has no scores")
    names = list(dict.fromkeys(str(s.get("name")) for s in scores))
    if question is not None:
        if question not in names:
            raise IngestError(f"{path}: score name '{question}' (--question) is not in the Langfuse export "
                              f"(names: {', '.join(names)})")
        scores = [s for s in scores if str(s.get("name")) == question]
    cases: dict[str, list[tuple[int, dict]]] = {}
    for number, s in enumerate(scores, start=1):
        cases.setdefault(_case_id(path, number, s), []).append((number, s))
    rows = []
    for case_id, members in cases.items():
        judges = sorted((m for m in members if str(m[1].get("source")).upper() == JUDGE),
                        key=lambda m: str(m[1].get("timestamp") or ""))
        judge = judges[-1][1] if judges else {}
        corrected = next((s["_corrected_output"] for _, s in members if s.get("_corrected_output") is not None), None)
        times = sorted(str(t) for _, s in members if (t := s.get("timestamp")))
        output_at = next((s["_output_at"] for _, s in members if s.get("_output_at")), None)
        case = {"case_id": case_id, "ts": judge.get("timestamp") or output_at or (times[0] if times else None),
                "model_decision": _value(judge) if judge else corrected,
                "model_score": judge.get("value") if isinstance(judge.get("value"), (int, float))
                and not isinstance(judge.get("value"), bool) else None,
                "model_version": ("langfuse-eval" + (f":{judge['configId']}" if judge.get("configId") else ""))
                if judge else None}
        first = members[0][1]
        attributes = {k: v for k, v in (("trace_id", text(first.get("traceId"))), ("score_name", text(first.get("name"))),
                                         ("environment", text(first.get("environment")))) if v is not None}
        for number, s in members:
            review = {}
            if str(s.get("source")).upper() in humans:
                review = {"reviewer_id": s.get("authorUserId"), "human_decision": _value(s),
                          "rationale": s.get("comment"), "review_completed_at": s.get("timestamp")}
                if s.get("queueId"):
                    attributes["queue_id"] = text(s["queueId"])
            rows.append({**row(attributes, {**case, **review}, prefix="score"), "_record": number})
    # an attribute found on a later row must be on the case's every row (a case is one set of attributes)
    df = frame(rows)
    for column in ("queue_id",):
        if column in df:
            df[column] = df.groupby("case_id")[column].transform(lambda v: v.dropna().iloc[0] if v.notna().any() else None)
    return df


def _value(score: dict) -> Any:
    """A score's value as its label: ``stringValue`` (categorical, boolean, a correction's text),
    a correction's ``longStringValue`` (trace exports), else ``value``."""
    if score.get("stringValue") is not None:
        return score["stringValue"]
    if str(score.get("dataType")).upper() == CORRECTION:
        return score.get("longStringValue")
    return score.get("value")


def _output_text(output: Any) -> Any:
    """A trace/observation ``output`` as the text a correction replaces: Langfuse stores a plain
    string output JSON-encoded (``"\"Langfuse is...\""``), so a string that is a JSON string is
    decoded; structured output stays as its JSON text."""
    if isinstance(output, str):
        try:
            decoded = json.loads(output)
        except json.JSONDecodeError:
            return output
        return decoded if isinstance(decoded, str) else output
    return json.dumps(output, sort_keys=True) if isinstance(output, (dict, list)) else output


def _case_id(path: Path, number: int, score: dict) -> str:
    trace, name = text(score.get("traceId")), text(score.get("name"))
    if trace is None or name is None:
        missing = "traceId" if trace is None else "name"
        subject = score.get("subject")
        kind = str(subject.get("kind") or "").lower() if isinstance(subject, dict) else None
        why = ("session and dataset-run scores are not read"
               if missing == "name" or kind in ("session", "experiment") or "sessionId" in score or "datasetRunId" in score
               else "a Scores API v3 page must be fetched with fields=subject" if subject is None
               else "its 'subject' names no trace")
        raise IngestError(f"{path}: not a Langfuse scores export: score {number} has no '{missing}' ({why})")
    observation = text(score.get("observationId"))
    return f"{trace}/{observation}/{name}" if observation else f"{trace}/{name}"


def _scores(path: Path) -> list[dict]:
    content = read_text(path, "a Langfuse scores export")
    try:
        docs = [json.loads(content)]
    except json.JSONDecodeError as exc:
        if not content.lstrip("\ufeff \t\r\n").startswith("{"):
            raise IngestError(f"{path}: not a Langfuse scores export: invalid JSON at line {exc.lineno} "
                              f"column {exc.colno} ({exc.msg})") from None
        docs = []
        for number, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                try:
                    docs.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise IngestError(f"{path}: not a Langfuse scores export: line {number} is not valid JSON "
                                      f"({err.msg})") from None
    out: list[dict] = []
    for doc in docs:
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            out.extend(_page_scores(path, item))
    return out


def _page_scores(path: Path, item: Any) -> list[dict]:
    """A page's ``data``, a trace export's ``trace.scores``, a trace's ``scores``, or one score."""
    if not isinstance(item, dict):
        raise IngestError(f"{path}: not a Langfuse scores export: {EXPECTED} (found a JSON {json_kind(item)})")
    observations = item.get("observations") if isinstance(item.get("trace"), dict) else None
    if isinstance(item.get("trace"), dict):
        item = item["trace"]
    found = item.get("data") if "data" in item else item.get("scores") if "scores" in item else [item]
    if not isinstance(found, list) or not all(isinstance(s, dict) for s in found):
        raise IngestError(f"{path}: not a Langfuse scores export: 'data' is not a list of score objects")
    corrections = item.get("corrections") if "data" not in item else None
    if corrections is not None:
        if not isinstance(corrections, list) or not all(isinstance(s, dict) for s in corrections):
            raise IngestError(f"{path}: not a Langfuse scores export: 'corrections' is not a list of score objects")
        found = [*found, *(_with_corrected_output(c, item, observations) for c in corrections)]
    if "traceId" not in item and ("scores" in item or "corrections" in item) and item.get("id") is not None:
        found = [{"traceId": item["id"], **s} for s in found]  # a trace's own scores may omit it
    return [_from_v3(s) for s in found]


def _from_v3(score: dict) -> dict:
    """A Scores API v3 score in the v2 field names the mapping reads: ``subject`` -> ``traceId``
    (and ``observationId``), a boolean ``value`` -> ``stringValue`` ``"True"``/``"False"``. A
    session's or an experiment's score keeps no ``traceId`` (and is refused, as in v2)."""
    subject = score.get("subject")
    out = dict(score)
    if isinstance(subject, dict) and score.get("traceId") is None:
        kind = str(subject.get("kind") or "").lower()
        if kind == "trace":
            out["traceId"] = subject.get("id")
        elif kind == "observation":
            out["traceId"], out["observationId"] = subject.get("traceId"), subject.get("id")
    if isinstance(score.get("value"), bool) and score.get("stringValue") is None:
        out["stringValue"] = "True" if score["value"] else "False"
    return out


def _with_corrected_output(correction: dict, trace: dict, observations: Any) -> dict:
    """A correction with the output it corrects (the trace's, or its observation's)."""
    target = trace
    if correction.get("observationId") is not None:
        pool = [o for o in (observations or trace.get("observations") or []) if isinstance(o, dict)]
        target = next((o for o in pool if o.get("id") == correction["observationId"]), {})
    output = _output_text(target.get("output"))
    if output is None:
        return correction
    return {**correction, "_corrected_output": output,
            "_output_at": target.get("timestamp") or target.get("startTime")}  # when the model answered


@hookimpl
def hitlgov_readers() -> list[Reader]:
    return [Reader(name="langfuse", detect=detect, read=read, priority=10, annotation_source=True,
                   description="Langfuse scores (Scores API pages, trace exports): EVAL judge vs human ANNOTATION")]
