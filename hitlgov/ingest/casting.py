"""How a source column becomes a typed canonical field: the one set of typing rules.

Ingestion (every value arrives as text) and in-place Parquet datasets (columns keep their
Parquet types) type fields with the same rules, so a value means the same thing on both paths:

* text: trimmed, empty is missing;
* reviewer ids: also NFC-normalised, with invisible characters (zero-width, bidi controls, soft
  hyphen, BOM) removed, so ids that look identical on screen are one reviewer;
* labels: mapped through the mapping's ``labels:`` table, other values kept as they are;
* timestamps: native timestamp/date columns as they are (zoned ones converted to UTC); text as
  epoch seconds when it is a number, else the mapping's ``timestamp_format``, else ISO 8601,
  zoned values converted to UTC and naive ones read as UTC;
* numbers: native numeric columns cast to DOUBLE, text parsed (unparsable = NULL, which the row
  checks quarantine when the raw text was not empty);
* booleans: native BOOLEAN as it is, text ``true/t/1/yes/y`` and ``false/f/0/no/n``.

Values from the mapping enter the SQL through ``value`` -- a parameter collector for ingestion,
a quoted literal for view definitions (which cannot take parameters).
"""
from __future__ import annotations

from typing import Callable

from hitlgov.mapping import Mapping
from hitlgov.schema import BY_NAME, CANONICAL_FIELDS, DEFAULT_SYSTEM

TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "FLOAT", "DOUBLE", "REAL")
TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITHOUT TIME ZONE")
#: the fields whose raw text the row checks look at (a value given but not parsable)
RAW_FIELDS = ("ts", "model_score", "review_started_at", "review_completed_at", "review_seconds", "escalated",
              "canary", "audit_sample", "audit_probability")
#: characters that change an id without showing: zero-width (U+200B..U+200D, U+2060, U+FEFF),
#: bidi marks, embeddings, overrides and isolates (U+200E/F, U+202A..U+202E, U+2066..U+2069),
#: invisible operators (U+2061..U+2064), soft hyphen (U+00AD), Mongolian vowel separator (U+180E)
INVISIBLE_RE = "[\\x{200B}-\\x{200F}\\x{202A}-\\x{202E}\\x{2060}-\\x{2064}\\x{2066}-\\x{2069}\\x{FEFF}\\x{00AD}\\x{180E}]"


def q(name: str) -> str:
    """Quote an identifier (column names come from files; values always go in as parameters)."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A SQL string literal (for view definitions, which cannot take parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


class FieldSQL:
    """The SQL expressions that type each canonical field from the source's columns.

    ``types`` maps every source column to its DuckDB type (all VARCHAR for ingestion's staged
    text); ``value`` turns a Python value from the mapping into SQL (a parameter or a literal).
    """

    def __init__(self, types: dict[str, str], mapping: Mapping, value: Callable[[str], str] = lit):
        self.types = {c: t.upper() for c, t in types.items()}
        self.mapping = mapping
        self.value = value
        source_of = {f: mapping.columns.get(f, f) for f in CANONICAL_FIELDS}
        self.source_of = {f: s for f, s in source_of.items() if s in types}

    def type_of(self, field: str) -> str | None:
        col = self.source_of.get(field)
        return self.types[col] if col else None

    def text(self, field: str) -> str:
        col = self.source_of.get(field)
        if col is None:
            return "NULL::VARCHAR"
        if self.types[col] == "VARCHAR":
            return f"NULLIF(trim({q(col)}), '')"
        return f"NULLIF(trim(CAST({q(col)} AS VARCHAR)), '')"

    def identity(self, field: str) -> str:
        """An id compared by what a person sees: NFC, invisible characters removed, trimmed."""
        col = self.source_of.get(field)
        if col is None:
            return "NULL::VARCHAR"
        x = q(col) if self.types[col] == "VARCHAR" else f"CAST({q(col)} AS VARCHAR)"
        return f"NULLIF(trim(regexp_replace(nfc_normalize({x}), {self.value(INVISIBLE_RE)}, '', 'g')), '')"

    def label(self, field: str) -> str:
        expr = self.text(field)
        table = self.mapping.labels.get(field)
        if not table:
            return expr
        whens = " ".join(f"WHEN {expr} = {self.value(src)} THEN {self.value(dst)}" for src, dst in table.items())
        return f"(CASE {whens} ELSE {expr} END)"

    def timestamp(self, field: str) -> str:
        typ = self.type_of(field)
        if typ in TIMESTAMP_TYPES or typ == "DATE":
            return f"CAST({q(self.source_of[field])} AS TIMESTAMP)"
        if typ in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
            return f"timezone('UTC', {q(self.source_of[field])})"
        x = self.text(field)
        parsed = f"TRY_CAST(TRY_CAST({x} AS TIMESTAMPTZ) AS TIMESTAMP)"
        if self.mapping.timestamp_format:
            fmt = self.value(self.mapping.timestamp_format)
            parsed = f"coalesce(TRY_CAST(TRY_CAST(try_strptime({x}, {fmt}) AS TIMESTAMPTZ) AS TIMESTAMP), {parsed})"
        # Epoch seconds are numbers; anything else must be a date/time string.
        return (f"(CASE WHEN TRY_CAST({x} AS DOUBLE) IS NOT NULL "
                f"THEN TRY(to_timestamp(TRY_CAST({x} AS DOUBLE))::TIMESTAMP) ELSE {parsed} END)")

    def number(self, field: str) -> str:
        typ = self.type_of(field)
        if typ is not None and (typ in NUMERIC_TYPES or typ.startswith("DECIMAL")):
            return f"CAST({q(self.source_of[field])} AS DOUBLE)"
        return f"TRY_CAST({self.text(field)} AS DOUBLE)"

    def boolean(self, field: str) -> str:
        if self.type_of(field) == "BOOLEAN":
            return q(self.source_of[field])
        x = f"lower({self.text(field)})"
        t = ", ".join(self.value(v) for v in TRUE_WORDS)
        f = ", ".join(self.value(v) for v in FALSE_WORDS)
        return f"(CASE WHEN {x} IN ({t}) THEN true WHEN {x} IN ({f}) THEN false END)"

    def typed(self, field: str) -> str:
        """The typed expression of one canonical field, by its type in :mod:`hitlgov.schema`."""
        spec = BY_NAME[field]
        if field == "system":
            return f"coalesce({self.text('system')}, {self.value(self.mapping.system or DEFAULT_SYSTEM)})"
        if spec.label:
            return self.label(field)
        if field == "reviewer_id":
            return self.identity(field)
        return {"timestamp": self.timestamp, "float64": self.number, "boolean": self.boolean}.get(
            spec.type, self.text)(field)

    def columns(self) -> dict[str, str]:
        """Every canonical field's typed expression; ``review_seconds`` as given (``review_seconds_given``:
        the staging step derives it from the two timestamps when absent)."""
        out = {}
        for field in CANONICAL_FIELDS:
            out["review_seconds_given" if field == "review_seconds" else field] = self.typed(field)
        return out

    def raw(self) -> dict[str, str]:
        return {f: self.text(f) for f in RAW_FIELDS}
