"""The canonical schema is named once (hitlgov.schema); the store's migrations agree with it."""
from __future__ import annotations

import duckdb

from hitlgov import schema, store

DUCKDB_TO_IBIS = {"VARCHAR": "string", "TIMESTAMP": "timestamp", "DOUBLE": "float64", "BOOLEAN": "boolean",
                  "VARCHAR[]": "array<string>", "BIGINT": "int64"}
BOOKKEEPING = {"run_id", "source_row"}


def test_store_tables_carry_exactly_the_canonical_columns_with_their_types(tmp_path):
    with store.connect(tmp_path / "s.duckdb") as con:
        for table, columns in schema.TABLES.items():
            described = {name: DUCKDB_TO_IBIS.get(typ, typ) for name, typ, *_ in
                         con.execute(f"DESCRIBE {table}").fetchall()}
            canonical = {k: v for k, v in described.items() if k not in BOOKKEEPING}
            assert canonical == columns, table


def test_required_fields_are_not_null_in_the_store(tmp_path):
    with store.connect(tmp_path / "s.duckdb") as con:
        nullable = {(t, c): n for t, c, n in con.execute(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
            "WHERE table_name IN ('cases', 'reviews')").fetchall()}
    for field in schema.REQUIRED_ALWAYS:
        table = "reviews" if schema.BY_NAME[field].belongs_to == "review" else "cases"
        assert nullable[(table, field)] == "NO", field
    # an annotation-only source (a labelling export with no prediction) stores cases without one
    assert nullable[("cases", "model_decision")] == "YES"


def test_model_decision_is_required_except_of_an_annotation_only_source():
    assert schema.REQUIRED == ("case_id", "ts", "model_decision")
    assert schema.required_fields(annotation_only=False) == schema.REQUIRED
    assert schema.required_fields(annotation_only=True) == ("case_id", "ts")


def test_field_groups_partition_the_contract():
    groups = set(schema.CASE_FIELDS) | set(schema.REVIEW_COLUMNS) | {"system", "case_id"}
    assert groups == set(schema.CANONICAL_FIELDS)
    assert not set(schema.CASE_FIELDS) & set(schema.REVIEW_COLUMNS)
    assert set(schema.LABEL_FIELDS) <= set(schema.CANONICAL_FIELDS)


def test_every_consumer_reads_the_one_list():
    from hitlgov.metrics import engines

    from hitlgov import adapters, export, mapping
    from hitlgov.ingest import pipeline

    assert mapping.CANONICAL_FIELDS is schema.CANONICAL_FIELDS
    assert adapters.CANONICAL is schema.CANONICAL_FIELDS
    assert pipeline.REVIEW_FIELDS is schema.REVIEW_FIELDS and pipeline.CASE_FIELDS is schema.CASE_FIELDS
    assert engines.CANONICAL_SCHEMA is schema.TABLES
    assert {k: list(v) for k, v in export.CANONICAL_COLUMNS.items()} == {k: list(v) for k, v in schema.TABLES.items()}


def test_a_duckdb_type_we_do_not_map_would_fail_the_comparison():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER)")
    typ = con.execute("DESCRIBE t").fetchall()[0][1]
    assert DUCKDB_TO_IBIS.get(typ, typ) not in ("string", "float64")
