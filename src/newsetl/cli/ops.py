"""Operations commands: ``newsetl status``, ``newsetl maintenance``, ``newsetl serve``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from newsetl.cli.app import (
    DbOption,
    VerboseOption,
    _head_start,
    app,
    fail,
    out,
    print_summary,
    render_rows,
    settings_for,
    store_for,
)
from newsetl.cli.tables import FormatOption, WideOption
from newsetl.errors import NewsetlError

_STATUS_KEYS = ("flow", "status", "started", "inputs", "loaded", "rejected", "stage", "reason", "url",
                "error_streak", "registered", "due", "failing", "articles")  # fmt: skip


@app.command()
def status(
    db: DbOption = None,
    runs: Annotated[int, typer.Option(help="How many recent runs to list.")] = 10,
    days: Annotated[int, typer.Option(help="Window for the rejection summary, in days.")] = 7,
    fmt: FormatOption = None,
    wide: WideOption = False,
) -> None:
    """Recent runs with counts and durations, rejections by reason, feeds, database size.

    On a terminal each section is a table that fits it (--wide: every column); piped, each
    section is a "# title" line followed by tab-separated rows.

    Example:  newsetl status --db warehouse/news.duckdb
    """
    from newsetl.analysis.status import warehouse_status
    from newsetl.cli.tables import choose_format

    try:
        chosen = choose_format(fmt, out)
    except ValueError as exc:
        raise fail(str(exc), code=2) from None
    try:
        st = warehouse_status(store_for(db), runs=runs, days=days)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    if chosen == "json":
        sections = {s.title: [dict(zip(s.columns, r, strict=True)) for r in s.rows] for s in st.sections}
        doc = {"db": st.db_path, "size_bytes": st.size_bytes, "sections": sections}
        sys.stdout.write(json.dumps(doc, default=str, ensure_ascii=False) + "\n")
        return
    if chosen == "table":
        out.print(f"[bold]{st.db_path}[/] · {st.size_bytes / 1e6:.1f} MB on disk", highlight=False)
    else:
        sys.stdout.write(f"# {st.db_path}\t{st.size_bytes}\n")
    if not st.sections:
        out.print("empty warehouse: no runs yet")
    for section in st.sections:
        if chosen != "table":
            sys.stdout.write(f"# {section.title}\n")
        render_rows(
            section.columns, section.rows, chosen, 200, wide=wide, keys=_STATUS_KEYS, title=section.title
        )


@app.command()
def maintenance(
    db: DbOption = None,
    fetch_log_retention_days: Annotated[int, typer.Option(help="Days of HTTP fetch log to keep.")] = 30,
    verbose: VerboseOption = False,
) -> None:
    """Run the nightly maintenance flow now (checkpoint, statistics, pruning).

    Example:  newsetl maintenance --db warehouse/news.duckdb
    """
    server = _head_start(verbose, workers=0)
    from flows.maintenance import maintenance as maintenance_flow

    with server.api():
        try:
            result = maintenance_flow(db=db, fetch_log_retention_days=fetch_log_retention_days)
        except NewsetlError as exc:
            raise fail(str(exc)) from None
    table = Table(title=f"maintenance · {result['db']}", title_justify="left")
    for col in ("step", "seconds", "result"):
        table.add_column(col)
    for step in result["steps"]:
        table.add_row(step["name"], f"{step['seconds']:.2f}", step["detail"])
    out.print(table)


@app.command()
def serve(
    project: Annotated[
        Path, typer.Option(help="Folder with prefect.yaml (the newsetl clone).", show_default=False)
    ] = Path(),
    limit: Annotated[int | None, typer.Option(help="Maximum concurrent flow runs.")] = None,
) -> None:
    """Serve the deployments of prefect.yaml on their schedules from this one process.

    The lightest way to run newsetl on a schedule: no work pool, no worker. Needs a Prefect
    API (PREFECT_API_URL, e.g. from `make server`); without one Prefect starts a temporary
    server that lives as long as this process. Stop with Ctrl-C.

    Example:  newsetl serve --project .
    """
    project = project.resolve()
    if not (project / "prefect.yaml").is_file():
        raise fail(f"no prefect.yaml in {project} (pass --project <newsetl clone>)")
    from newsetl.cli.serve import DeployedToWorkPool, serve_project

    try:
        serve_project(project, limit=limit)
    except DeployedToWorkPool as exc:
        raise fail(str(exc)) from None


@app.command()
def audit(db: DbOption = None) -> None:
    """Check the warehouse's invariants; exit 1 if one is broken.

    Every input has one outcome per run, every article has an input, run counts match the
    ledger, no run is left 'running' by a dead process, raw bytes are in the archive.

    Example:  newsetl audit --db warehouse/news.duckdb
    """
    from newsetl.analysis.audit import run_audit
    from newsetl.storage.backends import open_warehouse
    from newsetl.storage.raw_archive import archive_root

    settings = settings_for(db)
    try:
        report = run_audit(
            open_warehouse(settings), archive_root(settings), expect_archive=settings.archive.archive_raw
        )
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"audit · {report.db_path}", title_justify="left")
    for col in ("check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for f in report.findings:
        table.add_row(f.check, "ok" if f.ok else "[bold red]FAILED[/]", f.detail)
    out.print(table)
    for f in report.findings:
        for example in f.examples:
            out.print(f"  {f.check}: {example}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _print_rerun(result: dict[str, Any]) -> None:
    print_summary(result)
    changed: list[dict[str, Any]] = result.get("changed") or []
    if changed:
        table = Table(title=f"changed articles ({len(changed)})", title_justify="left")
        for col in ("article", "title", "words before", "words after"):
            table.add_column(col, overflow="fold")
        for c in changed[:30]:
            table.add_row(c["article_id"], c["title"] or "", str(c["words_before"]), str(c["words_after"]))
        out.print(table)


@app.command("replay-rejects")
def replay_rejects(
    db: DbOption = None,
    stage: Annotated[str | None, typer.Option(help="Only rejections at this stage.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only reasons containing this text.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many inputs.")] = None,
    verbose: VerboseOption = False,
) -> None:
    """Re-run rejected inputs from the raw archive (no files re-read, no pages refetched).

    Example:  newsetl replay-rejects --stage extract --reason "too little text"
    """
    server = _head_start(verbose, workers=None)
    from flows.reprocess import replay_rejects as replay_flow

    with server.api():
        try:
            result = replay_flow(db=db, stage=stage, reason=reason, limit=limit)
        except NewsetlError as exc:
            raise fail(str(exc)) from None
    _print_rerun(result)
    if result.get("unreplayable"):
        out.print(f"{result['unreplayable']} matching rejection(s) have no archived bytes and were skipped")


@app.command()
def reprocess(
    db: DbOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Re-extract every archived article, not only outdated ones.")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many articles.")] = None,
    verbose: VerboseOption = False,
) -> None:
    """Re-extract archived inputs with the current extractor; changed text becomes a new version.

    Example:  newsetl reprocess --db warehouse/news.duckdb
    """
    server = _head_start(verbose, workers=None)
    from flows.reprocess import reprocess as reprocess_flow

    with server.api():
        try:
            result = reprocess_flow(db=db, everything=everything, limit=limit)
        except NewsetlError as exc:
            raise fail(str(exc)) from None
    _print_rerun(result)


@app.command("copy-warehouse")
def copy_warehouse_cmd(
    source: Annotated[str, typer.Argument(help="The DuckDB file to copy.", show_default=False)],
    target: Annotated[
        str, typer.Argument(help="An empty DuckLake: ducklake:sqlite:PATH or ducklake:postgres:CONNINFO.")
    ],
) -> None:
    """Move a DuckDB-file warehouse into a DuckLake: every table and the raw archive.

    Run it once while no flow writes the file; then point NEWSETL_DB (and NEWSETL_DATA_PATH)
    at the lake and run `newsetl reindex` there.

    Example:  newsetl --data-path s3://news/lake copy-warehouse warehouse/news.duckdb \\
              ducklake:postgres:dbname=news
    """
    from newsetl.storage.backends import open_warehouse
    from newsetl.storage.copy import copy_warehouse
    from newsetl.storage.duckdb_file import DuckDBFile
    from newsetl.storage.ducklake import DuckLake
    from newsetl.storage.raw_archive import archive_root

    src_settings, dst_settings = settings_for(source), settings_for(target)
    src, dst = open_warehouse(src_settings), open_warehouse(dst_settings)
    if not isinstance(src, DuckDBFile) or not isinstance(dst, DuckLake):
        raise fail("copy-warehouse copies a DuckDB file into a DuckLake (ducklake:...)", code=2)
    try:
        report = copy_warehouse(src, dst, archive_root(src_settings), archive_root(dst_settings))
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"copied into {dst.describe()}", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in sorted(report.tables.items()):
        table.add_row(name, str(n))
    out.print(table)
    out.print(f"{report.blobs} raw blob(s) copied; next: newsetl reindex --db {target}", highlight=False)
