"""CSV exports stay inert however a spreadsheet splits them (issue 14: ``;=HYPERLINK(``)."""
from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from hitlgov.dashboard import csv_safe

HOSTILE = ["note;=HYPERLINK(\"http://x\",\"y\")", "a,=1+1", "tab\t@SUM(A1)", "pipe|-2+3", "line\n=cmd|' /C calc'!A0",
           "=HYPERLINK(\"x\")", "plain; text", "2026-01-01"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_no_cell_starts_a_formula_whatever_the_reader_splits_on(delimiter):
    text = csv_safe.to_csv(pd.DataFrame({"rationale": HOSTILE, "n": range(len(HOSTILE))})).decode("utf-8-sig")
    # the worst reader: ignores quoting, splits on any of the separators, one line per record
    cells = [c.strip('"') for line in text.splitlines()
             for row in csv.reader([line], delimiter=delimiter, quoting=csv.QUOTE_NONE) for c in row]
    assert cells and not [c for c in cells if c.startswith(csv_safe.TRIGGERS)]


def test_a_quoting_reader_gets_the_text_back_with_only_quotes_added():
    text = csv_safe.to_csv(pd.DataFrame({"rationale": HOSTILE})).decode("utf-8-sig")
    back = [row[0] for row in csv.reader(io.StringIO(text))][1:]
    assert back == ["note;'=HYPERLINK(\"http://x\",\"y\")", "a,'=1+1", "tab\t'@SUM(A1)", "pipe|'-2+3",
                    "line\n'=cmd|' /C calc'!A0", "'=HYPERLINK(\"x\")", "plain; text", "2026-01-01"]
