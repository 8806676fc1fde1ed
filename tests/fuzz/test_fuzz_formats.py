"""Fuzzing the other entry points of ingestion (issue 14): hostile mapping files, archives
(gzip, nested, truncated, zip, trailing garbage), JSON Lines and Parquet inputs.

Each example ingests into a copy of a store that already holds rows and checks, as
``test_fuzz_ingest`` does: the counts identity (read = stored + duplicates + quarantined) or a
one-line error naming the file with the store unchanged; the earlier rows unchanged; no stored
timestamp outside the plausible range; and the read paths answering afterwards (``status`` and
``verify``; the long run adds ``metrics --json`` and, on a sample of examples, every dashboard page).
"""
from __future__ import annotations

import gzip
import io
import json
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fuzz.test_fuzz_ingest import (EDGE_TIMESTAMPS, EXAMPLES, HEADER, NUMBERS, check_ingest, hostile_csv,
                                   nasty_text, value)
from hitlgov.errors import HitlgovError
from hitlgov.mapping import load_mapping

SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
GOOD_CSV = ("id,when,decision,score,who,verdict,group\n"
            "c1,2026-01-05T09:00:00,approve,0.9,r1,approve,a\n"
            "c2,2026-01-06T09:00:00,decline,0.2,r2,approve,b\n"
            "c3,2026-01-07,approve,0.5,,,a\n").encode()
SOURCE_COLUMNS = ["id", "when", "decision", "score", "who", "verdict", "group", "_row", "_invalid_json", "missing", ""]
FIELDS = ["case_id", "ts", "model_decision", "model_score", "reviewer_id", "human_decision", "outcome",
          "review_seconds", "system", "not_a_field"]
scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                   nasty_text, st.sampled_from(SOURCE_COLUMNS))


# --- mapping files ----------------------------------------------------------------------------

@st.composite
def hostile_mapping(draw) -> bytes:
    """A mapping file as a careless or hostile user writes it: plausible keys with wrong shapes,
    one column for two fields, reserved names, aliases, unsafe tags, broken YAML, odd bytes."""
    doc: dict = {}
    columns = draw(st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(SOURCE_COLUMNS) | scalar, max_size=6))
    if draw(st.booleans()):
        columns.update({"case_id": "id", "ts": "when", "model_decision": "decision"})
    doc["columns"] = columns if draw(st.integers(0, 9)) else draw(scalar | st.lists(scalar, max_size=3))
    if draw(st.booleans()):
        doc["labels"] = draw(st.dictionaries(st.sampled_from(["model_decision", "human_decision", "outcome", "ts"]),
                                             st.dictionaries(scalar.map(str), scalar, max_size=3) | scalar, max_size=3))
    for key in ("system", "positive_label", "timestamp_format", "question", "default_ts", "annotation_only"):
        if draw(st.integers(0, 3)) == 0:
            doc[key] = draw(scalar | st.sampled_from(["%d/%m/%Y", "%Y", "%s", "%", "2026-01-01", "10000-01-01"]))
    for key in ("attributes", "sensitive", "features", "label_order", "score_range"):
        if draw(st.integers(0, 3)) == 0:
            doc[key] = draw(st.lists(scalar, max_size=4) | scalar)
    if draw(st.integers(0, 5)) == 0:
        doc[draw(st.sampled_from(["unknown_key", "Columns", "columns "]))] = draw(scalar)
    text = yaml.safe_dump(doc, allow_unicode=True)
    mangle = draw(st.sampled_from(["none", "alias", "tag", "truncate", "bom", "latin1", "tabs", "dup-key", "nul"]))
    if mangle == "alias":
        text = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\n" + text
    elif mangle == "tag":
        text += "system: !!python/object/apply:os.system ['true']\n"
    elif mangle == "truncate":
        text = text[:draw(st.integers(0, max(0, len(text) - 1)))]
    elif mangle == "tabs":
        text = text.replace("  ", "\t")
    elif mangle == "dup-key":
        text += "columns: {}\n"
    elif mangle == "nul":
        text += "system: \"a\\0b\"\n"
    data = text.encode("utf-8")
    if mangle == "bom":
        data = b"\xef\xbb\xbf" + data
    elif mangle == "latin1":
        data = text.encode("latin-1", errors="replace") + b"system: caf\xe9\n"
    return data


@SETTINGS
@given(mapping=hostile_mapping())
def test_hostile_mapping_is_refused_in_one_line_or_ingests_losslessly(tmp_path_factory, mapping):
    folder = tmp_path_factory.mktemp("mapping")
    path = folder / "mapping.yaml"
    path.write_bytes(mapping)
    try:
        loaded = load_mapping(path)
    except HitlgovError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
        return
    except Exception as exc:  # noqa: BLE001 - any other exception is a bug: a traceback for the user
        raise AssertionError(f"load_mapping raised {type(exc).__name__}: {exc}\n{mapping!r}") from exc
    check_ingest(tmp_path_factory, "log.csv", GOOD_CSV, mapping=loaded)


# --- archives ---------------------------------------------------------------------------------

def _zip(data: bytes, name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, data)
    return buf.getvalue()


@st.composite
def archive(draw) -> tuple[str, bytes]:
    """A log inside gzip (possibly twice, multi-member, truncated, with trailing bytes) or a zip."""
    inner = draw(hostile_csv()) if draw(st.booleans()) else GOOD_CSV.replace(b"id,when,decision", b"case_id,ts,model_decision")
    kind = draw(st.sampled_from(["gz", "gz-gz", "multi", "truncated", "trailing", "zip", "zip-as-gz", "empty-gz",
                                 "gz-named-csv"]))
    if kind == "gz":
        return "log.csv.gz", gzip.compress(inner)
    if kind == "gz-gz":
        return "log.csv.gz", gzip.compress(gzip.compress(inner))
    if kind == "multi":
        cut = draw(st.integers(0, len(inner)))
        return "log.csv.gz", gzip.compress(inner[:cut]) + gzip.compress(inner[cut:])
    if kind == "truncated":
        data = gzip.compress(inner)
        return "log.csv.gz", data[:draw(st.integers(1, len(data) - 1))]
    if kind == "trailing":
        return "log.csv.gz", gzip.compress(inner) + draw(st.binary(min_size=1, max_size=64))
    if kind == "zip":
        return "log.zip", _zip(inner, "log.csv")
    if kind == "zip-as-gz":
        return "log.csv.gz", _zip(inner, "log.csv")
    if kind == "empty-gz":
        return "log.csv.gz", gzip.compress(b"")
    return "log.csv", gzip.compress(inner)  # gzip bytes under a plain .csv name


@SETTINGS
@given(item=archive())
def test_hostile_archive_keeps_the_counts_and_the_store(tmp_path_factory, item):
    name, data = item
    check_ingest(tmp_path_factory, name, data)


# --- JSON Lines -------------------------------------------------------------------------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | nasty_text
    | st.sampled_from(EDGE_TIMESTAMPS + NUMBERS + ["approve", "decline", "r1", "c1"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(nasty_text, children, max_size=3),
    max_leaves=6)


@st.composite
def hostile_jsonl(draw) -> bytes:
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    lines = []
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.integers(0, 9))
        if kind == 0:   # not a JSON object at all
            lines.append(draw(st.sampled_from(["[1, 2]", '"text"', "42", "null", "{broken", "{\"a\": 1} trailing", ""])))
            continue
        row = {"case_id": draw(st.sampled_from(["c1", "c2", "s1"]) | json_value),
               "ts": draw(st.sampled_from(EDGE_TIMESTAMPS) | json_value),
               "model_decision": draw(st.sampled_from(["approve", "decline"]) | json_value)}
        for key in HEADER[3:]:
            if draw(st.booleans()):
                row[key] = draw(json_value)
        if draw(st.integers(0, 7)) == 0:
            row[draw(st.sampled_from(["_row", "_invalid_json", "_a0", "", "x" * 300, "Case_ID", "case_id "]))] = draw(json_value)
        text = json.dumps(row, ensure_ascii=draw(st.booleans()), allow_nan=True)
        if draw(st.integers(0, 9)) == 0:  # a duplicated key, written by hand
            text = text[:-1] + ', "case_id": "dup"}'
        lines.append(text)
    body = eol.join(lines) + draw(st.sampled_from([eol, ""]))
    data = body.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    return data


@SETTINGS
@given(data=hostile_jsonl(), gz=st.booleans())
def test_hostile_jsonl_keeps_the_counts_and_the_store(tmp_path_factory, data, gz):
    check_ingest(tmp_path_factory, "log.jsonl.gz" if gz else "log.jsonl", gzip.compress(data) if gz else data)


# --- Parquet ----------------------------------------------------------------------------------

TS_TYPES = [pa.timestamp("s"), pa.timestamp("ms"), pa.timestamp("us"), pa.timestamp("ns"), pa.timestamp("us", "UTC"),
            pa.date32(), pa.int64(), pa.string()]


def _ts_column(draw, n: int):
    typ = draw(st.sampled_from(TS_TYPES))
    if typ == pa.string():
        return pa.array([draw(st.sampled_from(EDGE_TIMESTAMPS) | nasty_text) for _ in range(n)], typ)
    if typ == pa.date32():
        return pa.array([draw(st.integers(-2**31, 2**31 - 1) | st.sampled_from([0, 20454])) for _ in range(n)], pa.int32()).cast(typ)
    ints = [draw(st.integers(-2**63, 2**63 - 1) | st.sampled_from([0, 1767225600, 1767225600000, 1767225600000000]))
            for _ in range(n)]
    return pa.array(ints, pa.int64()).cast(typ) if typ != pa.int64() else pa.array(ints, typ)


@st.composite
def hostile_parquet(draw) -> bytes:
    n = draw(st.integers(1, 8))
    cols = {"case_id": pa.array([draw(st.sampled_from(["c1", "c2", "s1"]) | nasty_text) for _ in range(n)]),
            "ts": _ts_column(draw, n),
            "model_decision": pa.array([draw(st.sampled_from(["approve", "decline", ""]) | nasty_text) for _ in range(n)])}
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["float", "string", "int", "decimal", "null"]))
        if kind == "float":
            cols["model_score"] = pa.array([draw(st.floats(allow_nan=True, allow_infinity=True)) for _ in range(n)])
        elif kind == "string":
            cols["model_score"] = pa.array([draw(st.sampled_from(NUMBERS)) for _ in range(n)])
        elif kind == "int":
            cols["model_score"] = pa.array([draw(st.integers(-2**63, 2**63 - 1)) for _ in range(n)], pa.int64())
        elif kind == "decimal":
            cols["model_score"] = pa.array([draw(st.decimals(-10**6, 10**6, places=3, allow_nan=False))
                                            for _ in range(n)], pa.decimal128(12, 3))
        else:
            cols["model_score"] = pa.nulls(n)
    if draw(st.booleans()):
        cols["reviewer_id"] = pa.array([draw(st.sampled_from([None, "r1", "r\u200b1"])) for _ in range(n)], pa.string())
        cols["human_decision"] = pa.array([draw(st.sampled_from([None, "approve"])) for _ in range(n)], pa.string())
        cols["review_seconds"] = pa.array([draw(st.floats(allow_nan=True) | st.none()) for _ in range(n)], pa.float64())
    if draw(st.booleans()):  # nested and odd attribute types
        extra = draw(st.sampled_from(["list", "struct", "dict", "binary", "bool", "reserved"]))
        if extra == "list":
            cols["tags"] = pa.array([[draw(nasty_text)] for _ in range(n)])
        elif extra == "struct":
            cols["meta"] = pa.array([{"a": draw(st.integers(0, 9)), "b": draw(nasty_text)} for _ in range(n)])
        elif extra == "dict":
            cols["region"] = pa.array([draw(st.sampled_from(["n", "s"])) for _ in range(n)]).dictionary_encode()
        elif extra == "binary":
            cols["blob"] = pa.array([draw(st.binary(max_size=8)) for _ in range(n)], pa.binary())
        elif extra == "bool":
            cols["escalated"] = pa.array([draw(st.booleans() | st.none()) for _ in range(n)], pa.bool_())
        else:
            cols["_row"] = pa.array(list(range(n)), pa.int64())
    buf = io.BytesIO()
    try:
        pq.write_table(pa.table(cols), buf)
    except pa.ArrowInvalid:  # Parquet stores seconds as ms: pyarrow cannot write a timestamp[s] near int64's edge
        assume(False)
    data = buf.getvalue()
    if draw(st.integers(0, 9)) == 0:  # a cut file
        data = data[:draw(st.integers(4, len(data) - 1))]
    return data


@SETTINGS
@given(data=hostile_parquet())
def test_hostile_parquet_keeps_the_counts_and_the_store(tmp_path_factory, data):
    check_ingest(tmp_path_factory, "log.parquet", data)


def test_strategies_draw_what_they_promise():
    """The strategies are not vacuous: a fixed draw of each produces the input kind it names."""
    from hypothesis import find

    assert find(archive(), lambda item: item[0] == "log.zip")[1][:2] == b"PK"
    assert find(archive(), lambda item: item[1][:2] == b"\x1f\x8b" and item[1][10:12] != b"")[1][:2] == b"\x1f\x8b"
    assert pq.ParquetFile(io.BytesIO(find(hostile_parquet(), lambda d: d[-4:] == b"PAR1"))).metadata.num_rows >= 1
    assert json.loads(find(hostile_jsonl(), lambda d: d.startswith(b'{"case_id": "c1"')).splitlines()[0])
    assert b"&a" in find(hostile_mapping(), lambda d: b"&a" in d)
