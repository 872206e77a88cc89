"""Analyst commands: search, reindex, clusters, history, relink, export.

Argument parsing and rendering only; the work is in search.py, neardup.py, history.py and
export.py. Registered on the main ``app`` by one import at the bottom of cli.py.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.table import Table
from rich.text import Text

from newsetl.cli.app import DbOption, app, err, fail, out, render_rows, store_for
from newsetl.cli.tables import FormatOption, WideOption, cell
from newsetl.errors import NewsetlError

DateOption = typer.Option(formats=["%Y-%m-%d"], show_default=False)


def _ago(ts: datetime | None) -> str:
    if ts is None:
        return "never"
    seconds = (datetime.now(UTC) - ts).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return "just now"


def _read_session(db: str | None) -> Any:
    return store_for(db).session(read_only=True)


def _freshness_note(f: Any) -> None:
    if f.pending:
        err.print(
            f"[yellow]note:[/] {f.pending} of {f.articles} articles are not searchable yet "
            f"(oldest since {_ago(f.oldest_pending_since)}); run `newsetl reindex` to add them.",
            highlight=False,
        )
    else:
        err.print(
            f"[dim]index covers all {f.articles} articles; refreshed {_ago(f.refreshed_at)}[/]",
            highlight=False,
        )


# --- search ---------------------------------------------------------------------------


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help="Words to look for (any may match; more matches rank higher).")
    ],
    lang: Annotated[
        str | None, typer.Option("--lang", help="Only articles in this language (ISO 639-1).")
    ] = None,
    since: Annotated[datetime | None, DateOption] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Results to show.")] = 10,
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Full-text search (BM25, stemmed per language) over titles and texts.

    --since takes a date (YYYY-MM-DD): only articles published (or first seen) on or after it.

    Example:  newsetl search "Kirche Missbrauch" --lang de --since 2024-01-01 --limit 5
    """
    from newsetl.analysis import search as searching
    from newsetl.analysis import search_index

    try:
        with store_for(db).search_session(read_only=True) as conn:
            fresh = searching.freshness(conn)
        if not fresh.exists or fresh.pending:
            # Catch up first (the nightly maintenance does this too): a search should not
            # miss what the last run loaded.
            if fresh.pending > 2000:
                err.print(f"[dim]indexing {fresh.pending} new or changed articles first…[/]")
            search_index.refresh(store_for(db))
        with store_for(db).search_session(read_only=True) as conn:
            fresh = searching.freshness(conn)
            hits = searching.search(conn, query, lang=lang, since=since, limit=limit)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        raise fail(" ".join(str(exc).split())) from None
    if json_out:
        rows = [
            {
                "rank": h.rank,
                "score": round(h.score, 4),
                "article_id": h.article_id,
                "title": h.title,
                "dated_at": h.dated_at.isoformat() if h.dated_at else None,
                "domain": h.domain,
                "sitename": h.sitename,
                "language": h.language,
                "url": h.url,
                "snippet": h.snippet,
            }
            for h in hits
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
    else:
        table = Table(show_lines=True, title=f"search: {query}", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("score", justify="right")
        table.add_column("date")
        table.add_column("source")
        table.add_column("lang")
        table.add_column("title / snippet", overflow="fold", ratio=1)
        for h in hits:
            cell = Text(h.title or "(untitled)", style="bold")
            snippet = Text(h.snippet, style="dim")
            for start, end in h.spans:
                snippet.stylize("bold yellow", start, end)
            cell.append("\n")
            cell.append_text(snippet)
            cell.append(f"\n{h.article_id}", style="cyan")
            table.add_row(
                str(h.rank),
                f"{h.score:.2f}",
                h.dated_at.date().isoformat() if h.dated_at else "",
                h.domain or h.sitename or "",
                h.language or "",
                cell,
            )
        if hits:
            out.print(table)
        else:
            out.print(f"no article matches {query!r}")
    _freshness_note(fresh)


@app.command()
def reindex(
    db: DbOption = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild every index from scratch.")] = False,
) -> None:
    """Bring the full-text search indexes up to date with the articles (in place; fast).

    Example:  newsetl reindex --db warehouse/news.duckdb
    """
    from newsetl.analysis import search as searching
    from newsetl.analysis import search_index

    store = store_for(db)
    try:
        store.ensure_schema()
        with store.search_session() as conn:
            report = search_index.refresh_search_index(conn, full=full)
            fresh = searching.freshness(conn)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    table = Table(title="search indexes", title_justify="left")
    for col in ("index", "stemmer", "stop words", "articles", "change", "+added", "-removed", "ms"):
        table.add_column(col, justify="right" if col not in ("index", "stemmer", "change") else "left")
    changed = {c.index_name: c for c in report.changes}
    for ix in fresh.indexes:
        c = changed.get(ix["index_name"])
        table.add_row(
            ix["index_name"],
            ix["stemmer"],
            str(ix["stopwords"]),
            str(ix["articles"]),
            c.mode if c else "unchanged",
            str(c.added) if c else "0",
            str(c.removed) if c else "0",
            f"{c.ms:.0f}" if c else "",
        )
    out.print(table)
    out.print(
        f"{fresh.searchable} of {fresh.articles} articles searchable; took {report.seconds:.2f} s",
        highlight=False,
    )


# --- near-duplicates --------------------------------------------------------------------


@app.command()
def clusters(
    cluster: Annotated[
        str | None,
        typer.Argument(help="A cluster or article id: list that story's articles.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Clusters to list.")] = 20,
    min_outlets: Annotated[int, typer.Option(help="Only stories run by at least this many domains.")] = 0,
    db: DbOption = None,
    fmt: FormatOption = None,
    wide: WideOption = False,
) -> None:
    """Stories that ran more than once: near-duplicate clusters across sources and runs.

    Example:  newsetl clusters --min-outlets 2   |   newsetl clusters 3f2a9c0d1e2b4a5f6c7d8e9f
    """
    try:
        with _read_session(db) as conn:
            if cluster is None:
                cur = conn.execute(
                    """SELECT cluster_id, articles, outlets, array_to_string(domains, ', ') AS domains,
                              CAST(first_published_at AS DATE) AS first_published, title
                       FROM story_clusters WHERE outlets >= ? LIMIT ?""",
                    [min_outlets, limit],
                )
            else:
                cur = conn.execute(
                    """SELECT m.article_id, m.is_first, round(m.similarity_to_first, 3) AS similarity,
                              m.domain, m.language, CAST(m.published_at AS DATE) AS published, m.title
                       FROM story_cluster_members AS m
                       WHERE m.cluster_id = coalesce(
                           (SELECT cluster_id FROM article_clusters WHERE article_id = $id), $id)
                       ORDER BY m.first_seen_at, m.article_id""",
                    {"id": cluster},
                )
            columns = [d[0] for d in cur.description or []]
            rows = cur.fetchall()
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    if cluster is not None and not rows:
        raise fail(f"{cluster} is not in a cluster with other articles")
    keys = ("cluster_id", "articles", "title") if cluster is None else ("article_id", "title")
    render_rows(columns, rows, fmt, 1000, wide=wide, keys=keys)


@app.command()
def relink(db: DbOption = None) -> None:
    """Recompute near-duplicate sketches, links and clusters for every article (maintenance).

    Needed after upgrading a warehouse that predates near-duplicate linking, or to split
    clusters whose articles were later rewritten.

    Example:  newsetl relink --db warehouse/news.duckdb
    """
    from newsetl.analysis import neardup

    try:
        report, n_clusters, run_id = neardup.relink_warehouse(store_for(db))
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    out.print(
        f"{report.articles} articles, {report.links} near-duplicate links, "
        f"{n_clusters} stories with 2+ articles "
        f"({report.seconds:.1f} s; run {run_id})",
        highlight=False,
    )


# --- history ------------------------------------------------------------------------------


@app.command()
def history(
    article: Annotated[
        str,
        typer.Argument(help="Article id (or a unique prefix of 4+ characters) or URL.", show_default=False),
    ],
    db: DbOption = None,
    diff: Annotated[bool, typer.Option("--diff/--no-diff", help="Show the text changes.")] = True,
) -> None:
    """An article's versions, what changed between them, and the inputs and runs behind it.

    Example:  newsetl history https://example.com/news/harbour-ferry --db warehouse/news.duckdb
    """
    from newsetl.analysis.history import article_history, resolve_article, why_unresolved

    try:
        with _read_session(db) as conn:
            article_id = resolve_article(conn, article)
            if article_id is None:
                raise fail(why_unresolved(conn, article))
            h = article_history(conn, article_id)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    versions = Table(title=f"article {h.article_id}", title_justify="left")
    for col in ("version", "written", "words", "run", "title"):
        versions.add_column(col, overflow="fold")
    for v in h.versions:
        label = f"{v.version}{' (current)' if v.is_current else ''}"
        versions.add_row(label, cell(v.written_at), str(v.word_count), v.run_id[:8], v.title or "")
    out.print(versions)
    for c in h.changes:
        head = f"v{c.from_version} → v{c.to_version} ({cell(c.changed_at)}): {c.word_delta:+d} words"
        if c.title_changed:
            head += f"; title {c.old_title!r} → {c.new_title!r}"
        head += f"; {len(c.added_paragraphs)} paragraph(s) added, {len(c.removed_paragraphs)} removed"
        out.print(head, highlight=False)
        if diff:
            for line in c.diff[2:]:
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                out.print(Text(line, style=style))
    lineage = Table(title="inputs (lineage)", title_justify="left")
    for col in ("seen", "outcome", "source", "run", "flow"):
        lineage.add_column(col, overflow="fold")
    for row in h.lineage:
        seen, run = cell(row["seen_at"]), row["run_id"][:8]
        lineage.add_row(seen, row["outcome"], row["source_ref"], run, row["flow"])
    out.print(lineage)


# --- export -------------------------------------------------------------------------------


@app.command("export")
def export_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory.", show_default=False)],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="parquet (date-partitioned), csv or jsonl.")
    ] = "parquet",
    since: Annotated[datetime | None, DateOption] = None,
    table: Annotated[
        list[str] | None,
        typer.Option(
            "--table", "-t", help="Table or view to export (repeatable) \\[default: the core tables]."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Write into a non-empty --out, replacing the exported tables' files.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Export tables and views from one consistent snapshot, with a manifest.json.

    Parquet is partitioned by UTC date, Hive style (articles/date=2024-05-01/data_0.parquet):
    readable by DuckDB, polars, pandas/pyarrow and Spark without newsetl.
    --since takes a date (YYYY-MM-DD).

    Example:  newsetl export --format parquet --out exports/ --since 2024-01-01 --table articles
    """
    from newsetl.analysis.export import export

    try:
        result = export(
            store_for(db),
            out_dir,
            fmt=fmt,
            tables=table or (),
            since=since.date() if since else None,
            overwrite=overwrite,
        )
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        raise fail(" ".join(str(exc).split())) from None
    listing = Table(title=f"export → {result.out_dir}", title_justify="left")
    listing.add_column("table")
    listing.add_column("rows", justify="right")
    listing.add_column("files")
    for t in result.tables:
        listing.add_row(t.name, str(t.rows), t.path)
    out.print(listing)
    out.print(f"snapshot {result.snapshot_at.isoformat()} · manifest {result.manifest}", highlight=False)
