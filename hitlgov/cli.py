"""The ``hitlgov`` command line.

Errors the user can act on (bad file, locked store, bad mapping) are printed as one line on
stderr with a non-zero exit status; results go to stdout (``--json`` prints only JSON there).
"""
from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from hitlgov import __version__
from hitlgov.errors import HitlgovError

app = typer.Typer(
    help="Governance and compliance for human-in-the-loop AI: ingest decision logs, measure oversight, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


# Boolean options are flags: an empty metavar keeps Typer's rich help from showing a "<bool>" value.
FLAG = ""
DbOption = typer.Option(None, "--db", envvar="HITLGOV_DB", help="DuckDB store [default: ./hitlgov.duckdb]")
EngineOption = typer.Option(
    None, "--engine", envvar="HITLGOV_ENGINE",
    help="Run on another engine instead of the store: an Ibis URL, e.g. 'pyspark://local[2]?parquet=DIR', "
         "'duckdb://?parquet=DIR', 'trino://user@host:8080/catalog/schema' (see docs/scaling.md)")
StoreOnlyEngine = typer.Option(None, "--engine", hidden=True)
ActorOption = typer.Option(None, "--actor", envvar="HITLGOV_ACTOR",
                           help="Who is acting, for the audit trail [default: the OS user]")


def _actor(name: Optional[str]) -> str:
    """The audit trail's actor for this command: ``--actor`` / $HITLGOV_ACTOR, else the OS user
    (one set of rules, :mod:`hitlgov.actor`: 1-200 characters, no control characters)."""
    from hitlgov import actor

    try:
        return actor.check(name) if name is not None else actor.os_user()
    except HitlgovError as exc:
        fail(str(exc))


def _authorised(db, name: Optional[str], action: str) -> str:
    """The actor of an oversight action: with local accounts in the store, ``--actor`` must name
    an enabled account whose role may do it (:func:`hitlgov.accounts.authorise`); without
    accounts, :func:`_actor` (single-user mode)."""
    from hitlgov import accounts

    return accounts.authorise(db, name, action) or _actor(name)


def _acting(name: Optional[str]):
    """Every audit event appended inside the block names :func:`_actor` (see hitlgov.actor)."""
    from hitlgov import actor

    return actor.acting_as(_actor(name))


def _print_version(value: bool) -> None:
    if value:
        out.print(f"hitlgov {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", metavar=FLAG, callback=_print_version, is_eager=True,
                                       help="Print the version and exit")) -> None:
    """Governance and compliance for human-in-the-loop AI: ingest decision logs, measure oversight, report."""


def store_only(command: str, engine: Optional[str]) -> None:
    """``status`` and ``verify`` read the store's own bookkeeping: refuse an engine plainly."""
    if engine:
        fail(f"{command} reads the DuckDB store's ingestion runs, quarantine and audit trail, which exist only "
             f"in the store; it does not run on --engine (use `hitlgov metrics --engine ...` for the metrics)")


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def friendly(fn):
    """Turn the errors users can act on into one-line messages."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except HitlgovError as exc:
            fail(str(exc))
    return wrapper


def _split(values: Optional[List[str]]) -> Optional[list[str]]:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@app.command()
@friendly
def ingest(
    paths: List[Path] = typer.Argument(..., help="Log files (CSV, JSONL, Parquet, .gz) or tool exports"),
    mapping: Optional[Path] = typer.Option(None, "--mapping", "-m", help="YAML column mapping file"),
    fmt: str = typer.Option("auto", "--format", "-f", help="auto, csv, jsonl, parquet, or an adapter (labelstudio, argilla, a2i, langfuse)"),
    sensitive: Optional[List[str]] = typer.Option(None, "--sensitive", help="Sensitive attribute columns (comma-separated)"),
    features: Optional[List[str]] = typer.Option(None, "--features", help="Feature columns for drift (comma-separated)"),
    positive_label: Optional[str] = typer.Option(None, "--positive-label", help="The positive label: what selection "
                                                 "rate and FPR/FNR count (e.g. approve; COMPAS: high)"),
    favourable_label: Optional[str] = typer.Option(None, "--favourable-label", help="The outcome that benefits the person "
                                                   "decided about, for the four-fifths rule [default: the positive label]"),
    system: Optional[str] = typer.Option(None, "--system", help="System for rows that name none [default: 'default']"),
    as_json: bool = typer.Option(False, "--json", metavar=FLAG, help="One JSON object per file on stdout, nothing else"),
    in_place: bool = typer.Option(False, "--in-place", metavar=FLAG, help="Serve Parquet files where they lie (PATH may be a glob "
                                  "such as 'logs/month=*/*.parquet'): validated, indexed, not copied"),
    question: Optional[str] = typer.Option(None, "--question", help="Tool exports: the question (Argilla) or control "
                                           "(Label Studio from_name) or score name (Langfuse) that is the decision"),
    default_ts: Optional[str] = typer.Option(None, "--default-ts", help="The decision time (ISO 8601 date) for rows "
                                             "of an export that records none"),
    adapter_option: Optional[List[str]] = typer.Option(None, "--adapter-option", help="KEY=VALUE option for the "
                                                       "tool adapter (repeatable), e.g. model_decision=inputContent.prediction"),
    db: Optional[Path] = DbOption,
    actor: Optional[str] = ActorOption,
):
    """Ingest decision logs: every row is stored, skipped as a duplicate, or quarantined."""
    with _acting(actor):
        _ingest(paths, mapping, fmt, sensitive, features, positive_label, system, as_json, in_place, question,
                default_ts, adapter_option, db, favourable_label)


def _ingest(paths, mapping, fmt, sensitive, features, positive_label, system, as_json, in_place, question,
            default_ts, adapter_option, db, favourable_label=None) -> None:
    from hitlgov.ingest import service
    from hitlgov.mapping import load_mapping, parse_options

    m = load_mapping(mapping).with_overrides(
        sensitive=_split(sensitive), features=_split(features), positive_label=positive_label,
        favourable_label=favourable_label, system=system)
    options = parse_options(adapter_option)
    if in_place:
        result = service.register_in_place(db, [str(p) for p in paths], mapping=m, fmt=fmt)
        if as_json:
            sys.stdout.write(json.dumps(result.as_json()) + "\n")
        else:
            out.print(f"{result.file}: {result.files:,} Parquet files, read {result.rows_read:,} rows -> served in place "
                      f"{result.stored:,}, duplicates {result.duplicates:,}, quarantined {result.quarantined:,} "
                      f"({result.seconds:.2f} s; nothing copied)", highlight=False)
        return
    failures = []

    def report(result) -> None:
        if as_json:
            sys.stdout.write(json.dumps(result.as_json()) + "\n")
        else:
            out.print(f"{result.file}: read {result.rows_read:,} rows -> stored {result.stored:,}, "
                      f"duplicates {result.duplicates:,}, quarantined {result.quarantined:,} "
                      f"({result.seconds:.2f} s, {result.format})", highlight=False)
        for notice in result.notices:  # stderr, so --json keeps stdout to JSON alone
            err.print(f"note: {result.file}: {notice}", highlight=False, markup=False, soft_wrap=True)

    def failed(path, exc) -> None:
        failures.append(path)
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)

    for path in paths:  # one call per file: a progress bar each, results printed as they come
        for result in _with_progress(lambda step, p=path: service.ingest_files(
                db, [p], mapping=m, fmt=fmt, progress=(lambda _p, stage: step(stage)) if step else None,
                on_error=failed, question=question, default_ts=default_ts, adapter_options=options), path):
            report(result)
    if failures:
        raise typer.Exit(1)


def _with_progress(run, path: Path):
    """A progress bar on stderr for files big enough to take more than about a second."""
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
        path.stat().st_size if path.exists() else 0)
    if size < 20_000_000 or not err.is_terminal and "PYTEST_CURRENT_TEST" in __import__("os").environ:
        return run(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    stages = ["hashing", "reading", "validating", "committing", "classifying", "storing"]
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task(f"{path.name}: starting", total=len(stages))

        def step(stage: str):
            progress.update(task, description=f"{path.name}: {stage}",
                            completed=stages.index(stage) if stage in stages else 0)
        result = run(step)
        progress.update(task, completed=len(stages))
    return result


@app.command()
@friendly
def status(as_json: bool = typer.Option(False, "--json", metavar=FLAG), db: Optional[Path] = DbOption,
           engine: Optional[str] = StoreOnlyEngine):
    """What the store holds: cases, reviews, systems, period, last runs, quarantine, retention."""
    store_only("status", engine)
    from hitlgov import result_cache, store

    # Served from the store's result cache when the data has not changed since the last status:
    # the hit path imports neither Ibis nor pandas (see hitlgov.result_cache).
    with store.connect(db, read_only=True) as con:
        where = str(Path(con.execute("PRAGMA database_list").fetchall()[0][2]))
        version = result_cache.data_version(con)
        key = result_cache.key("status", version)
        info = result_cache.lookup(con, key)
    if info is None:
        from hitlgov.metrics import inventory
        from hitlgov.metrics.source import Filter, Source

        with Source.open(db) as src:
            systems = inventory.systems_overview(src)
            for s in systems:  # retention is an obligation per system: one log's coverage says nothing of another's
                s["retention"] = inventory.retention(src, Filter(system=s["system"]))
            text = json.dumps({
                "counts": inventory.counts(src),
                "systems": systems,
                "retention": inventory.retention(src),
                "ingestion_runs": inventory.ingestion_runs(src, limit=5),
                "quarantine": inventory.quarantine_summary(src, top=5),
                "outside_read_window": inventory.outside_read_window(src),
            }, default=str)
            src.pending_cache.append((key, "status", version, text))
        info = json.loads(text)
    from hitlgov.ingest import running

    # live, never cached: the ingestions staging a file now, and the time of the data shown
    busy = running.in_progress(where)
    info = {"store": where, **info, "ingestion_in_progress": busy,
            "data_as_of": info["ingestion_runs"][0]["finished_at"] if info["ingestion_runs"] else None}
    if as_json:
        sys.stdout.write(json.dumps(info, default=str) + "\n")
        return
    # 80 columns: paths and messages are printed whole on their own lines (soft-wrapped by the
    # terminal, never cut with an ellipsis); the runs table holds only short columns.
    say = lambda text: out.print(text, highlight=False, soft_wrap=True, markup=False)  # noqa: E731
    c = info["counts"]
    say(f"store: {info['store']}")
    if busy:
        shown = str(info["data_as_of"])[:16].replace("T", " ") if info["data_as_of"] else "(no run committed yet)"
        say(f"{running.describe(busy)}; showing data as of {shown} UTC (the last committed run)")
    say(f"{c['cases']:,} cases, {c['reviews']:,} reviews ({c['reviewed_cases']:,} reviewed cases); "
        f"decisions {str(c['first_decision'])[:10]} .. {str(c['last_decision'])[:10]}")
    for s in info["systems"]:
        r = s["retention"]
        say(f"system {s['system']}: {s['cases']:,} cases, {str(s['first'])[:10]} .. {str(s['last'])[:10]}; "
            f"retention {r['status'].upper()}: {r['message']}")
    runs = Table("run", "read", "stored", "dup", "quar.", "finished (UTC)", title="last ingestion runs")
    for r in info["ingestion_runs"]:
        runs.add_row(str(r["run_id"]), f"{r['rows_read']:,}", f"{r['stored']:,}", f"{r['duplicates']:,}",
                     f"{r['quarantined']:,}", str(r["finished_at"])[:16])
    out.print(runs)
    for r in info["ingestion_runs"]:
        say(f"  run {r['run_id']}: {r['file']}")
    from hitlgov.metrics.inventory import read_window_notice

    hidden = read_window_notice(info.get("outside_read_window"))
    if hidden:
        say(f"not shown: {hidden}")
    q = info["quarantine"]
    say(f"quarantine: {q['quarantined_rows']:,} rows")
    for r in q["top_reasons"]:
        say(f"  {r['rows']:>6,}  {r['field'] or '-'}: {r['reason']}")


def _date(value: Optional[str], flag: str):
    if value is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{flag} {value!r}: expected a date as YYYY-MM-DD")


def _filter(start, end, system, model_version, segment):
    from hitlgov.metrics.source import Filter

    seg = None
    if segment:
        if "=" not in segment:
            fail(f"--segment {segment!r}: expected ATTRIBUTE=VALUE")
        name, value = segment.split("=", 1)
        seg = (name, value)
    return Filter(start=_date(start, "--from"), end=_date(end, "--to"), system=system,
                  model_version=model_version, segment=seg)


@app.command()
@friendly
def metrics(
    start: Optional[str] = typer.Option(None, "--from", help="First day (YYYY-MM-DD) [default: first decision]"),
    end: Optional[str] = typer.Option(None, "--to", help="Last day, inclusive [default: last decision]"),
    system: Optional[str] = typer.Option(None, "--system"),
    model_version: Optional[str] = typer.Option(None, "--model-version"),
    segment: Optional[str] = typer.Option(None, "--segment", help="ATTRIBUTE=VALUE, e.g. age_band=18-24"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy YAML [default: the shipped policy]"),
    no_drift: bool = typer.Option(False, "--no-drift", metavar=FLAG, help="Skip the (slower) Evidently drift tests"),
    drift_html: Optional[Path] = typer.Option(None, "--drift-html", help="Save Evidently's HTML report here"),
    as_json: bool = typer.Option(False, "--json", metavar=FLAG, help="The SCHEMA.md JSON object on stdout"),
    no_cache: bool = typer.Option(False, "--no-cache", metavar=FLAG, envvar="HITLGOV_NO_CACHE",
                                  help="Recompute from the tables instead of reusing the store's cached result"),
    db: Optional[Path] = DbOption,
    engine: Optional[str] = EngineOption,
    actor: Optional[str] = ActorOption,
):
    """Oversight, agreement, fairness, drift, ROI and policy findings for a period."""
    acting = _acting(actor)
    from hitlgov.metrics.engines import open_source
    from hitlgov.metrics.policy import load_policy
    from hitlgov.metrics.scope import ALL, check_filter, systems_in_scope
    from hitlgov.metrics.summary import compute_metrics

    flt = _filter(start, end, system, model_version, segment)
    pol = load_policy(policy)
    every = system == ALL
    with open_source(db, engine) as src:
        _refuse_untrustworthy(src, use_cache=not no_cache)
        names = systems_in_scope(src, flt.system)
        every = every and names != [ALL]  # a system literally named "all" is that system
        if drift_html and len(names) > 1:
            fail("--drift-html writes one system's drift report: pass --system NAME with it")
        results = {}
        for name in names if names or every else [None]:  # an empty store still gets its (empty) answer
            one = check_filter(src, flt.but(system=name))
            results[name] = compute_metrics(src, one, policy=pol, include_drift=not no_drift,
                                            drift_html=str(drift_html) if drift_html else None, cache=not no_cache)
    with acting:
        _note_policy(db, engine, pol)
    if every:  # each system on its own, with its own period and windows
        if as_json:
            sys.stdout.write(json.dumps({"systems": results}, allow_nan=False) + "\n")
            return
        for name, result in results.items():
            out.print(f"[bold]System {name}[/]", highlight=False)
            _print_metrics(result)
        return
    result = next(iter(results.values()))
    if as_json:
        sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
        return
    _print_metrics(result)


def _refuse_untrustworthy(src, *, use_cache: bool = True) -> None:
    """No figures from data that is not what was stored: duplicated rows (an edit behind
    ingestion's back, on which the metrics' uniqueness assumptions fail) or in-place files
    changed since registration. One line, exit 1; ``hitlgov verify`` gives the full picture."""
    if src.raw is None:
        return
    from hitlgov import integrity

    problems, entry = integrity.check(src.raw, use_cache=use_cache)
    if entry is not None:  # written with the metrics' own cache entries, once the store is closed
        src.pending_cache.append(entry)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise HitlgovError(f"the store does not hold what was ingested: {problems[0]}{more}; "
                           "no metrics are computed from it (run `hitlgov verify`)")


def _note_policy(db, engine, pol) -> None:
    """Record in the store's audit chain when findings are evaluated under a changed policy
    (``policy_changed``). Best effort: a store another process is writing, or a remote engine,
    does not stop the command; the user is told on stderr."""
    if engine is not None:
        return
    from hitlgov import audit

    try:
        audit.record_policy_use(db, sha256=pol.sha256, source=pol.source, name=pol.name)
    except HitlgovError as exc:
        err.print(f"[yellow]note:[/] the policy in use was not recorded in the audit trail: {exc}")


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _num(x, fmt="{:,.1f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def _effect(verdict) -> str:
    return {"reduced": "review reduced the gap", "increased": "review increased the gap",
            "unchanged": "review left the gap unchanged"}.get(verdict, "effect of review undefined")


def _bias_flags(bias: dict) -> str:
    """The flagged reviewers, "none" only when reviewers were tested; "not evaluated (why)" when
    nobody could be (COMPAS: no reviews) -- no flags among untested reviewers is not a pass."""
    if bias.get("flagged_reviewers") is None:
        return f"not evaluated ({bias.get('not_evaluated_reason') or 'no reviewer could be tested'})"
    return ", ".join(bias.get("flagged_any", bias["flagged"])) or "none"


def _print_metrics(m: dict) -> None:
    o, c, a, r, ab = m["oversight"], m["counts"], m["agreement"], m["roi"], m["automation_bias"]
    out.print(f"[bold]Period[/] {m['period']['from']} .. {m['period']['to']}   "
              f"{c['cases']:,} cases, {c['reviews']:,} reviews", highlight=False)
    t = Table("oversight", "value", title=None, show_header=True)
    for label, value in [
        ("automation rate", _pct(o["automation_rate"])), ("review rate", _pct(o["review_rate"])),
        ("override rate", _pct(o["override_rate"])), ("escalation rate", _pct(o["escalation_rate"])),
        ("high-risk review coverage", _pct(o["high_risk_review_coverage"])),
        ("review time median / p90 (s)", f"{_num(o['review_seconds_median'])} / {_num(o['review_seconds_p90'])}"),
        # every reviewer the finding counts: peers, canaries and outcome-based over-reliance
        ("automation-bias flags", _bias_flags(m["automation_bias"])),
        ("Krippendorff alpha (nominal)", _num(a.get("krippendorff_alpha_nominal"), "{:.3f}")),
        ("Fleiss kappa", _num(a.get("fleiss_kappa"), "{:.3f}")),
        ("reviewer hours / cost", f"{r['reviewer_hours']:,.0f} h / {r['cost']:,.0f}"),
        ("errors caught / introduced", f"{r['errors_caught']:,} / {r['errors_introduced']:,}"),
    ]:
        t.add_row(label, value)
    out.print(t)
    for attr, f in m["fairness"].items():
        if "error" in f or not f.get("model_decision"):
            out.print(f"fairness {attr}: {f.get('error', 'no groups')}")
            continue
        e = f["review_effect"]
        status = next((x["status"] for x in m["findings"]
                       if x["metric"] == f"fairness.{attr}.final_decision.demographic_parity_difference"), None)
        worse = "; ".join(f"review raised {w['group']}'s {w['rate'].replace('_', ' ')} {_pct(w['model'])} -> "
                          f"{_pct(w['final'])}" for w in e.get("worsened") or [])
        out.print(f"fairness {attr}: demographic parity difference model {_num(e['dpd_model'], '{:.3f}')} -> "
                  f"final {_num(e['dpd_final'], '{:.3f}')} ({_effect(e['dpd_verdict'])}"
                  + (f"; the final decisions still {status.upper()} the policy" if status in ("fail", "warn") else "")
                  + ")" + (f"; {worse}" if worse else ""), highlight=False, markup=False)
    d = m.get("drift") or {}
    if d.get("columns"):
        drifted = [col["column"] for col in d["columns"] if col.get("drifted")]
        out.print(f"drift: {d['drifted_columns']}/{d['total_columns']} columns drifted "
                  f"({', '.join(drifted) or 'none'})", highlight=False)
    colour = {"pass": "green", "warn": "yellow", "fail": "red"}
    out.print("[bold]Findings[/]")
    from rich.markup import escape

    from hitlgov import formats

    for f in m["findings"]:
        out.print(f"  [{colour[f['status']]}]{f['status'].upper():4}[/] {escape(f['title'])} "
                  f"(threshold {formats.finding_value(f['metric'], f['threshold'])}; {f['metric']}) - "
                  f"{escape(', '.join(f['refs']))}", highlight=False)
    for f in m["findings_not_evaluated"]:
        out.print(f"  [dim]NOT EVALUATED {escape(f.get('check') or f['metric'])}: {escape(f['reason'])}[/]",
                  highlight=False)


@app.command()
@friendly
def verify(as_json: bool = typer.Option(False, "--json", metavar=FLAG), db: Optional[Path] = DbOption,
           since: Optional[list[Path]] = typer.Option(
               None, "--since", metavar="CHECKPOINT",
               help="A checkpoint file kept elsewhere: the chain must still extend it (repeatable)"),
           engine: Optional[str] = StoreOnlyEngine):
    """Walk the audit chain, check it against its signed checkpoints and re-hash every stored row
    against the Merkle roots it committed to (exit 1 on any problem)."""
    from hitlgov import audit, checkpoint, store

    store_only("verify", engine)
    from hitlgov.ingest import inplace

    kept = [{**checkpoint.read(p), "file": str(p)} for p in (since or [])]
    with store.connect(db, read_only=True) as con:
        # an in-place store has no copied rows to re-hash: its files are checked against their SHA-256
        result = inplace.verify(con, since=kept) if inplace.is_inplace(con) else audit.verify(con, since=kept)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
    else:
        chain = result["chain"]
        latest = result.get("checkpoint") or {}
        if result["ok"]:
            signer = (latest.get("key") or {}).get("fingerprint") or "unsigned"
            out.print(f"[green]OK[/]: {chain['events']:,} audit events, chain intact, data matches; "
                      f"head {chain['head']}; checkpoint {latest.get('tree_size', 0):,} ({signer})", highlight=False)
        else:
            out.print(f"[red]BROKEN[/]: {chain['events']:,} audit events", highlight=False)
            for p in result["problems"]:
                out.print(f"  - {p}", highlight=False, markup=False)
        for n in result.get("notes", []):
            out.print(f"  note: {n}", highlight=False, markup=False)
    raise typer.Exit(0 if result["ok"] else 1)


@app.command()
@friendly
def keygen(out_file: Path = typer.Option(..., "--out", help="Where to write the private key (PEM, mode 0600); "
                                                             "the public key goes to FILE.pub")):
    """Create the site's Ed25519 signing key for audit checkpoints and reports; point
    $HITLGOV_SIGNING_KEY at it (keep it outside the store and off the store's host if you can)."""
    from hitlgov import checkpoint

    key, pub, fp = checkpoint.keygen(out_file)
    out.print(f"private key {key} (keep secret), public key {pub}; fingerprint {fp}", highlight=False, markup=False)
    out.print(f"export {checkpoint.ENV_KEY}={key}", highlight=False, markup=False)


@app.command()
@friendly
def migrate(db: Optional[Path] = DbOption):
    """Create the store or upgrade its schema to this version."""
    from hitlgov import store

    with store.connect(db) as con:
        version = store.current_version(con)
    out.print(f"{store.resolve_db(db)}: schema version {version}")


@app.command("demo-data")
@friendly
def demo_data(
    out_dir: Path = typer.Option(Path("data/demo"), "--out", help="Folder for the generated files"),
    cases: int = typer.Option(200_000, "--cases", help="Number of cases"),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same files)"),
):
    """Generate the synthetic credit-decision deployment (see data/README.md)."""
    from hitlgov import demo

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = demo.generate(out_dir, cases=cases, seed=seed)
    out.print(f"{out_dir}: {manifest['cases']:,} cases, {manifest['csv_rows']:,} CSV rows "
              f"({manifest['malformed_rows']} malformed, {manifest['duplicate_rows']} duplicates)", highlight=False)


@app.command()
@friendly
def serve(
    db: Optional[Path] = DbOption,
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="HTTP port"),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; a non-loopback address needs sign-in "
                             "(local accounts or --auth)"),
    auth: Optional[Path] = typer.Option(None, "--auth", help="Authentication file (TOML/YAML): OpenID Connect and/or "
                                        "local accounts, see docs/security.md"),
    no_auth: bool = typer.Option(False, "--no-auth", metavar=FLAG,
                                 help="Single user on this machine, no sign-in (loopback only)"),
    headless: bool = typer.Option(True, "--headless/--browser", metavar=FLAG, help="Do not open a browser window"),
    engine: Optional[str] = EngineOption,
    warm_up: bool = typer.Option(True, "--warm-up/--no-warm-up", metavar=FLAG,
                                 help="Compute every page's default view once in the background, into the store's "
                                      "result cache"),
):
    """Start the dashboard (Streamlit) on the store, opened read-only (or on --engine).

    Sign-in: local accounts when the store has any (`hitlgov user add`), OpenID Connect with
    --auth FILE, or none with --no-auth (one person, 127.0.0.1 only). The store is only ever
    written to cache computed figures (derived data, keyed by the data version)."""
    from hitlgov.dashboard.launch import serve as run_dashboard

    if engine:
        from hitlgov.metrics.engines import parse_engine

        parse_engine(engine)  # a malformed URL fails here, not in every page of the app
    run_dashboard(db=db, port=port, headless=headless, engine=engine, host=host, auth_file=auth, no_auth=no_auth,
                  warm_up=warm_up)


@app.command()
@friendly
def report(
    start: Optional[str] = typer.Option(None, "--from", help="First day (YYYY-MM-DD)"),
    end: Optional[str] = typer.Option(None, "--to", help="Last day, inclusive"),
    system: Optional[str] = typer.Option(None, "--system"),
    model_version: Optional[str] = typer.Option(None, "--model-version", help="Only the cases this model version decided"),
    segment: Optional[str] = typer.Option(None, "--segment", help="ATTRIBUTE=VALUE, e.g. age_band=18-24"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy YAML [default: the shipped policy]"),
    kind: str = typer.Option("compliance", "--kind", help="compliance or executive"),
    out_file: Optional[Path] = typer.Option(None, "--out", help="PDF file to write"),
    verify: Optional[Path] = typer.Option(None, "--verify", help="Re-verify a report PDF against the store"),
    trust: Optional[List[Path]] = typer.Option(None, "--trust", metavar="CA.pem",
                                               help="With --verify: PEM root certificate(s) the signer must chain to "
                                                    "(repeatable); integrity and trust are reported apart"),
    pseudonymise: bool = typer.Option(False, "--pseudonymise", metavar=FLAG, help="Replace reviewer ids by keyed hashes (HITLGOV_PSEUDONYM_KEY)"),
    db: Optional[Path] = DbOption,
    engine: Optional[str] = EngineOption,
    actor: Optional[str] = ActorOption,
):
    """Generate a PDF compliance/executive report, or --verify one against the store."""
    with _acting(actor):
        _report(start, end, system, model_version, segment, policy, kind, out_file, verify, pseudonymise, db, engine,
                trust)


def _report(start, end, system, model_version, segment, policy, kind, out_file, verify, pseudonymise, db,
            engine, trust=None) -> None:
    from hitlgov.metrics.policy import load_policy
    from hitlgov.reports.cli import run_report

    flt = _filter(start, end, system, model_version, segment)
    code = run_report(db=db, start=flt.start, end=flt.end, system=flt.system, policy=policy,
                      kind=kind, out_file=out_file, verify=verify, pseudonymise=pseudonymise, console=out,
                      err_console=err, engine=engine, model_version=flt.model_version, segment=flt.segment,
                      trust=trust or None)
    if verify is not None and engine is None:
        _print_attestations(db, verify)
    if code == 0 and verify is None:
        _note_policy(db, engine, load_policy(policy))
    raise typer.Exit(code)


@app.command("export-parquet")
@friendly
def export_parquet(
    out_dir: Path = typer.Option(..., "--out", help="Folder for the Parquet tables (one sub-folder per table)"),
    overwrite: bool = typer.Option(False, "--overwrite", metavar=FLAG, help="Replace the tables of an existing export"),
    as_json: bool = typer.Option(False, "--json", metavar=FLAG, help="The table row counts as JSON on stdout"),
    db: Optional[Path] = DbOption,
):
    """Write the store's canonical tables as Parquet (cases/reviews/attributes by month), for another engine."""
    from hitlgov import store
    from hitlgov.export import export_parquet as export

    with store.connect(db, read_only=True) as con:
        result = export(con, out_dir, overwrite=overwrite)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    counts = ", ".join(f"{t} {n:,}" for t, n in result["tables"].items())
    out.print(f"{out_dir}: {counts} ({result['seconds']:.2f} s); "
              f"read it with --engine 'pyspark://local[2]?parquet={out_dir.resolve()}'", highlight=False)


# -- continuous oversight (issue 18) ---------------------------------------------------------

@app.command()
@friendly
def monitor(
    window_days: int = typer.Option(30, "--window-days", help="Length of the latest window in days"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Last day of the window [default: each system's latest decision]"),
    system: Optional[List[str]] = typer.Option(None, "--system", help="Systems to evaluate [default: all]"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy YAML [default: the shipped policy]"),
    webhook: Optional[List[str]] = typer.Option(None, "--webhook", help="POST status changes as JSON to this URL"),
    alert_file: Optional[List[Path]] = typer.Option(None, "--alert-file", help="Append status changes as JSON lines"),
    use_syslog: bool = typer.Option(False, "--syslog", metavar=FLAG, help="Send status changes to the local syslog"),
    drift: bool = typer.Option(False, "--drift", metavar=FLAG, help="Include the (slower) Evidently drift tests"),
    show_history: bool = typer.Option(False, "--history", metavar=FLAG, help="Print the findings history instead of running"),
    as_json: bool = typer.Option(False, "--json", metavar=FLAG, help="The run (or the history) as JSON on stdout"),
    actor: Optional[str] = ActorOption,
    db: Optional[Path] = DbOption,
):
    """Evaluate the policy on each system's latest window; keep the findings history; alert on status changes."""
    from hitlgov.metrics.policy import load_policy
    from hitlgov.oversight import alerts
    from hitlgov.oversight import monitor as mon

    if show_history:
        rows = mon.history(db, system=(system or [None])[0])
        spells = mon.spells(rows)
        if as_json:
            sys.stdout.write(json.dumps({"history": rows, "spells": spells}, default=str) + "\n")
            return
        table = Table("system", "metric", "status", "since", "until", "runs")
        for sp in spells:
            table.add_row(sp["system"], sp["metric"], sp["status"], f"{sp['since']:%Y-%m-%d %H:%M}",
                          f"{sp['until']:%Y-%m-%d %H:%M}", str(sp["runs"]))
        out.print(table)
        return
    channels = alerts.channels_from(webhooks=webhook or [], files=alert_file or [], syslog=use_syslog)
    result = mon.run_monitor(db, policy=load_policy(policy), window_days=window_days, systems=system or None,
                             as_of=_date(as_of, "--as-of"), channels=channels, actor=_actor(actor),
                             include_drift=drift)
    if as_json:
        sys.stdout.write(json.dumps(result.as_json(), allow_nan=False, default=str) + "\n")
        return
    for s in result.systems:
        counts = {k: sum(1 for r in s.rows if r["status"] == k) for k in ("fail", "warn", "pass", "not_evaluated")}
        out.print(f"{s.system} {s.window['from']}..{s.window['to']}: fail {counts['fail']}, warn {counts['warn']}, "
                  f"pass {counts['pass']}, not evaluated {counts['not_evaluated']}; {len(s.changes)} status change(s)",
                  highlight=False)
        for c in s.changes:
            out.print(f"  {c['metric']}: {c['previous'] or 'new'} -> {c['status']}", highlight=False)
        for d in s.deliveries:
            if not d.delivered:
                err.print(f"[yellow]note:[/] alert to {d.channel.kind} {d.channel.target} failed after "
                          f"{d.attempts} attempt(s): {d.error} (recorded in alert_deliveries)", highlight=False)
    out.print(f"monitor run {result.run_id} recorded", highlight=False)


incident_app = typer.Typer(help="The serious-incident register (EU AI Act Art. 73) and its deadlines.",
                           no_args_is_help=True)
app.add_typer(incident_app, name="incident")


def _print_incident(i: dict) -> None:
    left = i["seconds_remaining"]
    clock = f"{left / 86400:.1f} days left" if left is not None and left >= 0 else i["state"]
    out.print(f"{i['incident_id']} [{i['category']}, {i['article']}] {i['title']}: aware {i['aware_at']}, "
              f"deadline {i['deadline_at']} ({clock})", highlight=False, markup=False)


@incident_app.command("add")
@friendly
def incident_add(
    category: str = typer.Option("other", "--category", help="other (15 days), widespread_infringement or "
                                 "critical_infrastructure (2 days), death (10 days)"),
    aware: str = typer.Option(..., "--aware", help="When you became aware (ISO 8601; local time in --zone unless it has an offset)"),
    zone_name: str = typer.Option("UTC", "--zone", help="IANA time zone of the awareness time, e.g. Europe/Berlin"),
    title: str = typer.Option(..., "--title"),
    description: Optional[str] = typer.Option(None, "--description"),
    system: Optional[str] = typer.Option(None, "--system"),
    case: Optional[List[str]] = typer.Option(None, "--case", help="Linked case ids (repeat or comma-separate)"),
    as_json: bool = typer.Option(False, "--json", metavar=FLAG),
    actor: Optional[str] = ActorOption,
    db: Optional[Path] = DbOption,
):
    """Record a serious incident; prints its reporting deadline."""
    from hitlgov.oversight import incidents

    i = incidents.record(db, category=category, aware=aware, zone_name=zone_name, title=title,
                         description=description, system=system, cases=_split(case),
                         actor=_authorised(db, actor, "incident"))
    if as_json:
        sys.stdout.write(json.dumps(i) + "\n")
        return
    _print_incident(i)


@incident_app.command("list")
@friendly
def incident_list(as_json: bool = typer.Option(False, "--json", metavar=FLAG), db: Optional[Path] = DbOption):
    """Every incident with its deadline counting down, nearest first."""
    from hitlgov.oversight import incidents

    rows = incidents.register(db)
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for i in rows:
        _print_incident(i)


@incident_app.command("reported")
@friendly
def incident_reported(
    incident_id: str = typer.Argument(...),
    at: Optional[str] = typer.Option(None, "--at", help="When it was reported [default: now]"),
    zone_name: str = typer.Option("UTC", "--zone"),
    actor: Optional[str] = ActorOption,
    db: Optional[Path] = DbOption,
):
    """Mark an incident as reported to the market surveillance authority."""
    from hitlgov.oversight import incidents

    _print_incident(incidents.mark_reported(db, incident_id, reported=at, zone_name=zone_name,
                                            actor=_authorised(db, actor, "incident")))


@incident_app.command("export")
@friendly
def incident_export(
    incident_id: str = typer.Argument(...),
    out_file: Optional[Path] = typer.Option(None, "--out", help="JSON file [default: stdout]"),
    db: Optional[Path] = DbOption,
):
    """The incident record with its linked cases, their reviews and its audit events, as JSON."""
    from hitlgov.oversight import incidents

    text = json.dumps(incidents.export(db, incident_id), indent=2, sort_keys=True) + "\n"
    if out_file is None:
        sys.stdout.write(text)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out_file}: cannot write ({exc.strerror})")
    out.print(f"{out_file}: incident {incident_id} exported", highlight=False)


remediation_app = typer.Typer(help="Remediation of failing findings: owner, due date, acknowledge, resolve.",
                              no_args_is_help=True)
app.add_typer(remediation_app, name="remediation")


def _print_item(r: dict) -> None:
    late = " OVERDUE" if r["overdue"] else ""
    out.print(f"{r['item_id']} {r['state']}{late}: {r['system']} {r['metric']} -> {r['owner']}, due {r['due']}",
              highlight=False, markup=False)


@remediation_app.command("assign")
@friendly
def remediation_assign(
    system: str = typer.Option(..., "--system"),
    metric: str = typer.Option(..., "--metric", help="The finding's metric path, e.g. oversight.override_rate"),
    owner: str = typer.Option(..., "--owner"),
    due: str = typer.Option(..., "--due", help="YYYY-MM-DD"),
    note: Optional[str] = typer.Option(None, "--note"),
    actor: Optional[str] = ActorOption,
    db: Optional[Path] = DbOption,
):
    """Give a finding an owner and a due date."""
    from hitlgov.oversight import remediation

    _print_item(remediation.assign(db, system=system, metric=metric, owner=owner, due=_date(due, "--due"),
                                   note=note, actor=_authorised(db, actor, "remediate")))


@remediation_app.command("ack")
@friendly
def remediation_ack(item_id: str = typer.Argument(...), note: Optional[str] = typer.Option(None, "--note"),
                    actor: Optional[str] = ActorOption, db: Optional[Path] = DbOption):
    """Acknowledge an item (the owner has seen it)."""
    from hitlgov.oversight import remediation

    _print_item(remediation.acknowledge(db, item_id, note=note, actor=_authorised(db, actor, "remediate")))


@remediation_app.command("resolve")
@friendly
def remediation_resolve(item_id: str = typer.Argument(...), note: str = typer.Option(..., "--note", help="What was done"),
                        actor: Optional[str] = ActorOption, db: Optional[Path] = DbOption):
    """Resolve an item, saying what was done."""
    from hitlgov.oversight import remediation

    _print_item(remediation.resolve(db, item_id, note=note, actor=_authorised(db, actor, "remediate")))


@remediation_app.command("list")
@friendly
def remediation_list(overdue: bool = typer.Option(False, "--overdue", metavar=FLAG, help="Only overdue items"),
                     as_json: bool = typer.Option(False, "--json", metavar=FLAG), db: Optional[Path] = DbOption):
    """Every remediation item, unresolved and earliest due first."""
    from hitlgov.oversight import remediation

    rows = remediation.items(db, overdue_only=overdue)
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for r in rows:
        _print_item(r)


register_app = typer.Typer(help="The reviewer register (EU AI Act Art. 26(2)): role, authority, training and its expiry.",
                            no_args_is_help=True)
app.add_typer(register_app, name="register")


@register_app.command("load")
@friendly
def register_load(
    path: Path = typer.Argument(..., help="CSV or YAML reviewer register"),
    as_json: bool = typer.Option(False, "--json", metavar=FLAG),
    actor: Optional[str] = ActorOption,
    db: Optional[Path] = DbOption,
):
    """Validate a reviewer register and store it as the register's next version (all or nothing)."""
    from hitlgov.oversight.register import load_register

    result = load_register(db, path, actor=_authorised(db, actor, "register"))
    if as_json:
        sys.stdout.write(json.dumps(result.as_json()) + "\n")
        return
    out.print(f"{result.file}: read {result.rows_read:,} rows -> {result.reviewers:,} reviewers, "
              f"{result.rows_read - result.duplicates:,} training records, duplicates {result.duplicates:,} "
              f"(register version {result.version})", highlight=False, markup=False, soft_wrap=True)


def _print_attestations(db, pdf: Path) -> None:
    """After ``report --verify``: who signed this report off (best effort; a store without
    sign-offs, or a file that is no report, prints nothing more)."""
    from hitlgov.oversight import attestation
    from hitlgov.reports.verify import read_evidence

    try:
        doc, _meta = read_evidence(pdf)
        signed = attestation.for_report(db, doc["digest"]["value"])
        now_sha = attestation.file_sha256(pdf)
    except (HitlgovError, OSError, KeyError, TypeError):
        return
    if not signed:
        out.print("  sign-off: none recorded for this report", highlight=False, markup=False)
    for a in signed:
        same = "this file" if a["file_sha256"] == now_sha else "another copy of the same figures (file hash differs)"
        out.print(f"  signed off by {a['name']} ({a['role']}) at {a['signed_at']} [{a['attestation_id']}, {same}]: "
                  f"\"{a['statement']}\"", highlight=False, soft_wrap=True, markup=False)


@app.command()
@friendly
def attest(
    pdf: Path = typer.Argument(..., help="A report PDF generated by this store"),
    name: str = typer.Option(..., "--name", help="Who signs off"),
    role: str = typer.Option(..., "--role", help="Their role, e.g. compliance officer"),
    statement: Optional[str] = typer.Option(None, "--statement", help="The attestation text [default: a standard one]"),
    as_json: bool = typer.Option(False, "--json", metavar=FLAG),
    actor: Optional[str] = ActorOption,
    db: Optional[Path] = DbOption,
):
    """Sign off a generated report (name, role, time, statement), recorded in the audit chain."""
    from hitlgov.oversight import attestation
    from hitlgov.reports.verify import read_evidence

    doc, _meta = read_evidence(pdf)
    try:
        digest, params = doc["digest"]["value"], doc["parameters"]
    except (KeyError, TypeError):
        fail(f"{pdf}: the report's evidence has no digest")
    a = attestation.attest(db, report_file=pdf, evidence_digest=digest, parameters=params, name=name, role=role,
                           statement=statement, actor=_actor(actor))
    if as_json:
        sys.stdout.write(json.dumps(a) + "\n")
        return
    out.print(f"{pdf}: signed off by {a['name']} ({a['role']}) at {a['signed_at']} [{a['attestation_id']}]",
              highlight=False, markup=False)


user_app = typer.Typer(help="Local accounts for the dashboard's sign-in (sites without an identity provider).",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")
PasswordStdin = typer.Option(False, "--password-stdin", metavar=FLAG,
                             help="Read the password from the first line of standard input (scripts), not a prompt")


def _new_password(stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a hidden prompt. Never an argument:
    a password on the command line is visible to every user of the machine (ps, shell history)."""
    if stdin:
        line = sys.stdin.readline(2048)
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        fail("no terminal to prompt for the password: pass --password-stdin and the password on standard input")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        fail("the two passwords differ: nothing was changed")
    return first


@user_app.command("add")
@friendly
def user_add(name: str = typer.Argument(..., help="Account name (letters, digits, . _ @ -)"),
             role: str = typer.Option(..., "--role", help="executive, compliance, auditor, data_steward or admin"),
             password_stdin: bool = PasswordStdin, db: Optional[Path] = DbOption,
             actor: Optional[str] = ActorOption):
    """Create a local account (the password is hashed with Argon2id; only the hash is stored)."""
    from hitlgov import accounts

    accounts.check_name(name)
    accounts.check_role(role)
    password = _new_password(password_stdin)
    with _acting(actor):
        user = accounts.add_user(db, name, role, password)
    out.print(f"user {user.name} added with role {user.role}", highlight=False)


@user_app.command("passwd")
@friendly
def user_passwd(name: str = typer.Argument(...), password_stdin: bool = PasswordStdin,
                db: Optional[Path] = DbOption, actor: Optional[str] = ActorOption):
    """Set a new password for a local account."""
    from hitlgov import accounts

    accounts.check_name(name)
    password = _new_password(password_stdin)
    with _acting(actor):
        accounts.set_password(db, name, password)
    out.print(f"password of {name} changed", highlight=False)


@user_app.command("disable")
@friendly
def user_disable(name: str = typer.Argument(...), db: Optional[Path] = DbOption,
                 actor: Optional[str] = ActorOption):
    """Disable an account: it can no longer sign in, and an open session ends at its next click."""
    _set_disabled(name, db, actor, disabled=True)


@user_app.command("enable")
@friendly
def user_enable(name: str = typer.Argument(...), db: Optional[Path] = DbOption,
                actor: Optional[str] = ActorOption):
    """Re-enable a disabled account."""
    _set_disabled(name, db, actor, disabled=False)


def _set_disabled(name: str, db: Optional[Path], actor: Optional[str], *, disabled: bool) -> None:
    from hitlgov import accounts

    with _acting(actor):
        changed = accounts.set_disabled(db, name, disabled)
    state = "disabled" if disabled else "enabled"
    out.print(f"user {name} {state}" if changed else f"user {name} was already {state}", highlight=False)


@user_app.command("list")
@friendly
def user_list(as_json: bool = typer.Option(False, "--json", metavar=FLAG), db: Optional[Path] = DbOption):
    """The local accounts, their roles and whether they are disabled (never a hash)."""
    from hitlgov import accounts

    users = accounts.list_users(db)
    if as_json:
        sys.stdout.write(json.dumps(users, default=str) + "\n")
        return
    t = Table("name", "role", "status", "created", "changed")
    for u in users:
        t.add_row(u["name"], u["role"], "disabled" if u["disabled"] else "enabled", str(u["created_at"])[:19],
                  str(u["updated_at"])[:19])
    out.print(t)


@app.command()
def version():
    """Print the version."""
    out.print(__version__)


class _FlagHelp:
    """The built-in ``--help`` option, shown as the flag it is: Typer's rich help gives it a
    ``<bool>`` type column like any boolean option without a metavar (see :data:`FLAG`)."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = FLAG
        return option


def _with_flag_help(cls, default):
    cls = cls or default
    return cls if issubclass(cls, _FlagHelp) else type(cls.__name__, (_FlagHelp, cls), {})


def _flag_help(typer_app: typer.Typer) -> None:
    """Every command and group of ``typer_app`` (and of its sub-apps) with :class:`_FlagHelp`."""
    typer_app.info.cls = _with_flag_help(typer_app.info.cls, typer.core.TyperGroup)
    for command in typer_app.registered_commands:
        command.cls = _with_flag_help(command.cls, typer.core.TyperCommand)
    for group in typer_app.registered_groups:
        group.cls = _with_flag_help(group.cls, typer.core.TyperGroup)
        _flag_help(group.typer_instance)


_flag_help(app)  # after the last command is registered


def main():  # pragma: no cover
    app()
