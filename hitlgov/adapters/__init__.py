"""Adapters: ingestion readers for the export formats of HITL tools.

Each module reads one tool's export and returns canonical decision-log rows (SCHEMA §1: one row
per human review; a case nobody reviewed is one row with the review fields empty). Each is a
pluggy plugin (a ``hitlgov_readers`` hook) registered under the ``hitlgov`` entry-point group,
so ``--format auto`` recognises the export and ``--format <name>`` forces it:

* :mod:`hitlgov.adapters.labelstudio` -- Label Studio JSON export (``labelstudio``);
* :mod:`hitlgov.adapters.argilla` -- Argilla 2.x records (nested or flattened / Hugging Face
  style) and Argilla 1.x FeedbackDataset records, as a JSON list or JSON Lines (``argilla``);
* :mod:`hitlgov.adapters.a2i` -- Amazon SageMaker Augmented AI human-loop ``output.json``
  files, one file or a folder of them, and SageMaker human evaluation job outputs (``a2i``);
* :mod:`hitlgov.adapters.langfuse` -- Langfuse scores: LLM-as-a-judge (EVAL) scores as the
  model decision, human ANNOTATION scores as reviews (``langfuse``).

They are *annotation sources* (``Reader.annotation_source``): a case with no model prediction
is stored without a model decision rather than quarantined (``hitlgov.schema.required_fields``).

``README.md`` beside this file says how to export from each tool and how fields map.

The helpers below are shared by the adapters. Why they look the way they do:

* Every value goes out as **text** (or None), like the built-in readers: validation parses
  timestamps and numbers and quarantines a bad value with its row and field, instead of an
  adapter failing the whole file (and a pandas column of mixed types failing DuckDB).
* ``_row`` is the 1-based number of the *output* row: the pipeline uses it as the row's key, so
  it must be unique, and a task with three reviews yields three rows. ``_record`` is the 1-based
  position of the task / record / file in the export; it is kept in a quarantined row's raw
  text so the user can find the record.
"""
from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from hitlgov.errors import IngestError
from hitlgov.schema import CANONICAL_FIELDS as CANONICAL
from hitlgov.schema import REVIEW_COLUMNS as REVIEW_FIELDS

# A case attribute with one of these names would be read as a review of an unreviewed row:
# it is kept under a prefixed name instead. Other canonical names (ts, system, outcome...) fill
# that field of the case when the tool itself gave no value for it.
GZIP_MAGIC = b"\x1f\x8b"


def head_text(head: bytes) -> str:
    """The sample as text, without a BOM or leading blanks (for cheap shape checks)."""
    return head.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")


def read_text(path: Path, what: str) -> str:
    """The whole file as text (gzip-compressed too: auto-detection looks inside .gz files).

    ``what`` names the expected content for messages, e.g. "a Label Studio export".
    """
    try:
        raw = path.read_bytes()
        if raw.startswith(GZIP_MAGIC):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError) as exc:
        raise IngestError(f"{path}: cannot be read as {what} ({exc})") from None
    except UnicodeDecodeError:
        raise IngestError(f"{path}: not {what}: the file is not UTF-8 text") from None


def json_error(exc: json.JSONDecodeError, content: str) -> str:
    """Where the JSON broke, and when it broke at the end of the text that the file may be
    truncated (the usual cause: an export cut short)."""
    truncated = "; the file may be truncated" if exc.pos >= len(content.rstrip()) else ""
    return f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}){truncated}"


def load_json(path: Path, what: str) -> Any:
    content = read_text(path, what)
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{path}: not {what}: {json_error(exc, content)}") from None


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), "null")


def text(value: Any) -> str | None:
    """A scalar as the text a JSON Lines reader would give; None for missing or non-scalars."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return str(value)


def label(value: Any) -> str | None:
    """A decision as one label: a one-element list is its element; a multi-label answer is its
    labels sorted and joined with ``|`` (so the same set always compares equal)."""
    if isinstance(value, list):
        labels = sorted({t for t in (text(v) for v in value) if t is not None})
        return "|".join(labels) if labels else None
    return text(value)


def scalar_attributes(values: Any) -> dict[str, str]:
    """The scalar entries of a mapping as text; nested lists/objects are not case attributes."""
    if not isinstance(values, dict):
        return {}
    return {str(k): t for k, v in values.items() if (t := text(v)) is not None}


def row(attributes: dict[str, str], canonical: dict[str, Any], *, prefix: str) -> dict[str, Any]:
    """One output row: the case attributes, then the canonical fields the adapter found.

    A tool value wins over an attribute of the same name; an attribute named like a case field
    (``ts``, ``system``, ``outcome``...) fills it when the tool has none (e.g. a ``ts`` in
    Argilla metadata); one named like a review field is renamed ``<prefix>.<name>``.
    """
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        out[f"{prefix}.{name}" if name in REVIEW_FIELDS else name] = value
    for name, value in canonical.items():
        value = text(value)
        if value is not None or name not in out:
            out[name] = value
    return out


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> DataFrame: canonical columns first, then attributes, ``_record`` and ``_row``."""
    rows = list(rows)
    names: dict[str, None] = {c: None for c in CANONICAL}
    for r in rows:
        names.update((k, None) for k in r if k not in ("_record", "_row"))
    columns = [*names, "_record"]
    df = pd.DataFrame([[r.get(c) for c in columns] for r in rows], columns=columns, dtype=object)
    df["_record"] = df["_record"].astype("int64")
    df["_row"] = pd.Series(range(1, len(rows) + 1), dtype="int64")
    return df
