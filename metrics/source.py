"""Where metrics read data: Ibis expressions over the canonical tables, and the one filter.

Every metric aggregation is an Ibis expression built on :meth:`Source.cases` and
:meth:`Source.reviews`, so the same code runs on the embedded DuckDB store and on any engine
Ibis reaches (Spark, Trino, BigQuery, Snowflake) that holds tables in the canonical schema.
Only aggregates (and bounded, seeded samples) come back to Python; the pandas / Fairlearn /
Evidently work runs on those results.

The canonical relations an engine must provide:

* ``cases``   (system, case_id, ts, model_version, model_decision, model_score,
               final_decision, outcome)                       -- one row per case
* ``reviews`` (system, case_id, reviewer_id, human_decision, review_started_at,
               review_completed_at, review_seconds, escalated, rationale) -- one row per review
* ``case_attributes`` (system, case_id, name, value)          -- long form
* ``systems`` (system, positive_label, label_order), ``attribute_roles`` (system, name, role)

and, optionally, ``case_key`` (BIGINT) on ``cases``, ``reviews`` and ``case_attributes``: the
integer surrogate key the store assigns (:mod:`hitlgov.case_keys`). Where all three carry it the
relations join on it (:attr:`Source.key`); a lake without it is joined on ``(system, case_id)``.
The store also serves the attributes wide (``case_attributes_wide``, one column per attribute,
keyed by ``case_key``), read by :meth:`Source.attributes`; elsewhere the same wide relation is
one pivot of the long table.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator

import ibis
import ibis.expr.types as ir

from hitlgov import store as hstore
from hitlgov.limits import MAX_REVIEW_SECONDS


#: the window of timestamps every read path can show: ingestion's earliest plausible time, and
#: the last year pandas (nanosecond timestamps, which end in April 2262) can hold
READABLE_FROM = "1970-01-01 00:00:00"
READABLE_UNTIL = "2262-01-01 00:00:00"


@dataclass(frozen=True)
class Filter:
    """The selection every metric is computed over.

    ``start``/``end`` are inclusive calendar dates on the model's decision time ``ts``;
    ``segment`` is ``(attribute, value)``, e.g. ``("age_band", "18-24")``.
    """

    start: dt.date | None = None
    end: dt.date | None = None
    system: str | None = None
    model_version: str | None = None
    segment: tuple[str, str] | None = None

    def but(self, **changes) -> "Filter":
        return replace(self, **changes)

    def previous_period(self) -> "Filter | None":
        """The period just before this one (for KPI deltas): the previous calendar month, quarter or
        year for a period of whole months, else the same number of days (:func:`hitlgov.metrics.periods.previous_period`)."""
        if self.start is None or self.end is None:
            return None
        from hitlgov.metrics.periods import previous_period

        start, end = previous_period(self.start, self.end)
        return self.but(start=start, end=end)

    def describe(self) -> dict:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "system": self.system,
            "model_version": self.model_version,
            "segment": {"attribute": self.segment[0], "value": self.segment[1]} if self.segment else None,
        }


@dataclass(frozen=True)
class SystemConfig:
    positive_label: str | None
    label_order: list[str] | None
    sensitive: list[str]
    features: list[str]
    #: the outcome that benefits the person decided about (four-fifths rule, impact ratios); the
    #: positive label unless the mapping declared another (COMPAS: positive ``high``, favourable ``low``)
    favourable_label: str | None = None


class Source:
    """A read-only view of the canonical tables on an Ibis backend."""

    def __init__(self, backend: ibis.BaseBackend, *, raw=None):
        self.backend = backend
        self.raw = raw  # the DuckDB connection when the backend is the embedded store
        # Per-filter relations asked for more than once (compute_metrics and a report ask for
        # cases(flt) a dozen times) are materialised on the engine on their second use, so the
        # review summary join runs once; a single-metric caller pays nothing extra.
        self._uses: dict[tuple, int] = {}
        self._materialised: dict[tuple, ir.Table] = {}
        # (key, kind, data version, value) results to write to the store's result cache on close
        # (hitlgov.result_cache); only a store source (Source.open) writes them.
        self.pending_cache: list[tuple[str, str, str, object]] = []
        self._key: tuple[str, ...] | None = None
        # results two families both need (the multi-reviewed ratings, the reviewers' accuracy),
        # computed once per source: see :meth:`remember`
        self._remembered: dict[tuple, object] = {}

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Drop the engine-side tables materialised for this source (before its connection closes)."""
        for table in self._materialised.values():
            try:
                table.release()
            except Exception:  # noqa: BLE001 - best effort: the connection may already be gone
                pass
        self._materialised.clear()

    def expect_reuse(self, flt: "Filter") -> None:
        """Declare that :meth:`cases` and :meth:`reviews` of ``flt`` will be read many times (a
        full ``metrics`` run, a report): they are then materialised on their *first* use, so the
        join of cases and review summary runs once instead of twice (on 100M rows each run of
        it costs tens of seconds)."""
        for kind in ("cases", "reviews"):
            key = (kind, flt)
            self._uses[key] = max(self._uses.get(key, 0), 1)

    def remember(self, key: tuple, compute):
        """``compute()``, once per source and ``key``; later calls get a deep copy of that result.

        Several families derive their figures from the same small result (agreement and
        Dawid-Skene read the same multi-reviewed ratings, ``reviewer_quality`` the reviewers'
        accuracy ``metrics`` also reports): each was one more query over every case or review of
        the filter. A source reads one unchanging store, so the result cannot go stale while it
        is open; the copy keeps a caller that changes its result from changing another's."""
        import copy

        if key not in self._remembered:
            self._remembered[key] = compute()
        return copy.deepcopy(self._remembered[key])

    def _reused(self, key: tuple, build) -> ir.Table:
        if key in self._materialised:
            return self._materialised[key]
        self._uses[key] = self._uses.get(key, 0) + 1
        if self._uses[key] < 2:
            return build()
        self._materialised[key] = build().cache()
        return self._materialised[key]

    # -- construction -------------------------------------------------------------------
    @classmethod
    @contextmanager
    def open(cls, db=None) -> Iterator["Source"]:
        """Open the DuckDB store read-only for the duration of a ``with`` block."""
        with hstore.connect(db, read_only=True) as con, cls(ibis.duckdb.from_connection(con), raw=con) as source:
            yield source
            pending = source.pending_cache
        if pending:  # results computed on this read-only connection, written once it is closed
            from hitlgov import result_cache

            result_cache.save(db, pending)

    #: whether :meth:`table` applies the readable window to the stored tables (the store: yes;
    #: :class:`~hitlgov.metrics.engines.EngineSource` reads another engine's relations as they are)
    read_window = True

    def table(self, name: str) -> ir.Table:
        """A canonical relation as the metrics may read it.

        Ingestion quarantines implausible timestamps (:mod:`hitlgov.limits`), but a store written
        by an older version may hold year 10000 or a BC date, which no dashboard, pandas or
        report can show (and 0001-01-01 would pass a retention check by 24,000 months). So every
        read goes through the readable window: cases whose ``ts`` lies outside it are left out
        and review times
        outside it, or review seconds above one year, read as missing.
        """
        t = self.backend.table(name)
        lo, hi = ibis.timestamp(READABLE_FROM), ibis.timestamp(READABLE_UNTIL)
        if name == "cases":
            return t.filter(t.ts >= lo, t.ts < hi)
        if name == "reviews":
            def inside(col):
                return ibis.ifelse((col >= lo) & (col < hi), col, ibis.null().cast(col.type()))
            return t.mutate(review_started_at=inside(t.review_started_at),
                            review_completed_at=inside(t.review_completed_at),
                            review_seconds=ibis.ifelse(t.review_seconds <= MAX_REVIEW_SECONDS, t.review_seconds,
                                                       ibis.null().cast("float64")))
        return t

    # -- keys and attributes -------------------------------------------------------------
    @property
    def key(self) -> tuple[str, ...]:
        """The columns a case is joined on: ``("case_key",)`` where cases, reviews and attributes
        all carry the integer key, else ``("system", "case_id")``."""
        if self._key is None:
            have = all("case_key" in self.table(t).columns for t in ("cases", "reviews", "case_attributes"))
            self._key = ("case_key",) if have else ("system", "case_id")
        return self._key

    def _wide_catalogue(self) -> dict[str, str] | None:
        """``{attribute: column}`` of the store's wide table, or None where there is none."""
        if self.raw is None:
            return None
        try:
            rows = self.raw.execute("SELECT name, col FROM attribute_columns").fetchall()
        except Exception:  # noqa: BLE001 - a store before migration 9
            return None
        return dict(rows)

    def attributes(self, names: tuple[str, ...] | list[str]) -> tuple[ir.Table, dict[str, str]]:
        """``(table, columns)``: one row per case with any of the attributes ``names``, keyed by
        :attr:`key`, one column per attribute (``columns`` maps each name to its column; a name
        is data and never a column name). Joined once, however many attributes a metric needs.

        On the store this is its wide table (a name it does not hold reads as all missing); on
        another engine, one pivot of the long ``case_attributes``."""
        names = list(dict.fromkeys(names))
        out = {n: f"attr_{i}" for i, n in enumerate(names)}
        cat = self._wide_catalogue() if self.key == ("case_key",) else None
        if cat is not None:
            w = self.backend.table("case_attributes_wide")
            cols = {out[n]: (w[cat[n]] if n in cat else ibis.null("string")) for n in names}
            return w.select("case_key", **cols), out
        a = self.table("case_attributes")
        a = a.filter(a.name.isin(names))
        return a.group_by(list(self.key)).aggregate(
            **{out[n]: a.value.max(where=a.name == n) for n in names}), out

    # -- the canonical relations, filtered ----------------------------------------------
    def _case_filter(self, t: ir.Table, flt: Filter) -> ir.Table:
        preds = []
        if flt.start is not None:
            preds.append(t.ts >= ibis.timestamp(dt.datetime.combine(flt.start, dt.time())))
        if flt.end is not None:
            preds.append(t.ts < ibis.timestamp(dt.datetime.combine(flt.end + dt.timedelta(days=1), dt.time())))
        if flt.system is not None:
            preds.append(t.system == flt.system)
        if flt.model_version is not None:
            preds.append(t.model_version == flt.model_version)
        if preds:
            t = t.filter(*preds)
        if flt.segment is not None:
            name, value = flt.segment
            w, col = self.attributes([name])
            t = t.semi_join(w.filter(w[col[name]] == value).select(*self.key), list(self.key))
        return t

    def review_stats(self, within: ir.Table | None = None) -> ir.Table:
        """Per reviewed case: number of reviews, any escalation, the last review's decision.

        "Last" is by completion time (then start time, then reviewer id, for a stable tie-break;
        a review without either time counts as the earliest). It is computed as the ``max`` of
        one sortable string per review, ``<microseconds since 1970, 18 digits>|<reviewer id>
        U+001F<decision>``, and the decision is read back after the last U+001F. (The
        microseconds are a timestamp difference, which every engine computes; Spark cannot
        extract the microsecond field of a timestamp.)
        Ibis compiles ``argmax`` to an ordered aggregate that costs DuckDB twice as much on 10M
        reviews, and a fixed-width time key also orders sub-second timestamps correctly, which
        the text form of a timestamp does not (``10:00:00|`` sorts after ``10:00:00.5|``).
        """
        r = self.table("reviews")
        key = list(self.key)
        if within is not None:  # only the reviews of these cases (a sample): far less to aggregate
            r = r.semi_join(within.select(*key), key)
        at = r.review_completed_at.coalesce(r.review_started_at)
        micros = at.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="microsecond")
        time_key = micros.cast("string").lpad(18, "0").fill_null("0" * 18)
        last = (time_key + "|" + r.reviewer_id + "\x1f" + r.human_decision).max()
        return r.group_by(key).aggregate(
            n_reviews=r.count(),
            escalated_any=r.escalated.cast("int8").max(),
            last_human_decision=last.re_extract("\x1f([^\x1f]*)$", 1),
        )

    def decisions(self, flt: Filter = Filter()) -> ir.Table:
        """The model's decisions in the filter: the ``cases`` table alone, without the review
        summary -- for figures that need no review field (coverage of the log, days with data)."""
        return self._case_filter(self.table("cases"), flt)

    def cases(self, flt: Filter = Filter()) -> ir.Table:
        """One row per case in the filter, with its review summary and effective final decision.

        ``final`` follows SCHEMA §1: the stated final decision, else the last review's human
        decision, else the model's. ``overridden`` is defined for reviewed cases only.
        """
        return self._reused(("cases", flt), lambda: self._cases(flt))

    def sample_cases(self, flt: Filter, *, max_rows: int, seed: int = 0) -> tuple[ir.Table, int]:
        """``(cases, total)``: at most ``max_rows`` of the filter's cases, as :meth:`cases` gives
        them, and how many there are in all.

        The sample is the first ``max_rows`` cases in the order of a seeded MD5 of the case key
        (MD5 is the same function on every engine, unlike each engine's own hash(), so DuckDB
        and Spark draw the same cases). It is drawn from the decisions alone, and the review
        summary is computed for the sampled cases only.
        """
        d = self.decisions(flt)
        total = int(d.count().to_pandas())
        if total <= max_rows:
            return self.cases(flt), total
        key = ("sample", flt, max_rows, seed)
        if key not in self._materialised:
            # materialised (at most max_rows rows): callers read it several times, and each read
            # would otherwise redo the MD5 ordering of the window and the review summary
            order = (d.system + "|" + d.case_id + "|" + str(seed)).hexdigest("md5")
            sample = d.order_by([order, "system", "case_id"]).limit(max_rows).cache()
            self._materialised[("sample-keys",) + key[1:]] = sample
            self._materialised[key] = self._with_review_summary(sample, self.review_stats(within=sample)).cache()
        return self._materialised[key], total

    def _cases(self, flt: Filter) -> ir.Table:
        return self._with_review_summary(self._case_filter(self.table("cases"), flt), self.review_stats())

    def _with_review_summary(self, c: ir.Table, s: ir.Table) -> ir.Table:
        j = c.left_join(s, list(self.key)).select(
            c, s.n_reviews, s.escalated_any, s.last_human_decision
        )
        n = j.n_reviews.fill_null(0)
        reviewed = n > 0
        final = j.final_decision.coalesce(j.last_human_decision, j.model_decision)
        return j.mutate(
            n_reviews=n,
            reviewed=reviewed,
            final=final,
            overridden=ibis.ifelse(reviewed, final != j.model_decision, ibis.null("boolean")),
            escalated=ibis.ifelse(reviewed, j.escalated_any == 1, ibis.null("boolean")),
        ).drop("escalated_any", "last_human_decision")

    def reviews(self, flt: Filter = Filter()) -> ir.Table:
        """One row per review of a case in the filter, with the case's model fields."""
        return self._reused(("reviews", flt), lambda: self._reviews(flt))

    def _reviews(self, flt: Filter) -> ir.Table:
        key = list(self.key)
        extra = [k for k in key if k not in ("system", "case_id")]
        c = self._case_filter(self.table("cases"), flt).select(
            "system", "case_id", *extra, "ts", "model_version", "model_decision", "model_score", "outcome", "canary"
        )
        r = self.table("reviews")
        j = r.inner_join(c, key)
        if extra:  # joined on the integer key: the case's own system and case_id, once
            j = j.drop(*[f"{col}_right" for col in ("system", "case_id") if f"{col}_right" in j.columns])
        return j.mutate(overrode=j.human_decision != j.model_decision)

    def attribute(self, name: str) -> ir.Table:
        """``(key..., value)`` of one attribute, for the cases that have it."""
        w, col = self.attributes([name])
        w = w.filter(w[col[name]].notnull())
        return w.select(*self.key, value=w[col[name]])

    # -- configuration ------------------------------------------------------------------
    def systems(self) -> list[str]:
        t = self.table("cases")
        return sorted(t.select("system").distinct().to_pandas()["system"].tolist())

    def model_versions(self, flt: Filter = Filter()) -> list[str]:
        t = self._case_filter(self.table("cases"), flt.but(model_version=None))
        values = t.select("model_version").distinct().to_pandas()["model_version"].dropna().tolist()
        return sorted(values)

    def config(self, system: str | None) -> SystemConfig:
        """Positive label, label order and attribute roles; merged over systems when ``None``.

        Read once per source and system (:meth:`remember`): a ``metrics`` run asks a dozen times."""
        return self.remember(("config", system), lambda: self._config(system))

    def _config(self, system: str | None) -> SystemConfig:
        s = self.table("systems")
        roles = self.table("attribute_roles")
        if system is not None:
            s = s.filter(s.system == system)
            roles = roles.filter(roles.system == system)
        sdf = s.to_pandas()
        rdf = roles.to_pandas()
        labels = sorted(set(sdf["positive_label"].dropna()))
        orders = [list(o) for o in sdf["label_order"].dropna()]
        # NULL favourable label = the positive label is the favourable one (stores before migration 8)
        declared = sdf["favourable_label"] if "favourable_label" in sdf.columns else sdf["positive_label"].where(False)
        favourable = sorted(set(declared.where(declared.notna(), sdf["positive_label"]).dropna()))
        return SystemConfig(
            positive_label=labels[0] if len(labels) == 1 else None,
            favourable_label=favourable[0] if len(favourable) == 1 else None,
            label_order=orders[0] if orders and all(o == orders[0] for o in orders) else None,
            sensitive=sorted(set(rdf.loc[rdf.role == "sensitive", "name"])),
            features=sorted(set(rdf.loc[rdf.role == "feature", "name"])),
        )

    def segments(self, flt: Filter = Filter()) -> dict[str, list[str]]:
        """Values of each sensitive attribute (for the segment filter)."""
        cfg = self.config(flt.system)
        if not cfg.sensitive:
            return {}
        a = self.table("case_attributes")
        a = a.filter(a.name.isin(cfg.sensitive))
        if flt.system is not None:
            a = a.filter(a.system == flt.system)
        df = a.select("name", "value").distinct().to_pandas()
        return {n: sorted(g["value"].tolist()) for n, g in df.groupby("name")}
