"""Amazon SageMaker Augmented AI (A2I) human-loop output -> canonical decision-log rows.

A2I writes one ``output.json`` per human loop to the flow definition's S3 output path,
``s3://<bucket>/<prefix>/<flow-definition-name>/YYYY/MM/DD/hh/mm/ss/<human-loop-name>/output.json``
(the date/time is the loop's creation), documented in the SageMaker developer guide, "Amazon
A2I Output Data" (a2i-output-data.md): ``{"flowDefinitionArn", "humanLoopName", "inputContent":
{...}, "humanAnswers": [{"answerContent": {...}, "acceptanceTime", "submissionTime",
"timeSpentInSeconds", "workerId", "workerMetadata": {...}}]}``. This reads one such file, or a
folder of them (every ``*.json`` below it, in path order: ``_record`` is the file's number).

Mapping (one row per human answer, SCHEMA §1):

* ``humanLoopName`` -> ``case_id``; the flow definition's name -> attribute ``flow_definition``;
  the other scalar ``inputContent`` entries -> case attributes.
* The model's output: A2I does not prescribe ``inputContent`` keys (it is whatever the
  application passed to ``StartHumanLoop``), so the first key present among
  ``model_decision``, ``prediction``, ``predicted_label``, ``initialValue`` (the key AWS's own
  custom-task example uses for the model's answer) -> ``model_decision``; among
  ``model_score``, ``score``, ``confidence`` -> ``model_score``; ``model_version`` ->
  ``model_version``. The options ``model_decision=``, ``model_score=`` and ``model_version=``
  (``--adapter-option``) name other keys or dotted paths.
* ``ts``: output.json has no model timestamp. In order: a ``ts`` key in ``inputContent``; the
  loop's creation time from the S3 path (``.../YYYY/MM/DD/hh/mm/ss/<loop>/output.json``, UTC);
  the earliest answer's ``acceptanceTime`` (else ``submissionTime``) -- i.e. when a human first
  picked the case up, later than the model's decision by the queueing time.
* Each ``humanAnswers`` entry -> one review: ``reviewer_id`` = ``workerId``,
  ``review_started_at`` = ``acceptanceTime``, ``review_completed_at`` = ``submissionTime``,
  ``review_seconds`` = ``timeSpentInSeconds`` (active time, without pauses). ``human_decision``
  from ``answerContent``: the key named by the ``answer=`` option; else a crowd classifier's output
  (``{"<name>": {"label": ...}}``, ``{"<name>": {"labels": [...]}}``); else the value of a form's
  only field; else the one checked radio button (``{"<name>": {"<value>": true}}``).
  ``rationale`` = the classifier's ``workerComment`` or a ``rationale``/``comment`` field. An
  ``answerContent`` that gives none of these is quarantined, the reason naming
  ``--adapter-option answer=FIELD``.
* A loop with no answers -> one unreviewed row.

Built-in task types (Textract, Rekognition) put the model output in nested
``aiServiceResponse`` objects with no single decision: their cases are stored without a model
decision (a notice says so) unless the ``model_decision`` option names a key or dotted path.

SageMaker human evaluation jobs (``humanEvaluationResult``, an object or a list) are read too:
see :func:`_evaluation_rows`.
"""
from __future__ import annotations

import re
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

DECISION_KEYS = ("model_decision", "prediction", "predicted_label", "initialValue")
SCORE_KEYS = ("model_score", "score", "confidence")
VERSION_KEYS = ("model_version",)
TS_KEYS = ("ts",)
RATIONALE_KEYS = ("rationale", "comment", "workerComment")
EXPECTED = "expected a human-loop output.json object with 'humanLoopName' and 'humanAnswers'"
_PATH_TIME = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})/(\d{2})/[^/]+/[^/]+$")


def detect(path: Path, head: bytes) -> bool:
    """An output.json object, or a folder whose first ``*.json`` is one."""
    try:
        if path.is_dir():
            first = next((p for p in path.rglob("*.json") if p.is_file()), None)
            if first is None:
                return False
            with open(first, "rb") as fh:
                head = fh.read(65536)
        sample = head_text(head)
        return (sample.startswith("{") and ('"humanAnswers"' in sample or '"humanEvaluationResult"' in sample)
                and ('"humanLoopName"' in sample or '"flowDefinitionArn"' in sample))
    except Exception:
        return False


def read(con: Any, path: Path, *, model_decision: str | None = None, model_score: str | None = None,
         model_version: str | None = None, answer: str | None = None, question: str | None = None) -> pd.DataFrame:
    """Read one A2I output.json or a folder of them; ``con`` is not needed.

    The options (``--adapter-option model_decision=inputContent.prediction``) name where the
    model's output is: a key of ``inputContent``, or a dotted path into it (``inputContent.``
    prefix optional); ``answer`` names the ``answerContent`` field that is the human decision."""
    model_decision_key, model_score_key, model_version_key, answer_key = (
        _path(model_decision), _path(model_score), _path(model_version), answer)
    if path.is_dir():
        files = sorted((p for p in path.rglob("*.json") if p.is_file()),
                       key=lambda p: p.relative_to(path).as_posix())
        if not files:
            raise IngestError(f"{path}: no *.json human-loop output files in this folder")
    else:
        files = [path]
    keys = {"model_decision": _keys(model_decision_key, DECISION_KEYS),
            "model_score": _keys(model_score_key, SCORE_KEYS),
            "model_version": _keys(model_version_key, VERSION_KEYS),
            "ts": TS_KEYS}
    rows, notices, evaluated = [], [], set()
    for number, file in enumerate(files, start=1):
        for output, evaluation in _outputs(file, load_json(file, "an Amazon A2I output")):
            if evaluation:
                found = _evaluation_rows(file, number, output, question, notices)
                evaluated.update(r["case_id"] for r in found)
                rows.extend(found)
            else:
                rows.extend(_loop_rows(file, number, output, keys, answer_key))
    df = frame(rows)
    notices = list(dict.fromkeys(notices))
    loops = df[~df["case_id"].isin(evaluated)]  # a human evaluation judges models: it has no model decision
    undecided = loops.loc[loops["model_decision"].isna(), "case_id"].nunique()
    if undecided:
        notices.append(
            f"{undecided} of {loops['case_id'].nunique()} human loop(s) have no model decision in inputContent "
            f"(looked for {', '.join(keys['model_decision'])}); they are stored as annotation-only cases. If "
            "inputContent holds it, name the key with --adapter-option model_decision=inputContent.KEY")
    df.attrs["hitlgov_notices"] = notices
    return df


def _keys(given: str | None, defaults: tuple[str, ...]) -> tuple[str, ...]:
    return (given,) if given else defaults


def _path(option: str | None) -> str | None:
    """``inputContent.a.b`` / ``a.b`` -> ``a.b`` (a path inside inputContent)."""
    if option is None:
        return None
    return option[len("inputContent."):] if option.startswith("inputContent.") else option


def _lookup(content: dict, key: str) -> Any:
    """A key of inputContent, or a dotted path into its nested objects."""
    if key in content:
        return content[key]
    value: Any = content
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _outputs(file: Path, output: Any) -> list[tuple[Any, bool]]:
    """The loop outputs of one file, each with whether it is a human evaluation: the object
    itself, or -- SageMaker human evaluation jobs -- its ``humanEvaluationResult`` (an object, or a
    list of them)."""
    if isinstance(output, dict) and "humanAnswers" not in output and "humanEvaluationResult" in output:
        wrapped = output["humanEvaluationResult"]
        rest = {k: v for k, v in output.items() if k != "humanEvaluationResult"}
        items = wrapped if isinstance(wrapped, list) else [wrapped]
        if not items or not all(isinstance(i, dict) for i in items):
            raise IngestError(f"{file}: not an Amazon A2I output: 'humanEvaluationResult' is not an object")
        return [({**rest, **i}, True) for i in items]
    return [(output, _is_human_evaluation(output))]


# -- SageMaker human evaluation jobs (humanEvaluationResult) ------------------------------------
# answerContent.evaluationResults holds one list per metric type; per-model types rate each model
# response on its own, comparison types compare them.
PER_MODEL = ("thumbsUpDown", "individualLikertScale")
COMPARISON = ("comparisonChoice", "comparisonLikertScale", "comparisonRank")


def _is_human_evaluation(output: Any) -> bool:
    answers = output.get("humanAnswers") if isinstance(output, dict) else None
    return isinstance(answers, list) and any(
        isinstance(a, dict) and isinstance(a.get("answerContent"), dict) and "evaluationResults" in a["answerContent"]
        for a in answers)


def _evaluation_results(where: str, answers: Any) -> list[tuple[dict, dict[str, list[dict]]]]:
    """Each answer with its ``evaluationResults`` (metric type -> result objects), every level's
    type checked: a wrong shape is refused naming the answer (1-based) and the field."""
    if not isinstance(answers, list):
        raise IngestError(f"{where}: 'humanAnswers' is a JSON {json_kind(answers)}, not a list of answers")
    out = []
    for n, a in enumerate(answers, start=1):
        if not isinstance(a, dict):
            raise IngestError(f"{where}: answer {n} of 'humanAnswers' is a JSON {json_kind(a)}, not an object")
        content = a.get("answerContent")
        if not isinstance(content, dict):
            raise IngestError(f"{where}: answer {n}: 'answerContent' is a JSON {json_kind(content)}, not an object")
        results = content.get("evaluationResults")
        if not isinstance(results, dict):
            raise IngestError(f"{where}: answer {n}: 'answerContent.evaluationResults' is a JSON "
                              f"{json_kind(results)}, not an object")
        for kind, items in results.items():
            field = f"answerContent.evaluationResults.{kind}"
            if not isinstance(items, list):
                raise IngestError(f"{where}: answer {n}: '{field}' is a JSON {json_kind(items)}, not a list")
            for i, item in enumerate(items, start=1):
                if not isinstance(item, dict) or text(item.get("metricName")) is None:
                    raise IngestError(f"{where}: answer {n}: item {i} of '{field}' is not an object with a "
                                      "'metricName'")
        out.append((a, results))
    return out


def _evaluation_rows(file: Path, number: int, output: dict, question: str | None, notices: list[str]) -> list[dict]:
    """A human evaluation of model responses: a case per (loop, metric, model) for a per-model
    metric, per (loop, metric) for a comparison; no model decision (humans judge the models).

    Every answer is read: an answer (for a per-model metric: an answer and model) without a
    result for the chosen metric is a row quarantined with that reason, so the counts add up."""
    where = f"{file}: not an Amazon A2I output"
    if not output.get("humanLoopName"):
        raise IngestError(f"{where}: {EXPECTED} ('humanLoopName' is missing)")
    content = output.get("inputContent")
    if content is not None and not isinstance(content, dict):
        raise IngestError(f"{where}: 'inputContent' is a JSON {json_kind(content)}, not an object")
    answered = _evaluation_results(where, output.get("humanAnswers"))
    answers = [a for a, _ in answered]
    id_map = output.get("modelResponseIdMap")
    if id_map is not None and not isinstance(id_map, dict):
        raise IngestError(f"{where}: 'modelResponseIdMap' is a JSON {json_kind(id_map)}, not an object")
    models = {str(k): text(v) or str(k) for k, v in (id_map or {}).items()}
    kinds: dict[str, str] = {}
    for _, results in answered:
        for kind, items in results.items():
            for item in items:
                kinds.setdefault(str(item["metricName"]), kind)
    metrics = (content or {}).get("evaluationMetrics") or []
    declared = [str(m.get("metricName")) for m in metrics if isinstance(m, dict)] if isinstance(metrics, list) else []
    order = [m for m in declared if m in kinds] + [m for m in kinds if m not in declared]
    if question is not None and question not in kinds:
        raise IngestError(f"{file}: metric '{question}' (--question) is not in the human evaluation "
                          f"(metrics: {', '.join(order) or 'none'})")
    chosen = question or next((m for m in order if kinds[m] in PER_MODEL), order[0] if order else None)
    if chosen is None:
        raise IngestError(f"{where}: the human evaluation has no evaluationResults with a metricName")
    if question is None and len(order) > 1:
        notices.append(f"used metric '{chosen}' of the human evaluation (metrics: {', '.join(order)}); "
                       "choose another with --question NAME")
    kind = kinds[chosen]
    per_model = kind in PER_MODEL
    loop = text(output["humanLoopName"])
    ts = _path_time(file) or _earliest(answers, "acceptanceTime") or _earliest(answers, "submissionTime")
    attributes = {"metric": chosen, "metric_type": kind}
    record = output.get("inputRecord")
    if isinstance(record, dict) and text(record.get("category")) is not None:
        attributes["category"] = text(record["category"])
    arn = text(output.get("flowDefinitionArn"))
    if arn:
        attributes["flow_definition"] = arn.rsplit("/", 1)[-1]

    judged_by_answer = []
    for n, (a, results) in enumerate(answered, start=1):
        field = f"answerContent.evaluationResults.{kind}"
        items = [i for i in results.get(kind) or [] if str(i["metricName"]) == chosen]
        judged = []
        for item in items:
            if "result" not in item or item["result"] is None:
                raise IngestError(f"{where}: answer {n}: the '{chosen}' result in '{field}' has no 'result'")
            if per_model:
                rid = text(item.get("modelResponseId"))
                if rid is None:
                    raise IngestError(f"{where}: answer {n}: the '{chosen}' result in '{field}' has no "
                                      "'modelResponseId'")
                if isinstance(item["result"], (dict, list)):
                    raise IngestError(f"{where}: answer {n}: the '{chosen}' result in '{field}' is a JSON "
                                      f"{json_kind(item['result'])}, not a value")
                judged.append((rid, item["result"]))
            else:
                judged.append((None, _comparison(where, n, chosen, item["result"], models)))
        judged_by_answer.append(judged)
    # the models a per-model metric rates: the job's map, else every model some answer rated
    rated = list(models) or list(dict.fromkeys(rid for j in judged_by_answer for rid, _ in j))

    rows = []
    choose = f"choose another metric with --question NAME (metrics: {', '.join(order)})"
    for n, (a, judged) in enumerate(zip(answers, judged_by_answer), start=1):
        worker = text(a.get("workerId"))
        # the answer's time covered every case it judged: shared equally, so workload totals stay right
        seconds = a.get("timeSpentInSeconds")
        share = seconds / len(judged) if isinstance(seconds, (int, float)) and judged else None
        base = {"ts": ts, "reviewer_id": worker, "review_started_at": a.get("acceptanceTime"),
                "review_completed_at": a.get("submissionTime")}
        expected = [(rid, next((r for i, r in judged if i == rid), _MISSING)) for rid in rated] if per_model \
            else (judged or [(None, _MISSING)])
        for rid, result in expected:
            model = models.get(rid, rid) if rid is not None else None
            case_id = f"{loop}/{chosen}/{model}" if model else f"{loop}/{chosen}"
            extra = {"model": model} if model else {}
            if result is _MISSING:
                about = f" for model response {rid}" if rid is not None else ""
                rows.append({**row({**attributes, **extra}, {"case_id": case_id, **base}, prefix="inputContent"),
                             "_record": number,
                             "_reject": f"answer {n} by {worker} has no '{chosen}' result{about} in "
                                        f"answerContent.evaluationResults.{kind}: not a review of this case; "
                                        f"{choose}"})
                continue
            review = {"case_id": case_id, **base, "human_decision": label(result), "review_seconds": share}
            rows.append({**row({**attributes, **extra}, review, prefix="inputContent"), "_record": number})
    return rows


_MISSING = object()


def _comparison(where: str, n: int, metric: str, result: Any, models: dict[str, str]) -> Any:
    """A comparison's result as a label: the chosen model, a Likert value, or ranks by model."""
    if isinstance(result, dict):
        if text(result.get("modelResponseId")) is None:
            raise IngestError(f"{where}: answer {n}: the '{metric}' result is an object without a 'modelResponseId'")
        return models.get(str(result["modelResponseId"]), text(result["modelResponseId"]))
    if isinstance(result, list):
        if not all(isinstance(r, dict) and text(r.get("modelResponseId")) is not None for r in result):
            raise IngestError(f"{where}: answer {n}: the '{metric}' result is not a list of objects with a "
                              "'modelResponseId' and 'rank'")
        return "|".join(sorted(f"{models.get(str(r['modelResponseId']), r['modelResponseId'])}={r.get('rank')}"
                               for r in result))
    return result


def _loop_rows(file: Path, number: int, output: Any, keys: dict, answer_key: str | None) -> list[dict]:
    where = f"{file}: not an Amazon A2I output"
    if not isinstance(output, dict):
        raise IngestError(f"{where}: {EXPECTED} (found a JSON {json_kind(output)})")
    answers, content = output.get("humanAnswers"), output.get("inputContent") or {}
    if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
        raise IngestError(f"{where}: {EXPECTED} ('humanAnswers' is not a list of objects)")
    if not output.get("humanLoopName"):
        raise IngestError(f"{where}: {EXPECTED} ('humanLoopName' is missing)")
    if not isinstance(content, dict):
        raise IngestError(f"{where}: 'inputContent' is a JSON {json_kind(content)}, not an object")

    # For each model field, the first of its candidate keys that inputContent has.
    found = {name: next((k for k in candidates if _lookup(content, k) is not None), None)
             for name, candidates in keys.items()}
    case = {name: (_lookup(content, k) if k else None) for name, k in found.items()}
    case["case_id"] = output["humanLoopName"]
    case["ts"] = (case["ts"] or _path_time(file)
                  or _earliest(answers, "acceptanceTime") or _earliest(answers, "submissionTime"))
    case["model_decision"] = label(case["model_decision"])  # a list of labels -> "a|b"; an object -> None
    attributes = scalar_attributes({k: v for k, v in content.items() if k not in found.values()})
    arn = text(output.get("flowDefinitionArn"))
    if arn:
        attributes["flow_definition"] = arn.rsplit("/", 1)[-1]
    if not answers:
        return [{**row(attributes, case, prefix="inputContent"), "_record": number}]
    rows = []
    for n, answer in enumerate(answers, start=1):
        content = answer.get("answerContent")
        decision, rationale = _answer(content, answer_key)
        review = {"reviewer_id": answer.get("workerId"), "human_decision": decision, "rationale": rationale,
                  "review_started_at": answer.get("acceptanceTime"),
                  "review_completed_at": answer.get("submissionTime"),
                  "review_seconds": answer.get("timeSpentInSeconds")}
        out = {**row(attributes, {**case, **review}, prefix="inputContent"), "_record": number}
        if decision is None and isinstance(content, dict) and content:
            out["_reject"] = _undecided(n, answer, content, answer_key)
        rows.append(out)
    return rows


def _undecided(n: int, answer: dict, content: dict, answer_key: str | None) -> str:
    """Why a worker's ``answerContent`` gave no decision, naming the option that picks the field."""
    fields = ", ".join(map(str, content))
    who = f"answer {n} by {text(answer.get('workerId'))}"
    if answer_key is not None:
        return (f"{who}: answerContent has no value for '{answer_key}' (--adapter-option answer={answer_key}; "
                f"fields: {fields})")
    return (f"{who}: ambiguous answerContent (fields: {fields}; no classifier output, single field or single "
            "checked option): name the field that is the decision with --adapter-option answer=FIELD")


def _answer(content: Any, answer_key: str | None) -> tuple[str | None, str | None]:
    """(human decision, rationale) from a worker's ``answerContent``."""
    if not isinstance(content, dict):
        return label(content), None
    rationale = next((text(content[k]) for k in RATIONALE_KEYS if text(content.get(k))), None)
    if answer_key is not None:
        return _value(content.get(answer_key)), _comment(content.get(answer_key)) or rationale
    classifiers = [v for v in content.values() if isinstance(v, dict) and ("label" in v or "labels" in v)]
    if classifiers:
        return _value(classifiers[0]), _comment(classifiers[0]) or rationale
    fields = {k: v for k, v in content.items() if k not in RATIONALE_KEYS}
    if len(fields) == 1:
        return _value(next(iter(fields.values()))), rationale
    checked = [(name, k) for name, v in fields.items() if isinstance(v, dict) for k, on in v.items() if on is True]
    if len(checked) == 1:
        name, value = checked[0]
        return (name if value == "on" else value), rationale
    return None, rationale


def _value(value: Any) -> str | None:
    """A form value as a label: a classifier's label(s), the checked option, or the value."""
    if isinstance(value, dict):
        if "label" in value or "labels" in value:
            return label(value.get("label", value.get("labels")))
        checked = [k for k, on in value.items() if on is True]
        return checked[0] if len(checked) == 1 else None
    return label(value)


def _comment(value: Any) -> str | None:
    return text(value.get("workerComment")) if isinstance(value, dict) else None


def _path_time(file: Path) -> str | None:
    """The loop's creation time from A2I's ``.../YYYY/MM/DD/hh/mm/ss/<loop>/output.json``."""
    m = _PATH_TIME.search(file.as_posix())
    return "{}-{}-{}T{}:{}:{}Z".format(*m.groups()) if m else None


def _earliest(answers: list[dict], key: str) -> str | None:
    times = [t for a in answers if (t := text(a.get(key)))]
    return min(times) if times else None


@hookimpl
def hitlgov_readers() -> list[Reader]:
    return [Reader(name="a2i", detect=detect, read=read, priority=10, annotation_source=True,
                   description="Amazon A2I human-loop output.json (one file or a folder of them)")]
