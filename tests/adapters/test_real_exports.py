"""Real exports, copied verbatim from the tools' repositories (tests/adapters/fixtures/SOURCES.md),
ingested end to end: the expected cases, reviews, reviewers, review seconds, agreement and
review-stage verdicts are worked out by hand from the files (comments say how)."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from hitlgov.errors import IngestError
from hitlgov.ingest import service
from hitlgov.mapping import Mapping
from hitlgov.metrics import open_source, oversight_summary, rejection_rate
from hitlgov.metrics.agreement import agreement_summary

FIXTURES = Path(__file__).parent / "fixtures"
LS = FIXTURES / "labelstudio"


def ingest(tmp_path, path, **options):
    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    db = tmp_path / "s.duckdb"
    (result,) = service.ingest_files(db, [path], **options)
    return db, result


def cases_stored(db) -> int:
    """How many cases the store holds (0 when a refused ingestion left no store at all)."""
    return table(db, "SELECT count(*) FROM cases")[0][0] if Path(db).exists() else 0


def table(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_label_studio_enterprise_export_with_rejected_reviews(tmp_path):
    # label-studio-converter tests/data/test_export_csv/csv_test.json: tasks 1 and 2, one
    # annotation each by hakan@heartex.com (rectanglelabels "Car"; task 2 has two "Car" boxes ->
    # the label set {"Car"}), a "model 0" prediction "Car" on each; lead_time 7.662 and 35.267;
    # each annotation rejected ("accepted": false) by review@heartex.com.
    db, r = ingest(tmp_path, LS / "real_test_export_csv_csv_test.json")
    assert (r.format, r.rows_read, r.stored, r.duplicates, r.quarantined) == ("labelstudio", 2, 2, 0, 0)
    assert table(db, "SELECT case_id, model_decision, model_version, round(model_score, 4) FROM cases ORDER BY 1") == [
        ("1", "Car", "model 0", 0.7213), ("2", "Car", "model 0", 0.3609)]
    assert table(db, "SELECT case_id, reviewer_id, human_decision, review_seconds FROM reviews ORDER BY 1") == [
        ("1", "hakan@heartex.com", "Car", 7.662), ("2", "hakan@heartex.com", "Car", 35.267)]
    assert table(db, "SELECT case_id, reviewer_id, reviewed_by, accepted, event_id FROM review_events ORDER BY 1") == [
        ("1", "hakan@heartex.com", "review@heartex.com", False, "28"),
        ("2", "hakan@heartex.com", "review@heartex.com", False, "27")]
    with open_source(db) as src:
        o = oversight_summary(src)
        stage = rejection_rate(src)
    # both reviews agree with the model: override 0/2; median of 7.662 and 35.267 = 21.4645
    assert (o["cases"], o["reviews"], o["override_rate"], o["cases_without_model_decision"]) == (2, 2, 0.0, 0)
    assert o["review_seconds_median"] == pytest.approx(21.4645)
    assert (stage["verdicts"], stage["rejected"], stage["rejection_rate"]) == (2, 2, 1.0)
    # the task's scalar data are the attributes; the adapter's bookkeeping (_record...) is not
    assert table(db, "SELECT DISTINCT name FROM case_attributes ORDER BY 1") == [("audio",), ("image",), ("text",)]
    again = service.ingest_files(db, [LS / "real_test_export_csv_csv_test.json"])[0]
    assert (again.stored, again.duplicates) == (0, 2)
    assert table(db, "SELECT count(*) FROM review_events") == [(2,)]  # each verdict kept once


def test_label_studio_export_without_predictions_is_stored_annotation_only(tmp_path):
    # csv_test2.json: task 4, no predictions, one "choices" annotation by test@heartex.com
    # (lead_time 10.744); ts is the task's created_at
    db, r = ingest(tmp_path, LS / "real_test_export_csv_csv_test2.json")
    assert (r.rows_read, r.stored, r.quarantined) == (1, 1, 0)
    assert table(db, "SELECT case_id, model_decision, CAST(ts AS VARCHAR) FROM cases") == [
        ("4", None, "2022-11-04 18:50:37.142887")]
    assert table(db, "SELECT reviewer_id, human_decision, review_seconds FROM reviews") == [
        ("test@heartex.com", 'Yes " "" \n \t \t а б в \n', 10.744)]
    with open_source(db) as src:
        o = oversight_summary(src)
    # the one case has no model decision: excluded from the case rates, counted, its review kept
    assert (o["cases"], o["cases_without_model_decision"], o["reviews"]) == (1, 1, 1)
    assert (o["override_rate"], o["automation_rate"]) == (None, None)
    assert o["by_reviewer"][0]["override_rate"] is None and o["by_reviewer"][0]["reviews"] == 1


def test_label_studio_boxes_two_annotators_agree_on_the_label_set(tmp_path):
    # test_export_yolo/data.json: task 1 annotated by users 2 (lead 1235.418) and 1 (85.444), each
    # drew a "parasites" and a "white" box -> both "parasites|white"; task 2 by user 1 (5.652),
    # two "white" boxes -> "white". 2 cases, 3 reviews, 2 reviewers, 1326.514 s in all.
    db, r = ingest(tmp_path, LS / "real_test_export_yolo_data.json")
    assert (r.rows_read, r.stored, r.quarantined) == (3, 3, 0)
    assert table(db, "SELECT case_id, reviewer_id, human_decision FROM reviews ORDER BY 1, 2") == [
        ("1", "1", "parasites|white"), ("1", "2", "parasites|white"), ("2", "1", "white")]
    assert table(db, "SELECT round(sum(review_seconds), 3), count(DISTINCT reviewer_id) FROM reviews") == [(1326.514, 2)]
    # agreement: the one multiply-reviewed case, two identical labels
    assert table(db, "SELECT count(DISTINCT human_decision) FROM reviews WHERE case_id = '1'") == [(1,)]


def test_label_studio_polygon_labels(tmp_path):
    # test_export_json_min/data.json: task 87, one polygonlabels "Airplane" by user 1, lead 8.65
    db, r = ingest(tmp_path, LS / "real_test_export_json_min_data.json")
    assert (r.rows_read, r.stored) == (1, 1)
    assert table(db, "SELECT case_id, reviewer_id, human_decision, review_seconds FROM reviews") == [
        ("87", "1", "Airplane", 8.65)]


def test_label_studio_pre_1_0_completions_format(tmp_path):
    # label-studio-converter test/fixtures/completions/348.json (SOURCES.md): one task object (not
    # a list), id 348, one completion id 348001 with no completed_by and no timestamps, lead_time
    # 72.138, 38 "ner" labels results all "INGREDIENT" -> the label set {"INGREDIENT"}; no
    # predictions. 1 case, 1 review by the placeholder reviewer "completion:348001".
    path = LS / "real_pre1_completions_348.json"
    with pytest.raises(IngestError, match="--default-ts DATE"):
        ingest(tmp_path, path)  # no time anywhere in the file
    db, r = ingest(tmp_path, path, default_ts="2020-05-07")
    assert (r.format, r.rows_read, r.stored, r.duplicates, r.quarantined) == ("labelstudio", 1, 1, 0, 0)
    assert any("1 completion(s) of the pre-1.0 'completions' format have no completed_by" in n
               and "completion:<completion id>" in n for n in r.notices)
    assert table(db, "SELECT case_id, model_decision, CAST(ts AS VARCHAR) FROM cases") == [
        ("348", None, "2020-05-07 00:00:00")]
    assert table(db, "SELECT reviewer_id, human_decision, review_seconds FROM reviews") == [
        ("completion:348001", "INGREDIENT", 72.138)]
    with open_source(db) as src:
        o = oversight_summary(src)
    assert (o["cases"], o["reviews"], o["cases_without_model_decision"]) == (1, 1, 1)
    # the placeholder is stable: the same file again is a duplicate, not a second review
    again = service.ingest_files(db, [path], default_ts="2020-05-07")[0]
    assert (again.stored, again.duplicates) == (0, 1)

def test_label_studio_single_task_object(tmp_path):
    # GET /api/tasks/{id} returns one task object: here tasks[0] of the verbatim csv_test.json,
    # written alone by the test -- task 1, hakan@heartex.com's "Car" box (lead_time 7.662), the
    # "model 0" prediction "Car" (score 0.7212843313260696, created 2022-10-27T19:40:48.842071Z),
    # rejected by review@heartex.com (review 28)
    (task, _) = json.loads((LS / "real_test_export_csv_csv_test.json").read_text())
    path = tmp_path / "task_1.json"
    path.write_text(json.dumps(task))
    db, r = ingest(tmp_path, path)
    assert (r.format, r.rows_read, r.stored, r.duplicates, r.quarantined) == ("labelstudio", 1, 1, 0, 0)
    assert table(db, "SELECT case_id, model_decision, model_version, round(model_score, 4), CAST(ts AS VARCHAR) "
                     "FROM cases") == [("1", "Car", "model 0", 0.7213, "2022-10-27 19:40:48.842071")]
    assert table(db, "SELECT reviewer_id, human_decision, review_seconds FROM reviews") == [
        ("hakan@heartex.com", "Car", 7.662)]
    assert table(db, "SELECT reviewed_by, accepted, event_id FROM review_events") == [
        ("review@heartex.com", False, "28")]


REPEATER = LS / "real_test_export_json_min_data_repeater.json"


def test_label_studio_taxonomy_result(tmp_path):
    # label-studio-converter tests/data/test_export_json_min/data_repeater.json: task 86 (created
    # 2024-01-25T23:52:00.852852Z), one annotation by user 1 (lead_time 13.042) with a
    # rectanglelabels "labels_0" = "Document Title" and a taxonomy "categories_0" = [["Archaea"]].
    # Default control: the first with labels, labels_0; --question categories_0 reads the taxonomy.
    db, r = ingest(tmp_path, REPEATER)
    assert (r.rows_read, r.stored, r.quarantined) == (1, 1, 0)
    assert any("used control 'labels_0'" in n and "categories_0" in n for n in r.notices)
    assert table(db, "SELECT reviewer_id, human_decision, review_seconds FROM reviews") == [
        ("1", "Document Title", 13.042)]
    db2, r2 = ingest(tmp_path / "t", REPEATER, question="categories_0")
    assert (r2.rows_read, r2.stored, r2.quarantined) == (1, 1, 0)
    assert table(db2, "SELECT case_id, CAST(ts AS VARCHAR) FROM cases") == [("86", "2024-01-25 23:52:00.852852")]
    assert table(db2, "SELECT reviewer_id, human_decision, review_seconds FROM reviews") == [("1", "Archaea", 13.042)]
    # a taxonomy path of several levels is joined with "/" (hand-made variant of the same task)
    tasks = json.loads(REPEATER.read_text())
    tasks[0]["annotations"][0]["result"][1]["value"]["taxonomy"] = [["Archaea", "Euryarchaeota"], ["Bacteria"]]
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(tasks))
    db3, _ = ingest(tmp_path / "d", path, question="categories_0")
    assert table(db3, "SELECT human_decision FROM reviews") == [("Archaea/Euryarchaeota|Bacteria",)]


def test_label_studio_rating_result(tmp_path):
    # no verbatim Label Studio export with a Rating control was found (SOURCES.md): a hand-made
    # variant of data_repeater.json whose taxonomy result is replaced by a Rating tag's result as
    # Label Studio documents it ({"type": "rating", "value": {"rating": 4}}); a second annotator
    # (user 2, lead_time 6.5) rates 5. Two reviews of case 86 that disagree.
    tasks = json.loads(REPEATER.read_text())
    first = tasks[0]["annotations"][0]
    first["result"][1] = {"from_name": "quality", "to_name": "image", "type": "rating", "value": {"rating": 4}}
    second = json.loads(json.dumps(first))
    second.update(id=22, completed_by=2, lead_time=6.5)
    second["result"][1]["value"]["rating"] = 5
    tasks[0]["annotations"].append(second)
    path = tmp_path / "rating.json"
    path.write_text(json.dumps(tasks))
    db, r = ingest(tmp_path, path, question="quality")
    assert (r.rows_read, r.stored, r.quarantined) == (2, 2, 0)
    assert table(db, "SELECT reviewer_id, human_decision, review_seconds FROM reviews ORDER BY 1") == [
        ("1", "4", 13.042), ("2", "5", 6.5)]

def test_label_studio_csv_export_is_refused_naming_the_json_export(tmp_path):
    with pytest.raises(IngestError) as err:
        ingest(tmp_path, LS / "real_test_export_csv_csv_test2_result.csv")
    message = str(err.value)
    assert "\n" not in message and "Label Studio CSV/TSV export" in message and "exportType=JSON" in message


def test_an_export_without_any_timestamp_needs_default_ts(tmp_path):
    tasks = json.loads((LS / "real_test_export_json_min_data.json").read_text())
    for task in tasks:
        for key in ("created_at", "updated_at"):
            task.pop(key, None)
            for a in task["annotations"]:
                a.pop(key, None)
    path = tmp_path / "undated.json"
    path.write_text(json.dumps(tasks))
    with pytest.raises(IngestError, match=r"undated\.json: the export records no timestamp .*--default-ts DATE"):
        ingest(tmp_path, path)
    assert cases_stored(tmp_path / "s.duckdb") == 0  # nothing stored
    with pytest.raises(IngestError, match="--default-ts 'soon' is not a date"):
        ingest(tmp_path, path, default_ts="soon")
    db, r = ingest(tmp_path, path, default_ts="2024-03-01")
    assert r.stored == 1 and table(db, "SELECT CAST(ts AS VARCHAR) FROM cases") == [("2024-03-01 00:00:00",)]


def test_question_and_adapter_options_are_checked(tmp_path):
    with pytest.raises(IngestError, match=r"control 'sentiment' \(--question\) is not in the Label Studio export "
                                          r"\(controls: label\)"):
        ingest(tmp_path, LS / "real_test_export_yolo_data.json", question="sentiment")
    with pytest.raises(IngestError, match=r"the labelstudio reader has no option 'model_decison' "
                                          r"\(--adapter-option model_decison\); its options: question"):
        ingest(tmp_path, LS / "real_test_export_yolo_data.json", adapter_options={"model_decison": "x"})
    with pytest.raises(IngestError, match=r"the csv reader has no option 'question'"):
        p = tmp_path / "log.csv"
        p.write_text("case_id,ts,model_decision\n1,2024-01-01,a\n")
        ingest(tmp_path, p, question="q")


def test_canonical_log_without_model_decision_is_quarantined_unless_declared_annotation_only(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text("case_id,ts,model_decision,reviewer_id,human_decision\n1,2024-01-01,,ann,cat\n")
    _, r = ingest(tmp_path, p)
    assert (r.stored, r.quarantined) == (0, 1)
    other = tmp_path / "other"
    other.mkdir()
    db, r = ingest(other, p, mapping=Mapping(annotation_only=True))
    assert (r.stored, r.quarantined) == (1, 0)
    assert table(db, "SELECT case_id, model_decision FROM cases") == [("1", None)]


def test_langfuse_trace_export_judge_scores_are_model_decisions(tmp_path):
    # langfuse/langfuse worker/src/__tests__/chatml/framework-traces/crewai-2025-07-11.trace.json:
    # trace a287bb31... has two EVAL (LLM-as-a-judge) scores, toxicity 0.8 and hallucination 1,
    # and no human annotation: 2 cases with a model decision, no reviews.
    db, r = ingest(tmp_path, FIXTURES / "langfuse" / "crewai-2025-07-11.trace.json")
    assert (r.format, r.rows_read, r.stored, r.quarantined) == ("langfuse", 2, 2, 0)
    assert table(db, "SELECT case_id, model_decision, model_score FROM cases ORDER BY 1") == [
        ("a287bb31e317433610d8827617471140/hallucination", "1", 1.0),
        ("a287bb31e317433610d8827617471140/toxicity", "0.8", 0.8)]
    assert table(db, "SELECT count(*) FROM reviews") == [(0,)]


def test_langfuse_scores_page_judge_vs_human(tmp_path):
    # A Scores API page built from the fern example values (scores.yml): one trace judged
    # "correctness" by an evaluator (EVAL "incorrect") and annotated by two humans in a queue
    # ("correct", "incorrect"): 1 case, 2 reviews, one override of the judge (1/2 reviews).
    page = {"data": [
        {"id": "s1", "traceId": "cdef-1234-5678-90ab", "name": "correctness", "source": "EVAL",
         "dataType": "CATEGORICAL", "value": 0, "stringValue": "incorrect", "timestamp": "2024-05-01T10:00:00Z"},
        {"id": "s2", "traceId": "cdef-1234-5678-90ab", "name": "correctness", "source": "ANNOTATION",
         "dataType": "CATEGORICAL", "value": 1, "stringValue": "correct", "authorUserId": "u-ann",
         "queueId": "aq-1234-5678-90ab-cdef", "comment": "cites the doc", "timestamp": "2024-05-01T11:00:00Z"},
        {"id": "s3", "traceId": "cdef-1234-5678-90ab", "name": "correctness", "source": "ANNOTATION",
         "dataType": "CATEGORICAL", "value": 0, "stringValue": "incorrect", "authorUserId": "u-bob",
         "timestamp": "2024-05-01T12:00:00Z"}],
        "meta": {"page": 1, "limit": 50, "totalItems": 3, "totalPages": 1}}
    path = tmp_path / "scores.json"
    path.write_text(json.dumps(page))
    db, r = ingest(tmp_path, path)
    # the judge's row creates the case, each annotation adds a review: 3 rows stored
    assert (r.format, r.rows_read, r.stored, r.duplicates, r.quarantined) == ("langfuse", 3, 3, 0, 0)
    assert table(db, "SELECT reviewer_id, human_decision, rationale FROM reviews ORDER BY 1") == [
        ("u-ann", "correct", "cites the doc"), ("u-bob", "incorrect", None)]
    with open_source(db) as src:
        by = {x["reviewer_id"]: x["override_rate"] for x in oversight_summary(src)["by_reviewer"]}
    assert by == {"u-ann": 1.0, "u-bob": 0.0}


def test_langfuse_scores_api_v3_sample_response(tmp_path):
    # langfuse/langfuse-docs content/docs/api-and-data-platform/features/scores-api.mdx, "Sample
    # Response" (GET /api/public/v3/scores?fields=details,subject,annotation), verbatim: an EVAL
    # score "hallucination" 0.25 on observation support-chat-7-950dc53a-gen of trace
    # support-chat-7-950dc53a, and a human ANNOTATION "helpful" = true by user-123 in queue-1 on the
    # trace itself. v3 names the trace in a `subject` object (no flat traceId); the page was refused
    # whole ("score 1 has no 'traceId'"). Two score names: 2 cases, the judged one with a model
    # decision and no review, the annotated one with a review and no model decision.
    db, r = ingest(tmp_path, FIXTURES / "langfuse" / "docs_scores_api_v3_sample_response.json")
    assert (r.format, r.rows_read, r.stored, r.duplicates, r.quarantined) == ("langfuse", 2, 2, 0, 0)
    assert table(db, "SELECT case_id, model_decision, model_score, model_version, CAST(ts AS VARCHAR) "
                     "FROM cases ORDER BY 1") == [
        ("support-chat-7-950dc53a/helpful", None, None, None, "2026-06-15 11:00:00"),
        ("support-chat-7-950dc53a/support-chat-7-950dc53a-gen/hallucination", "0.25", 0.25, "langfuse-eval",
         "2026-06-15 10:30:00")]
    # the v3 boolean is read as v2's stringValue "True"; the comment is null
    assert table(db, "SELECT case_id, reviewer_id, human_decision, rationale, CAST(review_completed_at AS VARCHAR) "
                     "FROM reviews") == [("support-chat-7-950dc53a/helpful", "user-123", "True", None,
                                          "2026-06-15 11:00:00")]
    with open_source(db) as src:
        o = oversight_summary(src)
    # the judged case is automated (no human), the annotated one has nothing to override
    assert (o["cases"], o["cases_without_model_decision"], o["automation_rate"], o["reviews"]) == (2, 1, 1.0, 1)


def test_langfuse_v3_scores_of_a_session_are_refused_by_name(tmp_path):
    # the verbatim page with its second score moved to a session (v3 subject kind "session")
    doc = json.loads((FIXTURES / "langfuse" / "docs_scores_api_v3_sample_response.json").read_text())
    doc["data"][1]["subject"] = {"kind": "session", "id": "sess-1"}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(IngestError, match="score 2 has no 'traceId' \\(session and dataset-run scores"):
        ingest(tmp_path, path)
    assert cases_stored(tmp_path / "s.duckdb") == 0
    # a malformed subject (not an object, an observation without its trace) is named as such
    for bad in ("<b>trace-1</b>", {"kind": "observation", "id": "obs-1"}, {"kind": "trace"}):
        doc["data"][1]["subject"] = bad
        path.write_text(json.dumps(doc))
        with pytest.raises(IngestError, match="score 2 has no 'traceId' \\(its 'subject' names no trace\\)$"):
            ingest(tmp_path, path)
        assert cases_stored(tmp_path / "s.duckdb") == 0
    # a v3 page fetched without fields=subject names no trace at all: the error says what to ask for
    for score in doc["data"]:
        del score["subject"]
    path.write_text(json.dumps(doc))
    with pytest.raises(IngestError, match="score 1 has no 'traceId' \\(a Scores API v3 page must be fetched "
                                          "with fields=subject\\)"):
        ingest(tmp_path, path, fmt="langfuse")
    assert cases_stored(tmp_path / "s.duckdb") == 0


A2I_EVAL = FIXTURES / "a2i" / "real" / "human_evaluation_two_workers.json"
LLAMA = "sm-margaret-meta-textgeneration-llama-2-7b-1711485008-0612"
MISTRAL = "jumpstart-dft-hf-llm-mistral-7b-ins-20240327-043352"


def test_a2i_human_evaluation_two_workers_rate_two_models(tmp_path):
    # AWS SageMaker developer guide, "Understand the results of a human evaluation job": one loop,
    # workers ead1ba56c1278175 (22.574 s) and bad258db224c3db6 (38.197 s) rate two models. The
    # default metric is the first per-model one declared, Accuracy (thumbs up/down): llama
    # true/true (agree), mistral true/false (disagree) -> 2 cases, 4 reviews, 2 reviewers; each
    # worker's time is shared by the two cases they judged: 22.574 + 38.197 = 60.771 s in all.
    db, r = ingest(tmp_path, A2I_EVAL)
    assert (r.format, r.rows_read, r.stored, r.quarantined) == ("a2i", 4, 4, 0)
    assert any("used metric 'Accuracy'" in n for n in r.notices)
    loop = "a757 11d3e75a 8d41f35b9873d 253f5b7bce0256e"
    assert table(db, "SELECT case_id, reviewer_id, human_decision, review_seconds FROM reviews ORDER BY 1, 2") == [
        (f"{loop}/Accuracy/{MISTRAL}", "bad258db224c3db6", "false", 19.0985),
        (f"{loop}/Accuracy/{MISTRAL}", "ead1ba56c1278175", "true", 11.287),
        (f"{loop}/Accuracy/{LLAMA}", "bad258db224c3db6", "true", 19.0985),
        (f"{loop}/Accuracy/{LLAMA}", "ead1ba56c1278175", "true", 11.287)]
    assert table(db, "SELECT round(sum(review_seconds), 3) FROM reviews") == [(60.771,)]
    assert table(db, "SELECT count(*), count(model_decision), min(CAST(ts AS VARCHAR)) FROM cases") == [
        (2, 0, "2024-06-07 22:31:57.066")]  # ts: the earliest acceptanceTime
    with open_source(db) as src:
        o = oversight_summary(src)
        ag = agreement_summary(src, n_boot=0)
    assert (o["cases"], o["cases_without_model_decision"], o["reviews"]) == (2, 2, 4)
    # agreement on Accuracy, by hand: llama {true, true} agrees, mistral {true, false} does not ->
    # percent agreement 1/2. Krippendorff's nominal alpha: coincidences o(t,t) = 2, o(t,f) = o(f,t)
    # = 1, n = 4 (n_t = 3, n_f = 1): D_o = 2/4, D_e = 2*3*1/(4*3) = 1/2 -> alpha = 0. Fleiss:
    # P = (1 + 0)/2, P_e = (3/4)^2 + (1/4)^2 = 5/8 -> (1/2 - 5/8)/(3/8) = -1/3. Gwet's AC1:
    # p_e = 3/4*1/4 + 1/4*3/4 = 3/8 -> (1/2 - 3/8)/(5/8) = 0.2. Each worker agrees with the other
    # on 1 of their 2 cases.
    assert (ag["cases_with_multiple_reviews"], ag["reviews"], ag["reviewers"]) == (2, 4, 2)
    assert ag["percent_agreement"] == pytest.approx(0.5)
    assert ag["krippendorff_alpha_nominal"] == pytest.approx(0.0, abs=1e-12)
    assert ag["fleiss_kappa"] == pytest.approx(-1 / 3)
    assert ag["gwet_ac1"] == pytest.approx(0.2)
    assert [(c["reviewer_id"], c["compared"], c["agreed"]) for c in ag["consensus"]] == [
        ("bad258db224c3db6", 2, 1), ("ead1ba56c1278175", 2, 1)]


def test_a2i_human_evaluation_comparison_metric(tmp_path):
    # Fluency is a choice between the two responses: ead1... chose response 0 (llama), bad2...
    # response 1 (mistral): one case, two reviews that disagree, each with the worker's whole time
    db, r = ingest(tmp_path, A2I_EVAL, question="Fluency")
    assert (r.rows_read, r.stored) == (2, 2)
    assert table(db, "SELECT reviewer_id, human_decision, review_seconds FROM reviews ORDER BY 1") == [
        ("bad258db224c3db6", MISTRAL, 38.197), ("ead1ba56c1278175", LLAMA, 22.574)]
    with pytest.raises(IngestError, match=r"metric 'Helpfulness' \(--question\) is not in the human evaluation"):
        ingest(tmp_path, A2I_EVAL, question="Helpfulness")


# -- hostile variants of the verbatim human-evaluation output, written by the test at run time
# (SOURCES.md lists them as hand-made): wrong shapes are refused in one line naming the file, the
# answer and the field; an answer without the chosen metric is read and quarantined.

def _eval_variant(tmp_path, change) -> Path:
    doc = json.loads(A2I_EVAL.read_text())
    change(doc["humanEvaluationResult"])
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(doc))
    return path


def _set(path, value):
    def change(loop):
        target = loop
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_set(["humanAnswers", 1, "answerContent"], "great"),
     "answer 2: 'answerContent' is a JSON string, not an object"),
    (_set(["humanAnswers", 0, "answerContent", "evaluationResults"], []),
     "answer 1: 'answerContent.evaluationResults' is a JSON list, not an object"),
    (_set(["inputContent"], "What is HIIT?"), "'inputContent' is a JSON string, not an object"),
    (_set(["humanAnswers", 1], "thumbs up"), "answer 2 of 'humanAnswers' is a JSON string, not an object"),
    (_set(["humanAnswers", 0, "answerContent", "evaluationResults", "thumbsUpDown"], {"metricName": "Accuracy"}),
     "answer 1: 'answerContent.evaluationResults.thumbsUpDown' is a JSON object, not a list"),
    (_set(["humanAnswers", 1, "answerContent", "evaluationResults", "thumbsUpDown", 1], {"metricName": "Accuracy",
                                                                                         "result": False}),
     "answer 2: the 'Accuracy' result in 'answerContent.evaluationResults.thumbsUpDown' has no 'modelResponseId'"),
    (_set(["humanAnswers", 1, "answerContent", "evaluationResults", "thumbsUpDown", 0, "result"], {"up": True}),
     "answer 2: the 'Accuracy' result in 'answerContent.evaluationResults.thumbsUpDown' is a JSON object"),
    (_set(["humanAnswers", 0, "answerContent", "evaluationResults", "comparisonChoice", 0], "0"),
     "answer 1: item 1 of 'answerContent.evaluationResults.comparisonChoice' is not an object with a 'metricName'"),
])
def test_a2i_human_evaluation_of_the_wrong_shape_is_refused_naming_answer_and_field(tmp_path, change, message):
    path = _eval_variant(tmp_path, change)
    with pytest.raises(IngestError) as err:
        ingest(tmp_path, path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and message in text
    assert cases_stored(tmp_path / "s.duckdb") == 0


def test_a2i_human_evaluation_answer_without_the_metric_is_quarantined(tmp_path):
    # worker bad258db224c3db6 (answer 2) gave no Accuracy result (its thumbsUpDown list removed
    # by the test): its two (answer, model) rows are read and quarantined; ead1ba56c1278175's two
    # "true" reviews are stored, each with half of its 22.574 s -> rows read 4 = 2 + 0 + 2
    path = _eval_variant(tmp_path, _set(["humanAnswers", 1, "answerContent", "evaluationResults", "thumbsUpDown"],
                                        []))
    db, r = ingest(tmp_path, path)
    assert (r.rows_read, r.stored, r.duplicates, r.quarantined) == (4, 2, 0, 2)
    assert table(db, "SELECT reviewer_id, human_decision, review_seconds FROM reviews ORDER BY case_id") == [
        ("ead1ba56c1278175", "true", 11.287), ("ead1ba56c1278175", "true", 11.287)]
    reasons = [x for (x,) in table(db, "SELECT reason FROM quarantine ORDER BY reason")]
    assert len(reasons) == 2
    for rid, reason in zip("01", reasons):
        assert reason.startswith(f"answer 2 by bad258db224c3db6 has no 'Accuracy' result for model response {rid}")
        assert "--question NAME" in reason and "\n" not in reason
    # choosing a metric both workers gave stores everything
    _, r2 = ingest(tmp_path / "c", path, question="Correctness")
    assert (r2.rows_read, r2.stored, r2.quarantined) == (4, 4, 0)


def test_a2i_ambiguous_answer_is_quarantined_naming_the_answer_option(tmp_path):
    # the awsdocs custom-task output with its answerContent replaced by two free fields (hand-made
    # variant): no single field is the decision -> quarantined, the reason naming the option
    doc = json.loads((FIXTURES / "a2i" / "real" / "awsdocs_custom_transcribe_output.json").read_text())
    doc["humanAnswers"][0]["answerContent"] = {"transcription": "use lambda", "quality": "good"}
    path = tmp_path / "ambiguous.json"
    path.write_text(json.dumps(doc))
    db, r = ingest(tmp_path, path)
    assert (r.rows_read, r.stored, r.quarantined) == (1, 0, 1)
    (reason,) = table(db, "SELECT reason FROM quarantine")[0]
    assert reason.startswith("answer 1 by ef7294f850a3d9d1: ambiguous answerContent (fields: transcription, quality")
    assert "--adapter-option answer=FIELD" in reason
    db2, r2 = ingest(tmp_path / "o", path, adapter_options={"answer": "quality"})
    assert (r2.rows_read, r2.stored, r2.quarantined) == (1, 1, 0)
    assert table(db2, "SELECT human_decision FROM reviews") == [("good",)]
    # an answer field that is not there: quarantined, the reason naming the option given
    db3, r3 = ingest(tmp_path / "m", path, adapter_options={"answer": "verdict"})
    assert (r3.stored, r3.quarantined) == (0, 1)
    assert "no value for 'verdict' (--adapter-option answer=verdict" in table(db3, "SELECT reason FROM quarantine")[0][0]


def test_label_studio_json_min_as_the_converter_writes_it(tmp_path):
    # label-studio-converter 0.0.59 convert_to_json_min of the real test_export_yolo/data.json
    # (SOURCES.md): the same 3 annotations as the full export, one object each -> the same
    # reviews as test_label_studio_boxes_two_annotators_agree_on_the_label_set
    db, r = ingest(tmp_path, LS / "tool_json_min_from_yolo_data.json")
    assert (r.format, r.rows_read, r.stored, r.quarantined) == ("labelstudio", 3, 3, 0)
    # (the export's own lead_time for task 2 is 5.651999999999999)
    assert table(db, "SELECT case_id, reviewer_id, human_decision, round(review_seconds, 3) FROM reviews "
                     "ORDER BY 1, 2") == [
        ("1", "1", "parasites|white", 85.444), ("1", "2", "parasites|white", 1235.418), ("2", "1", "white", 5.652)]
    # ts: no task time in JSON-MIN -> the case's earliest annotation
    assert table(db, "SELECT case_id, CAST(ts AS VARCHAR) FROM cases ORDER BY 1") == [
        ("1", "2022-12-27 13:36:25.747398"), ("2", "2022-12-27 17:20:52.822626")]
    with pytest.raises(IngestError, match=r"field 'choice' \(--question\) is not in the Label Studio JSON-MIN export"):
        ingest(tmp_path, LS / "tool_json_min_from_yolo_data.json", question="choice")


# --- the command line and the mapping file -------------------------------------------------------

def cli(*args):
    from typer.testing import CliRunner

    from hitlgov.cli import app
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_options_reach_the_adapter_and_errors_are_one_line(tmp_path):
    db = tmp_path / "c.duckdb"
    r = cli("ingest", A2I_EVAL, "--question", "Fluency", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip())["stored"] == 2  # stdout: JSON alone
    r = cli("ingest", A2I_EVAL, "--db", tmp_path / "d.duckdb")
    assert r.exit_code == 0 and "note: " in r.stderr and "used metric 'Accuracy'" in r.stderr
    for bad, message in ((["--adapter-option", "model_decision"], "expected KEY=VALUE"),
                         (["--adapter-option", "answr=x"], "the a2i reader has no option 'answr'"),
                         (["--default-ts", "<b>tomorrow</b>"], "is not a date or timestamp"),
                         (["--question", "Nope"], "metric 'Nope' (--question) is not in the human evaluation")):
        r = cli("ingest", A2I_EVAL, *bad, "--db", db)
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert r.exit_code == 1 and len(lines) == 1 and message in lines[0], (bad, r.output)
        assert "Traceback" not in r.output
    assert table(db, "SELECT count(*) FROM reviews") == [(2,)]  # nothing stored by the refused runs


def test_mapping_file_options(tmp_path):
    tasks = json.loads((LS / "real_test_export_json_min_data.json").read_text())
    for task in tasks:
        task.pop("created_at")
        for a in task["annotations"]:
            a.pop("created_at"), a.pop("updated_at")
    export = tmp_path / "undated.json"
    export.write_text(json.dumps(tasks))
    mapping = tmp_path / "m.yaml"
    mapping.write_text("default_ts: 2024-03-01\nquestion: label\nsystem: planes\n")  # an unquoted YAML date
    db = tmp_path / "m.duckdb"
    r = cli("ingest", export, "--mapping", mapping, "--db", db)
    assert r.exit_code == 0, r.output
    assert table(db, "SELECT system, CAST(ts AS VARCHAR) FROM cases") == [("planes", "2024-03-01 00:00:00")]
    mapping.write_text("annotation_only: maybe\n")
    r = cli("ingest", export, "--mapping", mapping, "--db", db)
    assert r.exit_code == 1 and "'annotation_only' must be true or false" in r.output
    mapping.write_text("adapter_options: [model_decision]\n")
    r = cli("ingest", export, "--mapping", mapping, "--db", db)
    assert r.exit_code == 1 and "'adapter_options' must map option name -> value" in r.output


def test_annotation_only_cases_are_covered_by_the_audit_trail(tmp_path):
    from hitlgov import audit, store

    db, _ = ingest(tmp_path, LS / "real_test_export_csv_csv_test2.json")
    with store.connect(db) as con:
        assert audit.verify_store(con)["ok"]
        con.execute("UPDATE cases SET model_decision = 'Yes' WHERE case_id = '4'")  # a decision made up later
        assert not audit.verify_store(con)["ok"]


@pytest.mark.parametrize("content, message", [
    ('{"data": {"id": "s1"}, "meta": {}}', "'data' is not a list of score objects"),
    ('{"data": [{"id": "s1", "name": "q", "source": "EVAL", "dataType": "NUMERIC", "value": 1}], "meta": {}}',
     "score 1 has no 'traceId'"),
    ('{"data": [], "meta": {"page": 1}}', "the Langfuse export has no scores"),
    ('{"data": [{"traceId": "t", "source": "EVAL", "dataType": "X"', "line 1 is not valid JSON"),
    ('{"trace": {"id": "t", "scores": [], "corrections": "<b>x</b>"}, "observations": []}',
     "'corrections' is not a list of score objects"),
    ('{"trace": {"id": "t", "scores": [], "corrections": [7]}, "observations": []}',
     "'corrections' is not a list of score objects"),
])
def test_malformed_langfuse_exports_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "scores.json"
    path.write_text(content)
    with pytest.raises(IngestError) as err:
        ingest(tmp_path, path, fmt="langfuse")
    assert "\n" not in str(err.value) and message in str(err.value) and str(err.value).startswith(str(path))
    assert cases_stored(tmp_path / "s.duckdb") == 0


ARGILLA_REAL = FIXTURES / "argilla" / "real"


@pytest.mark.parametrize("name", ["awesome_sharegpt_v1_record.json", "awesome_sharegpt_v1_hf_record.json"])
def test_argilla_v1_record_of_the_argilla_teams_own_dataset(tmp_path, name):
    # argilla-io/awesome-argilla-datasets sharegpt/README.md: the same argilla 1.x record as
    # FeedbackRecord (fields/metadata/responses/suggestions) and in the Hugging Face layout
    # (format_as("datasets")). external_id is null, there are no responses and no timestamp; one
    # suggestion for the free-text question "response" (agent/score null).
    path = ARGILLA_REAL / name
    with pytest.raises(IngestError, match="--default-ts DATE"):
        ingest(tmp_path, path)  # no time anywhere in the export: refused before storing
    db, r = ingest(tmp_path, path, default_ts="2023-10-25")
    assert (r.format, r.rows_read, r.stored, r.duplicates, r.quarantined) == ("argilla", 1, 1, 0, 0)
    # no id: the case id is the SHA-256 of its non-empty fields ({"prompt": ...}), computed here
    # independently, so both layouts of the record are the same case
    import hashlib
    prompt = "How to tell if a customer segment is well segmented? In 3 bullet points."
    digest = hashlib.sha256(json.dumps({"prompt": prompt}, ensure_ascii=False).encode()).hexdigest()[:32]
    (case,) = table(db, "SELECT case_id, model_decision, model_score, model_version, CAST(ts AS VARCHAR) FROM cases")
    assert case[0] == f"fields:{digest}" and case[2:] == (None, None, "2023-10-25 00:00:00")
    assert case[1].startswith("1. Homogeneity: The segment should consist") and case[1].endswith("change significantly.")
    assert any("no id or external_id" in n for n in r.notices)
    assert table(db, "SELECT count(*) FROM reviews") == [(0,)]
    # the 93 numeric text-descriptive metadata properties are case attributes
    assert table(db, "SELECT value FROM case_attributes WHERE name = 'prompt_n_tokens'") == [("14",)]


ARGILLA1_HF = ARGILLA_REAL / "argilla1_test_paired_suggestions_hf.jsonl"


def _dict_of_lists(path: Path, out: Path) -> Path:
    """The same rows with each response question as a dict of lists -- how ``datasets`` gives a
    ``Sequence({"user_id", "value", "status"})`` column (argilla 1.x before the list features of
    1.29; argilla's own test fixture ``feedback_dataset_huggingface`` has this shape)."""
    lines = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        for q in [k for k in rec if isinstance(rec[k], list) and f"{k}-suggestion-metadata" in rec]:
            rec[q] = {key: [x[key] for x in rec[q]] for key in ("user_id", "value", "status")}
        lines.append(json.dumps(rec))
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize("layout", ["list of dicts", "dict of lists"])
def test_argilla_v1_hugging_face_layouts_keep_every_response(tmp_path, layout):
    # argilla's test records (feedback_dataset_records_with_paired_suggestions), 4 records x 3
    # annotators, in the Hugging Face layout argilla 1.29.1 writes (SOURCES.md), and as a dict of
    # lists. --question question-3 (a LabelQuestion); from the file:
    #   external_id 4: suggested b (agent-3); users 1, 2, 3 answered a, a, c -> 3 overrides
    #   external_id 5: c; a, c, c -> 1      external_id 6: a; c, c, b -> 3
    #   external_id 7: b; c, b, b -> 1      => 4 cases, 12 reviews, 3 reviewers, 8 overrides
    path = ARGILLA1_HF if layout == "list of dicts" else _dict_of_lists(ARGILLA1_HF, tmp_path / "dol.jsonl")
    db, r = ingest(tmp_path, path, default_ts="2024-01-01", question="question-3")
    assert (r.format, r.rows_read, r.stored, r.duplicates, r.quarantined) == ("argilla", 12, 12, 0, 0)
    assert table(db, "SELECT case_id, model_decision, model_version FROM cases ORDER BY 1") == [
        ("4", "b", "agent-3"), ("5", "c", "agent-3"), ("6", "a", "agent-3"), ("7", "b", "agent-3")]
    assert table(db, "SELECT case_id, string_agg(right(reviewer_id, 1) || '=' || human_decision, ' ' "
                     "ORDER BY reviewer_id) FROM reviews GROUP BY 1 ORDER BY 1") == [
        ("4", "1=a 2=a 3=c"), ("5", "1=a 2=c 3=c"), ("6", "1=c 2=c 3=b"), ("7", "1=c 2=b 3=b")]
    assert table(db, "SELECT count(DISTINCT reviewer_id), count(*) FILTER (WHERE human_decision <> model_decision) "
                     "FROM reviews JOIN cases USING (case_id)") == [(3, 8)]
    # a rating question: question-2 (values 1 or 2), case 7 suggested 2, all three answered 2
    db2, r2 = ingest(tmp_path / "q2", path, default_ts="2024-01-01", question="question-2")
    assert (r2.rows_read, r2.stored) == (12, 12)
    assert table(db2, "SELECT human_decision FROM reviews WHERE case_id = '7'") == [("2",), ("2",), ("2",)]

def test_argilla_v1_both_layouts_are_one_case(tmp_path):
    db = tmp_path / "s.duckdb"
    results = service.ingest_files(db, [ARGILLA_REAL / "awesome_sharegpt_v1_record.json",
                                        ARGILLA_REAL / "awesome_sharegpt_v1_hf_record.json"], default_ts="2023-10-25")
    assert [(x.stored, x.duplicates) for x in results] == [(1, 0), (0, 1)]
    assert table(db, "SELECT count(*) FROM cases") == [(1,)]


@pytest.mark.parametrize("name", ["argilla2_sdk_test_generic_records.json", "argilla2_sdk_test_generic_flat.jsonl"])
def test_argilla_v2_exports_written_by_argilla_itself(tmp_path, name):
    # argilla's own test record (tests/unit/test_io/test_generic.py), exported by argilla 2.8.0:
    # q1 suggested "value" (score 0.1, agent "test"), answered "value" by users a (submitted) and
    # c (no status); q2 suggested "value" (0.9), answered by a (submitted) and b (draft).
    db, r = ingest(tmp_path, ARGILLA_REAL / name, default_ts="2024-06-01")
    # default question: q1, the first with a suggestion and label-like values; a notice says so
    assert (r.rows_read, r.stored, r.quarantined) == (2, 2, 0)
    assert any("used question 'q1'" in n for n in r.notices)
    assert table(db, "SELECT case_id, model_decision, model_score, model_version FROM cases") == [
        ("0f6e8a30-7f5b-4c4e-9d1e-2d3c4b5a6978", "value", 0.1, "test")]
    a, b, c = (f"00000000-0000-4000-8000-00000000000{i}" for i in "abc")
    assert table(db, "SELECT reviewer_id, human_decision FROM reviews ORDER BY 1") == [(a, "value"), (c, "value")]
    with open_source(db) as src:
        o = oversight_summary(src)
        ag = agreement_summary(src, n_boot=0)
    assert (o["cases"], o["reviews"], o["override_rate"], o["cases_without_model_decision"]) == (1, 2, 0.0, 0)
    # agreement, by hand: one case reviewed twice, a and c both "value" -> percent agreement 1;
    # a single label leaves no expected disagreement, so alpha, Fleiss' kappa and AC1 are undefined
    assert (ag["cases_with_multiple_reviews"], ag["reviews"], ag["reviewers"]) == (1, 2, 2)
    assert ag["percent_agreement"] == 1.0
    assert (ag["krippendorff_alpha_nominal"], ag["fleiss_kappa"], ag["gwet_ac1"]) == (None, None, None)
    assert [(c["reviewer_id"][-1], c["compared"], c["agreed"]) for c in ag["consensus"]] == [("a", 1, 1), ("c", 1, 1)]
    # the attributes are the field and the metadata, not the export's bookkeeping (status, _server_id)
    assert table(db, "SELECT name, value FROM case_attributes ORDER BY 1") == [("field", "The field"), ("key", "value")]


def test_argilla_record_and_response_times(tmp_path):
    # the verbatim argilla 2.8.0 export with the times Argilla's server adds (hand-made variant:
    # records fetched from a server carry inserted_at / updated_at, on responses too). q1: the
    # record was inserted 2024-05-01T10:00:00 -> ts; user a's response updated 10:05:00 (after
    # inserted 10:01:00) -> completed 10:05; user c's has only inserted_at 10:07:30 -> completed then.
    (rec,) = json.loads((ARGILLA_REAL / "argilla2_sdk_test_generic_records.json").read_text())
    rec["inserted_at"], rec["updated_at"] = "2024-05-01T10:00:00", "2024-05-01T11:00:00"
    a, c = rec["responses"]["q1"]
    a.update(inserted_at="2024-05-01T10:01:00", updated_at="2024-05-01T10:05:00")
    c.update(inserted_at="2024-05-01T10:07:30")
    path = tmp_path / "timed.json"
    path.write_text(json.dumps([rec]))
    db, r = ingest(tmp_path, path)  # no --default-ts needed: the export has times
    assert (r.rows_read, r.stored, r.quarantined) == (2, 2, 0)
    assert table(db, "SELECT CAST(ts AS VARCHAR) FROM cases") == [("2024-05-01 10:00:00",)]
    assert table(db, "SELECT right(reviewer_id, 1), CAST(review_completed_at AS VARCHAR) FROM reviews ORDER BY 1") == [
        ("a", "2024-05-01 10:05:00"), ("c", "2024-05-01 10:07:30")]
    # without the record's own times, ts is the earliest response time (10:05 vs 10:07:30)
    del rec["inserted_at"], rec["updated_at"]
    path.write_text(json.dumps([rec]))
    db2, _ = ingest(tmp_path / "r", path)
    assert table(db2, "SELECT CAST(ts AS VARCHAR) FROM cases") == [("2024-05-01 10:05:00",)]

def test_argilla_v2_flat_export_quarantines_the_draft(tmp_path):
    # --question q2 in the flattened export: a's submitted response is a review; b's draft is read,
    # not a review, and quarantined with that reason (rows read = 2 = 1 stored + 1 quarantined).
    # The nested export has no response status: there b's draft counts (documented).
    db, r = ingest(tmp_path, ARGILLA_REAL / "argilla2_sdk_test_generic_flat.jsonl", default_ts="2024-06-01",
                   question="q2")
    assert (r.rows_read, r.stored, r.quarantined) == (2, 1, 1)
    assert table(db, "SELECT model_score FROM cases") == [(0.9,)]
    assert table(db, "SELECT reason FROM quarantine") == [
        ("draft response by 00000000-0000-4000-8000-00000000000b: not a submitted review",)]
    _, r2 = ingest(tmp_path / "n", ARGILLA_REAL / "argilla2_sdk_test_generic_records.json",
                   default_ts="2024-06-01", question="q2")
    assert (r2.rows_read, r2.stored, r2.quarantined) == (2, 2, 0)


def test_a2i_custom_task_output_from_the_aws_docs_repository(tmp_path):
    # awsdocs/amazon-sagemaker-developer-guide doc_source/a2i-output-data.md: a custom Amazon
    # Transcribe review; one answer by worker ef7294f850a3d9d1 ("use lambda to turn your
    # notebook", submitted 2020-06-18T17:08:26.246Z, no acceptanceTime); inputContent has the
    # model's transcription as "original_words" -- A2I cannot know that, the option names it.
    path = FIXTURES / "a2i" / "real" / "awsdocs_custom_transcribe_output.json"
    db, r = ingest(tmp_path, path)
    assert (r.format, r.rows_read, r.stored, r.quarantined) == ("a2i", 1, 1, 0)
    assert any("--adapter-option model_decision=inputContent.KEY" in n for n in r.notices)
    assert table(db, "SELECT case_id, model_decision, CAST(ts AS VARCHAR) FROM cases") == [
        ("human-loop-name", None, "2020-06-18 17:08:26.246")]
    assert table(db, "SELECT reviewer_id, human_decision, review_seconds FROM reviews") == [
        ("ef7294f850a3d9d1", "use lambda to turn your notebook", None)]
    db2, _ = ingest(tmp_path / "o", path, adapter_options={"model_decision": "inputContent.original_words"})
    # (the value's trailing blank is trimmed by validation, as for every text field)
    assert table(db2, "SELECT model_decision FROM cases") == [("but definitely use Lambda to turn your",)]
    with open_source(db2) as src:
        o = oversight_summary(src)
    assert (o["override_rate"], o["cases_without_model_decision"]) == (1.0, 0)  # the worker rewrote it


def test_langfuse_trace_export_with_a_human_correction(tmp_path):
    # langfuse/langfuse worker/src/__tests__/chatml/framework-traces/pydantic-ai-2025-06-06.trace.json:
    # no scores, one ANNOTATION score of dataType CORRECTION ("output", by user
    # cm167x5rh00018bk3mcnituff, 2026-03-05T09:13:54.218Z) whose longStringValue is the trace's
    # output unchanged. The correction is a review of the output: the output (JSON-encoded in
    # the export) is the model decision, ts the trace's timestamp; the human kept it: no override.
    db, r = ingest(tmp_path, FIXTURES / "langfuse" / "pydantic-ai-2025-06-06.trace.json")
    assert (r.format, r.rows_read, r.stored, r.quarantined) == ("langfuse", 1, 1, 0)
    ((case_id, decision, ts),) = table(db, "SELECT case_id, model_decision, CAST(ts AS VARCHAR) FROM cases")
    assert (case_id, ts) == ("25f4bdeebaab60e6e1bee7e8469554bc/output", "2025-06-06 14:40:28.562")
    assert decision.startswith("Langfuse is a tool designed") and not decision.startswith('"')
    assert table(db, "SELECT reviewer_id, human_decision = ?, CAST(review_completed_at AS VARCHAR) FROM reviews",
                 [decision]) == [("cm167x5rh00018bk3mcnituff", True, "2026-03-05 09:13:54.218")]
    with open_source(db) as src:
        assert oversight_summary(src)["override_rate"] == 0.0


def test_a_correction_of_an_unknown_observation_has_no_model_decision(tmp_path):
    # a hand-made variant of the pydantic-ai trace: the correction names an observation the export
    # does not hold, so there is no output to compare with: stored annotation-only, not guessed
    doc = json.loads((FIXTURES / "langfuse" / "pydantic-ai-2025-06-06.trace.json").read_text())
    doc["trace"]["corrections"][0]["observationId"] = "not-in-this-export"
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(doc))
    db, r = ingest(tmp_path, path)
    assert (r.stored, r.quarantined) == (1, 0)
    assert table(db, "SELECT case_id, model_decision FROM cases") == [
        ("25f4bdeebaab60e6e1bee7e8469554bc/not-in-this-export/output", None)]
    assert table(db, "SELECT count(*) FROM reviews") == [(1,)]


def test_argilla_records_without_ids_and_with_equal_fields_are_one_case(tmp_path):
    # two 1.x records with the same fields and no external_id are one case (the same content in
    # two exports is the same case); their suggestions disagree, so the second is a conflict,
    # quarantined with both values -- never silently merged
    rec = json.loads((ARGILLA_REAL / "awesome_sharegpt_v1_record.json").read_text())
    other = json.loads(json.dumps(rec))
    other["suggestions"][0]["value"] = "something else"
    path = tmp_path / "two.json"
    path.write_text(json.dumps([rec, other]))
    db, r = ingest(tmp_path, path, default_ts="2023-10-25")
    assert (r.rows_read, r.stored, r.quarantined) == (2, 1, 1)
    assert table(db, "SELECT count(*) FROM cases") == [(1,)]
    (reason,) = table(db, "SELECT reason FROM quarantine")[0]
    assert "model_decision" in reason and "something else" in reason


def test_monthly_review_time_of_an_annotation_only_export(tmp_path):
    # YOLO export (no predictions): December 2022 has no case with a model decision but 3 reviews
    # of 5.652, 85.444 and 1235.418 s: median 85.444; p90 by linear interpolation at position
    # 0.9 * 2 = 1.8: 85.444 + 0.8 * (1235.418 - 85.444) = 1005.4232; 1326.514 s = 0.368476 h.
    db, _ = ingest(tmp_path, LS / "real_test_export_yolo_data.json")
    from hitlgov.metrics import oversight

    with open_source(db) as src:
        (month,) = oversight.trend(src)
    assert (month["period"], month["cases"], month["reviews"], month["override_rate"]) == ("2022-12-01", 0, 3, None)
    assert month["review_seconds_median"] == pytest.approx(85.444)
    assert month["review_seconds_p90"] == pytest.approx(1005.4232)
    assert month["review_hours"] == pytest.approx(1326.514 / 3600)


# -- hostile variants of verbatim exports, written by the test (SOURCES.md): a value of the wrong
# shape is refused in one line naming the file, the record and the field -- never dropped.

def _variant(tmp_path, source: Path, change, name="variant.json") -> Path:
    doc = json.loads(source.read_text())
    change(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("change, message", [
    # a review-stage verdict that is a bare id, not an object
    (lambda d: d[1]["annotations"][0].__setitem__("reviews", [7]),
     "task 2: annotation 1: 'reviews' item 1 is a JSON number, not an object"),
    # the second box of task 1's first annotation as a bare string: the label would have
    # changed silently from "parasites|white" to "white"
    (lambda d: d[0]["annotations"][0]["result"].__setitem__(1, "parasites"),
     "task 1: annotation 1: 'result' item 2 is a JSON string, not an object"),
    (lambda d: d[0]["annotations"][0].__setitem__("result", {"value": {}}),
     "task 1: annotation 1: 'result' is a JSON object, not a list"),
])
def test_label_studio_items_of_the_wrong_shape_are_refused(tmp_path, change, message):
    source = LS / ("real_test_export_csv_csv_test.json" if "reviews" in message else "real_test_export_yolo_data.json")
    path = _variant(tmp_path, source, change)
    with pytest.raises(IngestError) as err:
        ingest(tmp_path, path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and message in text
    assert cases_stored(tmp_path / "s.duckdb") == 0


def _argilla2(change):
    def apply(doc):
        change(doc[0])
    return apply


@pytest.mark.parametrize("source, change, message", [
    ("argilla2_sdk_test_generic_records.json", _argilla2(lambda r: r["responses"]["q1"].append("value")),
     "record 1: response 3 of 'responses.q1' is a JSON string, not an object"),
    ("awesome_sharegpt_v1_hf_record.json", lambda r: r.__setitem__("response", [{"user_id": "u", "value": "x",
                                                                                 "status": "submitted"}, 5]),
     "record 1: response 2 of 'response' is a JSON number, not an object"),
    ("awesome_sharegpt_v1_hf_record.json", lambda r: r.__setitem__("response", {"user_id": "u", "value": ["x"]}),
     "record 1: 'response.user_id' is a JSON string, not a list of responses"),
    ("awesome_sharegpt_v1_record.json", lambda r: r.__setitem__("responses", ["submitted"]),
     "record 1: response 1 of 'responses' is not an object with 'values'"),
])
def test_argilla_responses_of_the_wrong_shape_are_refused(tmp_path, source, change, message):
    path = _variant(tmp_path, ARGILLA_REAL / source, change)
    with pytest.raises(IngestError) as err:
        ingest(tmp_path, path, default_ts="2024-06-01")
    text = str(err.value)
    assert "\n" not in text and str(path) in text and message in text
    assert cases_stored(tmp_path / "s.duckdb") == 0


def test_argilla_flat_response_column_that_is_not_a_list_is_refused(tmp_path):
    rec = json.loads((ARGILLA_REAL / "argilla2_sdk_test_generic_flat.jsonl").read_text())
    rec["q1.responses.users"] = "00000000-0000-4000-8000-00000000000a"  # would be zipped character by character
    path = tmp_path / "flat.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    with pytest.raises(IngestError, match=r"record 1: 'q1\.responses\.users' is a JSON string, not a list"):
        ingest(tmp_path, path, default_ts="2024-06-01")


@pytest.mark.parametrize("cut, message", [
    # cut inside the first result's value, before "data" -- no reader recognises the head
    (3000, "invalid JSON at line 76 column 12 (Expecting property name enclosed in double quotes); "
           "the file may be truncated"),
    # cut after task 1's "data": recognised as Label Studio, refused by its reader
    (-200, "not a Label Studio export: invalid JSON at line"),
])
def test_truncated_json_export_names_the_parse_error(tmp_path, cut, message):
    # the verbatim YOLO export cut short by the test, as an interrupted download leaves it
    raw = (LS / "real_test_export_yolo_data.json").read_bytes()
    path = tmp_path / "export.json"
    path.write_bytes(raw[:cut])
    with pytest.raises(IngestError) as err:
        ingest(tmp_path, path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and message in text
    assert "truncated" in text and "unrecognised content" not in text
    assert cases_stored(tmp_path / "s.duckdb") == 0
