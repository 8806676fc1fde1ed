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

DbOption = typer.Option(None, "--db", envvar="HITLGOV_DB", help="DuckDB store [default: ./hitlgov.duckdb]")


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
    fmt: str = typer.Option("auto", "--format", "-f", help="auto, csv, jsonl, parquet, or an adapter (labelstudio, argilla, a2i)"),
    sensitive: Optional[List[str]] = typer.Option(None, "--sensitive", help="Sensitive attribute columns (comma-separated)"),
    features: Optional[List[str]] = typer.Option(None, "--features", help="Feature columns for drift (comma-separated)"),
    positive_label: Optional[str] = typer.Option(None, "--positive-label", help="The favourable/positive label"),
    system: Optional[str] = typer.Option(None, "--system", help="System for rows that name none [default: 'default']"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file on stdout, nothing else"),
    db: Optional[Path] = DbOption,
):
    """Ingest decision logs: every row is stored, skipped as a duplicate, or quarantined."""
    from hitlgov import store
    from hitlgov.ingest.pipeline import ingest_path
    from hitlgov.mapping import load_mapping

    m = load_mapping(mapping).with_overrides(
        sensitive=_split(sensitive), features=_split(features), positive_label=positive_label, system=system)
    failures = 0
    with store.connect(db) as con:
        for path in paths:
            try:
                result = _with_progress(lambda step: ingest_path(con, path, mapping=m, fmt=fmt, progress=step), path)
            except HitlgovError as exc:
                failures += 1
                err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
                continue
            if as_json:
                sys.stdout.write(json.dumps(result.as_json()) + "\n")
            else:
                out.print(f"{result.file}: read {result.rows_read:,} rows -> stored {result.stored:,}, "
                          f"duplicates {result.duplicates:,}, quarantined {result.quarantined:,} "
                          f"({result.seconds:.2f} s, {result.format})", highlight=False)
    if failures:
        raise typer.Exit(1)


def _with_progress(run, path: Path):
    """A progress bar on stderr for files big enough to take more than about a second."""
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
        path.stat().st_size if path.exists() else 0)
    if size < 20_000_000 or not err.is_terminal and "PYTEST_CURRENT_TEST" in __import__("os").environ:
        return run(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    stages = ["hashing", "reading", "validating", "classifying", "storing"]
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
def status(as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DbOption):
    """What the store holds: cases, reviews, systems, period, last runs, quarantine, retention."""
    from metrics import inventory
    from metrics.source import Source

    with Source.open(db) as src:
        info = {
            "store": str(Path(src.raw.execute("PRAGMA database_list").fetchone()[2])),
            "counts": inventory.counts(src),
            "systems": inventory.systems_overview(src),
            "retention": inventory.retention(src),
            "ingestion_runs": inventory.ingestion_runs(src, limit=5),
            "quarantine": inventory.quarantine_summary(src, top=5),
        }
    if as_json:
        sys.stdout.write(json.dumps(info, default=str) + "\n")
        return
    c = info["counts"]
    out.print(f"[bold]{info['store']}[/]: {c['cases']:,} cases, {c['reviews']:,} reviews "
              f"({c['reviewed_cases']:,} reviewed cases); decisions {c['first_decision']} .. {c['last_decision']}",
              highlight=False)
    for s in info["systems"]:
        out.print(f"  system {s['system']}: {s['cases']:,} cases, {s['first']} .. {s['last']}", highlight=False)
    out.print(f"retention: {info['retention']['status']} - {info['retention']['message']}", highlight=False)
    runs = Table("run", "file", "read", "stored", "dup", "quarantined", "finished", title="last ingestion runs")
    for r in info["ingestion_runs"]:
        runs.add_row(str(r["run_id"]), r["file"], f"{r['rows_read']:,}", f"{r['stored']:,}",
                     f"{r['duplicates']:,}", f"{r['quarantined']:,}", str(r["finished_at"])[:19])
    out.print(runs)
    q = info["quarantine"]
    out.print(f"quarantine: {q['quarantined_rows']:,} rows")
    for r in q["top_reasons"]:
        out.print(f"  {r['rows']:>6,}  {r['field'] or '-'}: {r['reason']}", highlight=False)


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
def version():
    """Print the version."""
    out.print(__version__)


def main():  # pragma: no cover
    app()
