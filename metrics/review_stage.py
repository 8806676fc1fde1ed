"""Review-stage oversight: a second person accepting or rejecting a reviewer's work.

Label Studio Enterprise puts every annotation through a review stage (``reviews[]`` in its
export): a reviewer accepts or rejects it. Those verdicts are stored as ``review_events``
(one row per verdict on a stored review). Definitions, over the reviews of cases in the filter:

* **rejection rate** -- verdicts that rejected / verdicts that accepted or rejected (a verdict
  with neither is not counted). A high rate says first-line reviews are often not good enough to
  stand; zero verdicts means the deployment has no review stage (the rate is None).
* per annotator (the ``reviewer_id`` whose review was judged): the same rate over their reviews.

The aggregation is one Ibis expression over ``review_events`` joined to the filtered cases, so
it runs on every engine: ``hitlgov export-parquet`` writes the relation with the other canonical
tables and an engine reads it (``hitlgov.schema.TABLES``). A source without it (an in-place
dataset, a lake exported before the relation existed, a views file or catalog that maps none)
knows of no verdict and answers as a store with none does (0 verdicts, rate None).
"""
from __future__ import annotations

from hitlgov.metrics._values import plain, ratio, records
from hitlgov.metrics.source import Filter, Source

TABLE = "review_events"


def _events(source: Source):
    """The review-stage relation, or None where the source has none (asking is the portable test:
    Ibis's ``list_tables`` is not available on every backend/driver pairing)."""
    try:
        return source.table(TABLE)
    except Exception:
        return None


def rejection_rate(source: Source, flt: Filter = Filter()) -> dict:
    """``{"verdicts", "accepted", "rejected", "rejection_rate", "by_annotator"}`` (rate None
    without verdicts)."""
    e = _events(source)
    if e is None:
        return {"verdicts": 0, "accepted": 0, "rejected": 0, "rejection_rate": None, "by_annotator": []}
    key = list(source.key) if "case_key" in e.columns else ["system", "case_id"]
    e = e.semi_join(source.cases(flt).select(*key), key)
    judged = e.filter(e.accepted.notnull())
    df = judged.group_by("reviewer_id").aggregate(
        verdicts=judged.count(),
        rejected=(~judged.accepted).cast("int64").sum(),
    ).to_pandas()
    verdicts = int(df.verdicts.sum()) if not df.empty else 0
    rejected = int(df.rejected.sum()) if not df.empty else 0
    by = []
    if not df.empty:
        df["rejection_rate"] = [ratio(r, n) for r, n in zip(df.rejected, df.verdicts)]
        by = records(df.sort_values("reviewer_id")[["reviewer_id", "verdicts", "rejected", "rejection_rate"]])
    return plain({"verdicts": verdicts, "accepted": verdicts - rejected, "rejected": rejected,
                  "rejection_rate": ratio(rejected, verdicts), "by_annotator": by})
