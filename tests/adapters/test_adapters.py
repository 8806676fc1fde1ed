"""Adapters for HITL tool exports: Label Studio, Argilla, Amazon A2I.

The fixtures under tests/fixtures/ were written by hand from each tool's documentation/source:

* labelstudio/export.json -- Label Studio "Task format" / JSON export
  (https://labelstud.io/guide/task_format; the export of GET /api/projects/{id}/export?exportType=JSON):
  task id/data/created_at, annotations[] (completed_by as an id and, for task 103, as a user object;
  result[] choices + textarea; was_cancelled; ground_truth; created_at/updated_at; lead_time) and
  predictions[] (model_version, score, result[], created_at; task 104 has the older created_ago only).
* argilla/records_v2.json -- Argilla 2.x ``dataset.records.to_json`` = ``to_list(flatten=False)``
  (``Record.to_dict`` in argilla/src/argilla/records/_resource.py; the same shape as the export
  quoted in argilla-io/argilla#5424): responses carry only value and user_id.
* argilla/records_v2_flat.jsonl -- ``to_list(flatten=True)`` / ``to_datasets()`` written as JSON Lines
  (``GenericIO._record_to_dict`` in argilla/src/argilla/records/_io/_generic.py): ``<q>.responses``,
  ``.responses.users``, ``.responses.status`` (draft/discarded here), ``<q>.suggestion[.score|.agent]``.
* argilla/records_v1.json -- Argilla 1.x FeedbackRecord (src/argilla/client/feedback/schemas/
  records.py, responses.py, suggestions.py): responses[] {user_id, values{q: {value}}, status}
  (one discarded), suggestions[] {question_name, type, score, value, agent}, external_id.
* argilla/records_v1_hf.jsonl -- Argilla 1.x ``format_as("datasets")``: ``<q>`` = [{user_id, value,
  status}], ``<q>-suggestion``, ``<q>-suggestion-metadata`` {type, score, agent}, metadata as JSON text.
* a2i/loops/... and a2i/single_output.json -- SageMaker developer guide "Amazon A2I Output Data"
  (a2i-output-data.md): the S3 layout <flow>/YYYY/MM/DD/hh/mm/ss/<loop>/output.json, flowDefinitionArn,
  humanLoopName, inputContent, humanAnswers[] {acceptanceTime, answerContent, submissionTime,
  timeSpentInSeconds, workerId, workerMetadata}; answerContent shapes from the crowd-classifier /
  crowd-image-classifier ({"<name>": {"label", "workerComment"}}) and crowd-radio-button
  ({"<name>": {"<value>": bool}}) element references; inputContent {"initialValue", "taskObject"} as
  in the guide's custom-task example (a2i-get-started-api.md).
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from hitlgov import store
from hitlgov.adapters import CANONICAL, a2i, argilla, labelstudio
from hitlgov.errors import IngestError
from hitlgov.ingest import pipeline
from hitlgov.ingest.readers import hitlgov_readers as builtin_readers
from hitlgov.ingest.readers import read_head

FIXTURES = Path(__file__).parent / "fixtures"
LS = FIXTURES / "labelstudio"
AG = FIXTURES / "argilla"
A2I = FIXTURES / "a2i"
ADAPTERS = {"labelstudio": labelstudio, "argilla": argilla, "a2i": a2i}


def rows(df) -> list[dict]:
    """The frame's review and case rows without their empty values (an absent key = None).
    Rows an adapter marks ``_reject`` (a skipped annotation, a draft response) are left out here:
    ``rejected`` lists them, and ``test_rows_that_are_not_reviews_are_kept_and_quarantined``
    checks them."""
    kept = [r for r in df.to_dict("records") if not r.get("_reject")]
    # numbered among themselves, as they were before the rejected rows were kept
    return [{k: v for k, v in r.items() if v is not None} | {"_row": n} for n, r in enumerate(kept, start=1)]


def rejected(df) -> list[tuple]:
    return [(r["case_id"], r["reviewer_id"], r["_reject"]) for r in df.to_dict("records") if r.get("_reject")]


def check_frame(df) -> None:
    assert list(df.columns[: len(CANONICAL)]) == list(CANONICAL)
    assert list(df["_row"]) == list(range(1, len(df) + 1))  # unique: the pipeline keys rows on it


# --- Label Studio ---------------------------------------------------------------------------

LS_101 = {"case_id": "101", "ts": "2024-04-02T08:00:05.120000Z", "model_version": "credit-clf-2.3",
          "model_decision": "Approve", "model_score": "0.82",
          "text": "Applicant A-1041 requests a 12,000 EUR personal loan over 36 months.",
          "applicant_id": "A-1041", "age_band": "35-44", "region": "north", "income": "52000", "_record": 1}


def test_labelstudio_export_rows():
    df = labelstudio.read(None, LS / "export.json")
    check_frame(df)
    assert rows(df) == [
        # two annotators; the cancelled (skipped) annotation of user 11 is not a review
        {**LS_101, "_row": 1, "reviewer_id": "7", "human_decision": "Approve",
         "review_started_at": "2024-04-02T10:14:48.250000Z", "review_completed_at": "2024-04-02T10:15:30.500000Z",
         "review_seconds": "42.25"},
        {**LS_101, "_row": 2, "reviewer_id": "9", "human_decision": "Reject", "rationale": "Debt ratio above policy limit",
         "review_started_at": "2024-04-02T11:00:35Z", "review_completed_at": "2024-04-02T11:02:10.000000Z",
         "review_seconds": "95.0"},
        # no annotations: one unreviewed row; the most recent prediction (listed first) decides
        {"case_id": "102", "ts": "2024-04-03T07:00:00.000000Z", "model_version": "credit-clf-2.3",
         "model_decision": "Approve", "model_score": "0.71",
         "text": "Applicant A-1042 requests a 3,000 EUR overdraft extension.", "applicant_id": "A-1042",
         "age_band": "18-24", "region": "south", "income": "21000.5", "_record": 2, "_row": 3},
        # no prediction: no model decision (the pipeline quarantines it); ts from the task;
        # completed_by as a user object -> its email
        {"case_id": "103", "ts": "2024-04-02T08:02:00.000000Z", "reviewer_id": "dana@example.org",
         "human_decision": "Reject", "review_started_at": "2024-04-02T12:00:00Z",
         "review_completed_at": "2024-04-02T12:00:30.000000Z", "review_seconds": "30.0",
         "text": "Applicant A-1043 requests a 40,000 EUR mortgage top-up.", "applicant_id": "A-1043",
         "age_band": "45-54", "region": "north", "income": "88000", "verified": "true", "_record": 3, "_row": 4},
        # ground-truth annotation -> outcome; prediction without created_at -> ts from the task
        {"case_id": "104", "ts": "2024-04-02T08:03:00.000000Z", "model_version": "credit-clf-2.3",
         "model_decision": "Reject", "model_score": "0.91", "reviewer_id": "7", "human_decision": "Reject",
         "review_started_at": "2024-04-02T12:59:39.500000Z", "review_completed_at": "2024-04-02T13:00:00Z",
         "review_seconds": "20.5", "outcome": "Reject",
         "text": "Applicant A-1044 requests a 5,000 EUR car loan.", "applicant_id": "A-1044",
         "age_band": "25-34", "region": "east", "income": "34000", "_record": 4, "_row": 5},
    ]


def test_labelstudio_from_name_picks_the_control(tmp_path):
    def choice(name, label):
        return {"type": "choices", "from_name": name, "to_name": "text", "value": {"choices": label}}
    task = {"id": 7, "data": {"text": "t"}, "created_at": "2024-01-01T00:00:00Z",
            "predictions": [{"model_version": "m", "score": 0.5, "result": [choice("topic", ["billing"]),
                                                                             choice("risk", ["high"])]}],
            "annotations": [{"completed_by": 1, "created_at": "2024-01-01T01:00:00Z", "lead_time": 5,
                             "result": [choice("topic", ["billing", "fraud"]), choice("risk", ["low"])]}]}
    export = tmp_path / "two_controls.json"
    export.write_text(json.dumps([task]))
    first = rows(labelstudio.read(None, export))[0]
    assert (first["model_decision"], first["human_decision"]) == ("billing", "billing|fraud")
    risk = rows(labelstudio.read(None, export, question="risk"))[0]
    assert (risk["model_decision"], risk["human_decision"]) == ("high", "low")


# --- Argilla --------------------------------------------------------------------------------

U1, U2, U3 = ("7d8c2a43-34f6-4c1f-9f5e-2b1f0c5a9e11", "b2e61f0d-8a51-4f8e-a0f6-9d3c4e7a1b22",
              "c9f7e3a1-5b2d-4c6e-8f0a-1d2e3f4a5b33")


def test_argilla_v2_nested_rows():
    df = argilla.read(None, AG / "records_v2.json")
    check_frame(df)
    msg1 = {"case_id": "msg-0001", "ts": "2024-05-02T09:15:00Z", "model_version": "sentiment-clf-v3",
            "model_decision": "positive", "model_score": "0.64",
            "text": "Great, my card was blocked again while travelling. Fantastic service.", "channel": "email",
            "customer_segment": "retail", "tenure_years": "4", "_record": 1}
    assert rows(df) == [
        {**msg1, "_row": 1, "reviewer_id": U1, "human_decision": "negative"},
        {**msg1, "_row": 2, "reviewer_id": U2, "human_decision": "negative",
         "rationale": "Sarcasm: the customer is complaining."},
        {"case_id": "msg-0002", "ts": "2024-05-02T09:16:30Z", "model_version": "sentiment-clf-v3",
         "model_decision": "positive", "model_score": "0.97", "text": "Thanks, the transfer arrived within minutes!",
         "channel": "chat", "customer_segment": "business", "tenure_years": "11", "_record": 2, "_row": 3},
        # no suggestion: no model decision (the pipeline quarantines it)
        {"case_id": "msg-0003", "ts": "2024-05-02T09:20:00Z", "reviewer_id": U1, "human_decision": "neutral",
         "text": "How do I change my address?", "channel": "chat", "customer_segment": "retail",
         "tenure_years": "1", "_record": 3, "_row": 4},
    ]


def test_argilla_v2_flattened_jsonl_skips_draft_and_discarded():
    df = argilla.read(None, AG / "records_v2_flat.jsonl")
    check_frame(df)
    msg101 = {"case_id": "msg-0101", "ts": "2024-05-03T14:00:00Z", "model_version": "sentiment-clf-v3",
              "model_decision": "negative", "model_score": "0.88", "text": "The app keeps logging me out.",
              "channel": "app", "customer_segment": "retail", "_record": 1}
    assert rows(df) == [
        {**msg101, "_row": 1, "reviewer_id": U1, "human_decision": "negative"},
        {**msg101, "_row": 2, "reviewer_id": U2, "human_decision": "negative"},  # U3's draft is no review
        # its only response was discarded: unreviewed
        {"case_id": "msg-0102", "ts": "2024-05-03T14:05:00Z", "model_version": "sentiment-clf-v3",
         "model_decision": "neutral", "model_score": "0.51", "text": "asdfgh", "channel": "app",
         "customer_segment": "business", "_record": 2, "_row": 3},
    ]


def test_argilla_question_option_and_multi_label():
    df = argilla.read(None, AG / "records_v2_flat.jsonl", question="topics")
    got = [(r["case_id"], r.get("model_decision"), r.get("reviewer_id"), r.get("human_decision")) for r in rows(df)]
    assert got == [("msg-0101", "bug|login", U1, "login"), ("msg-0101", "bug|login", U2, "bug|login"),
                   ("msg-0102", None, None, None)]
    with pytest.raises(IngestError, match=r"records_v2_flat\.jsonl: question 'label' \(--question\) is not in the Argilla export "
                                          r"\(questions: sentiment, topics\)"):
        argilla.read(None, AG / "records_v2_flat.jsonl", question="label")


def test_argilla_v1_feedback_records_rows():
    df = argilla.read(None, AG / "records_v1.json")
    check_frame(df)
    conv77 = {"case_id": "conv-77", "ts": "2024-01-15T10:00:00+00:00", "model_version": "judge-llm-2024-01",
              "model_decision": "good", "model_score": "0.8", "prompt": "Summarise the refund policy.",
              "response": "Refunds are issued within 14 days.", "product": "support-bot", "_record": 1}
    assert rows(df) == [
        {**conv77, "_row": 1, "reviewer_id": "0e4b1a2c-1111-4d5e-8f9a-0b1c2d3e4f50", "human_decision": "good",
         "rationale": "Accurate and short."},
        # the discarded response of user ...f51 is no review
        {**conv77, "_row": 2, "reviewer_id": "0e4b1a2c-3333-4d5e-8f9a-0b1c2d3e4f52", "human_decision": "bad"},
        {"case_id": "conv-78", "ts": "2024-01-15T10:05:00+00:00", "model_version": "judge-llm-2024-01",
         "model_decision": "good", "model_score": "0.95", "prompt": "What is the warranty period?",
         "response": "Two years.", "product": "support-bot", "_record": 2, "_row": 3},
    ]


def test_argilla_v1_hugging_face_rows():
    assert rows(argilla.read(None, AG / "records_v1_hf.jsonl")) == [
        {"case_id": "conv-90", "ts": "2024-01-16T08:00:00+00:00", "model_version": "judge-llm-2024-01",
         "model_decision": "good", "model_score": "0.66", "reviewer_id": "0e4b1a2c-1111-4d5e-8f9a-0b1c2d3e4f50",
         "human_decision": "bad", "prompt": "Is the store open on Sunday?", "product": "store-bot",
         "_record": 1, "_row": 1},  # the draft of user ...f52 is no review
    ]


def test_argilla_gzipped_export(tmp_path):
    gz = tmp_path / "records.jsonl.gz"
    gz.write_bytes(gzip.compress((AG / "records_v2_flat.jsonl").read_bytes()))
    assert argilla.detect(gz, read_head(gz))
    assert rows(argilla.read(None, gz)) == rows(argilla.read(None, AG / "records_v2_flat.jsonl"))


# --- Amazon A2I -----------------------------------------------------------------------------

def test_a2i_folder_of_three_loops():
    df = a2i.read(None, A2I / "loops")
    check_frame(df)
    attrs = {"flow_definition": "loan-review-flow"}
    loan1 = {"case_id": "loan-0001", "ts": "2024-03-05T14:02:11Z",  # loop creation time from the S3 path
             "model_version": "credit-xgb-7", "model_decision": "Approve", "model_score": "0.58",
             "taskObject": "s3://DOC-EXAMPLE-BUCKET/applications/loan-0001.json", "region": "north",
             "age_band": "35-44", **attrs, "_record": 1}
    loan3 = {"case_id": "loan-0003", "ts": "2024-03-06T09:29:58.250Z",  # inputContent "ts" wins
             "model_version": "credit-xgb-8", "model_decision": "approve", "model_score": "0.49",
             "taskObject": "s3://DOC-EXAMPLE-BUCKET/applications/loan-0003.json", "region": "north",
             "age_band": "55-64", **attrs, "_record": 3}
    assert rows(df) == [
        {**loan1, "_row": 1, "reviewer_id": "a12b3cdefg4h5i67", "human_decision": "Reject",
         "review_started_at": "2024-03-05T14:10:02.118Z", "review_completed_at": "2024-03-05T14:11:45.630Z",
         "review_seconds": "98.412"},
        {**loan1, "_row": 2, "reviewer_id": "ef7294f850a3d9d1", "human_decision": "Approve",
         "review_started_at": "2024-03-05T14:08:40.000Z", "review_completed_at": "2024-03-05T14:09:30.250Z",
         "review_seconds": "47.9"},
        {"case_id": "loan-0002", "ts": "2024-03-05T14:05:40Z", "model_version": "credit-xgb-7",
         "model_decision": "Approve", "model_score": "0.61", "reviewer_id": "a12b3cdefg4h5i67",
         "human_decision": "Reject", "rationale": "Payslip does not match the declared income.",
         "review_started_at": "2024-03-05T14:20:00.500Z", "review_completed_at": "2024-03-05T14:21:10.500Z",
         "review_seconds": "70.0", "taskObject": "s3://DOC-EXAMPLE-BUCKET/applications/loan-0002.png",
         "region": "south", "age_band": "18-24", **attrs, "_record": 2, "_row": 3},
        # radio buttons: the checked one is the decision; a "comment" field is the rationale
        {**loan3, "_row": 4, "reviewer_id": "ef7294f850a3d9d1", "human_decision": "approve",
         "review_started_at": "2024-03-06T09:41:00.000Z", "review_completed_at": "2024-03-06T09:41:33.000Z",
         "review_seconds": "31.5"},
        {**loan3, "_row": 5, "reviewer_id": "c33d44e55f66a77b", "human_decision": "reject",
         "rationale": "Second applicant missing.", "review_started_at": "2024-03-06T09:35:12.000Z",
         "review_completed_at": "2024-03-06T09:36:00.000Z", "review_seconds": "45.25"},
    ]


def test_a2i_single_file_ts_is_the_earliest_acceptance():
    case = {"case_id": "transcript-0042", "ts": "2020-12-28T18:58:01.000Z", "model_decision": "correct",
            "model_score": "0.72", "original_words": "but definitely use Lambda to turn your ",
            "start_time": "948.51", "end_time": "950.27", "flow_definition": "transcript-check", "_record": 1}
    assert rows(a2i.read(None, A2I / "single_output.json")) == [
        {**case, "_row": 1, "reviewer_id": "a12b3cdefg4h5i67", "human_decision": "incorrect",
         "review_started_at": "2020-12-28T18:59:15.191Z", "review_completed_at": "2020-12-28T18:59:58.321Z",
         "review_seconds": "40.543"},
        {**case, "_row": 2, "reviewer_id": "ef7294f850a3d9d1", "human_decision": "correct",
         "review_started_at": "2020-12-28T18:58:01.000Z", "review_completed_at": "2020-12-28T18:58:30.000Z",
         "review_seconds": "29.0"},
    ]


def test_a2i_key_options_and_a_loop_without_answers(tmp_path):
    output = {"flowDefinitionArn": "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/f",
              "humanLoopName": "loop-9", "humanAnswers": [],
              "inputContent": {"initialValue": "ignored", "risk_label": "high", "p": 0.9, "ts": "2024-02-01T00:00:00Z"}}
    path = tmp_path / "output.json"
    path.write_text(json.dumps(output))
    got = rows(a2i.read(None, path, model_decision="risk_label", model_score="inputContent.p"))
    assert got == [{"case_id": "loop-9", "ts": "2024-02-01T00:00:00Z", "model_decision": "high",
                    "model_score": "0.9", "initialValue": "ignored", "flow_definition": "f", "_record": 1, "_row": 1}]
    output["humanAnswers"] = [{"workerId": "w", "submissionTime": "2024-02-01T00:05:00Z",
                               "answerContent": {"risk": {"label": "low"}, "notes": "x", "other": "y"}}]
    path.write_text(json.dumps(output))
    assert rows(a2i.read(None, path, answer="notes"))[0]["human_decision"] == "x"
    assert rows(a2i.read(None, path))[0]["human_decision"] == "low"


# --- detection ------------------------------------------------------------------------------

CANONICAL_JSONL = ('{"case_id": "c1", "ts": "2024-01-01T00:00:00Z", "model_decision": "approve", '
                   '"reviewer_id": "r1", "human_decision": "deny"}\n')


@pytest.mark.parametrize("path, expected", [
    (LS / "export.json", "labelstudio"),
    (AG / "records_v2.json", "argilla"),
    (AG / "records_v2_flat.jsonl", "argilla"),
    (AG / "records_v1.json", "argilla"),
    (AG / "records_v1_hf.jsonl", "argilla"),
    (A2I / "loops", "a2i"),
    (A2I / "single_output.json", "a2i"),
    (A2I / "loops/loan-review-flow/2024/03/05/14/05/40/loan-0002/output.json", "a2i"),
])
def test_detect_recognises_its_format_and_rejects_the_others(path, expected):
    head = read_head(path)
    assert {name for name, mod in ADAPTERS.items() if mod.detect(path, head)} == {expected}


def test_detect_rejects_canonical_logs_and_other_content(tmp_path):
    samples = {
        "log.jsonl": CANONICAL_JSONL,
        "log.json": "[" + CANONICAL_JSONL.strip() + "]",
        "log.csv": "case_id,ts,model_decision\nc1,2024-01-01,approve\n",
        "empty.json": "",
        "binary.bin": "\x00\x01\x02",
    }
    for name, content in samples.items():
        path = tmp_path / name
        path.write_text(content)
        for mod in ADAPTERS.values():
            assert not mod.detect(path, read_head(path)), (mod.__name__, name)
    for folder in (LS, tmp_path, tmp_path / "missing"):  # a folder of other JSON, of no JSON, none at all
        for mod in ADAPTERS.values():
            assert not mod.detect(folder, b""), (mod.__name__, folder)


def test_auto_detection_through_the_pipeline(tmp_path, monkeypatch):
    use_adapters(monkeypatch)
    canonical = tmp_path / "log.jsonl"
    canonical.write_text(CANONICAL_JSONL)
    assert pipeline.choose_reader(canonical).name == "jsonl"
    assert pipeline.choose_reader(LS / "export.json").name == "labelstudio"
    assert pipeline.choose_reader(AG / "records_v2_flat.jsonl").name == "argilla"
    assert pipeline.choose_reader(A2I / "loops").name == "a2i"


def test_each_module_registers_one_reader():
    for name, mod in ADAPTERS.items():
        reader = mod.hitlgov_readers()[0]
        assert (reader.name, reader.priority, reader.detect, reader.read) == (name, 10, mod.detect, mod.read)
        assert reader.description


# --- malformed exports ----------------------------------------------------------------------

@pytest.mark.parametrize("mod, path, message", [
    (labelstudio, LS / "malformed_truncated.json", "not a Label Studio export: invalid JSON at line 3"),
    (labelstudio, LS / "malformed_object.json",
     "not a Label Studio export: expected a JSON list of tasks with 'annotations' (found a JSON object)"),
    (labelstudio, LS / "malformed_no_id.json", "not a Label Studio export: task 2 has no 'id'"),
    (labelstudio, AG / "malformed_not_records.json", "task 1 is a JSON string, not an object"),
    (argilla, AG / "malformed_bad_line.jsonl", "not an Argilla export: line 2 is not valid JSON"),
    (argilla, AG / "malformed_not_records.json", "not an Argilla export: record 1 is a JSON string, not an object"),
    (argilla, AG / "malformed_names_dict.json", "not an Argilla export: record 1 has no 'fields' and no question columns"),
    (argilla, LS / "export.json", "not an Argilla export: record 1 has no 'fields'"),
    (a2i, A2I / "malformed_truncated.json", "not an Amazon A2I output: invalid JSON at line 4"),
    (a2i, A2I / "malformed_no_loop_name.json", "not an Amazon A2I output: expected a human-loop output.json "
                                               "object with 'humanLoopName' and 'humanAnswers' ('humanLoopName' is missing)"),
    (a2i, A2I / "malformed_folder", "loan-b/output.json: not an Amazon A2I output"),  # the bad file inside the folder
    (a2i, LS / "export.json", "not an Amazon A2I output: expected a human-loop output.json object"),
])
def test_malformed_exports_raise_one_line_ingest_errors_naming_the_file(mod, path, message):
    with pytest.raises(IngestError) as err:
        mod.read(None, path)
    text = str(err.value)
    assert "\n" not in text and message in text
    assert text.startswith(str(path)), text


def test_empty_exports(tmp_path):
    (tmp_path / "ls.json").write_text("[]")
    (tmp_path / "ag.jsonl").write_text("\n")
    (tmp_path / "a2i").mkdir()
    for mod, path, message in [(labelstudio, "ls.json", "the Label Studio export has no tasks"),
                               (argilla, "ag.jsonl", "the Argilla export has no records"),
                               (a2i, "a2i", "no *.json human-loop output files in this folder")]:
        with pytest.raises(IngestError, match=f"{path}: {message}".replace("*", r"\*")):
            mod.read(None, tmp_path / path)


# --- through the ingestion pipeline ---------------------------------------------------------

def use_adapters(monkeypatch) -> None:
    """What the ``hitlgov`` entry points will give once the adapters are registered."""
    readers = [r for mod in ADAPTERS.values() for r in mod.hitlgov_readers()] + builtin_readers()
    monkeypatch.setattr(pipeline, "all_readers", lambda: sorted(readers, key=lambda r: -r.priority))


@pytest.mark.parametrize("path, counts, quarantined", [
    # a task / record without a prediction is stored with no model decision (annotation-only)
    # rows read = every annotation / response: a skipped annotation or a draft / discarded
    # response is quarantined with its reason, never dropped
    (LS / "export.json", (6, 5, 0, 1), [(3, None, "skipped annotation (was_cancelled) by 11: not a review")]),
    (AG / "records_v2.json", (4, 4, 0, 0), []),
    (AG / "records_v2_flat.jsonl", (5, 3, 0, 2), [
        (3, None, "draft response by c9f7e3a1-5b2d-4c6e-8f0a-1d2e3f4a5b33: not a submitted review"),
        (5, None, "discarded response by 7d8c2a43-34f6-4c1f-9f5e-2b1f0c5a9e11: not a submitted review")]),
    (AG / "records_v1.json", (4, 3, 0, 1), [
        (3, None, "discarded response by 0e4b1a2c-2222-4d5e-8f9a-0b1c2d3e4f51: not a submitted review")]),
    (A2I / "loops", (5, 5, 0, 0), []),
])
def test_ingest_adapter_exports(tmp_path, monkeypatch, path, counts, quarantined):
    use_adapters(monkeypatch)
    with store.connect(tmp_path / "store.duckdb") as con:
        result = pipeline.ingest_path(con, path)
        assert (result.rows_read, result.stored, result.duplicates, result.quarantined) == counts
        assert con.execute("SELECT row_number, field, reason FROM quarantine ORDER BY row_number").fetchall() == quarantined
        raw = con.execute("SELECT raw FROM quarantine").fetchall()
        assert all('"_record"' in r for (r,) in raw)  # the raw row points at the task/record
        again = pipeline.ingest_path(con, path)
        assert (again.stored, again.duplicates, again.quarantined) == (0, counts[1], counts[3])  # adds nothing


def test_notices_say_which_question_or_control_was_used(tmp_path):
    notices = argilla.read(None, AG / "records_v2_flat.jsonl").attrs["hitlgov_notices"]
    assert notices == ["used question 'sentiment' as the decision (questions: sentiment, topics); "
                       "choose another with --question NAME"]
    assert argilla.read(None, AG / "records_v2_flat.jsonl", question="topics").attrs.get("hitlgov_notices", []) == []
    tasks = [{"id": 1, "data": {"text": "x"}, "annotations": [{"completed_by": 1, "result": [
        {"type": "textarea", "from_name": "note", "value": {"text": ["long free text"]}},
        {"type": "choices", "from_name": "risk", "value": {"choices": ["high"]}}]}]}]
    path = tmp_path / "two_controls.json"
    path.write_text(json.dumps(tasks))
    df = labelstudio.read(None, path)
    # the labelled control wins over the free-text one listed first; the text becomes the rationale
    assert (df.loc[0, "human_decision"], df.loc[0, "rationale"]) == ("high", "long free text")
    assert df.attrs["hitlgov_notices"][0].startswith("used control 'risk' as the decision (controls: note, risk)")
