"""An article's history: every stored version, what changed between them, and where each
came from. Reads the ``article_history`` / ``article_changes`` / ``article_lineage`` views,
so the CLI shows exactly what SQL users see."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from newsetl.web.urls import normalize_url


@dataclass(slots=True)
class Version:
    version: int
    is_current: bool
    content_hash: str
    title: str | None
    url: str | None
    word_count: int | None
    source_ref: str | None
    run_id: str
    written_at: datetime
    superseded_at: datetime | None


@dataclass(slots=True)
class Change:
    from_version: int
    to_version: int
    changed_at: datetime
    run_id: str
    title_changed: bool
    old_title: str | None
    new_title: str | None
    word_delta: int | None
    added_paragraphs: list[str]
    removed_paragraphs: list[str]
    diff: list[str] = field(default_factory=list)  # unified diff, one paragraph per line


@dataclass(slots=True)
class History:
    article_id: str
    versions: list[Version]
    changes: list[Change]
    lineage: list[dict[str, Any]]


MIN_PREFIX = 4  # like git: shorter prefixes match too much to be worth it


def resolve_article(conn: duckdb.DuckDBPyConnection, ref: str) -> str | None:
    """An article id from an id, a unique id prefix (at least :data:`MIN_PREFIX` characters)
    or a URL; None when nothing (or more than one article) matches: :func:`why_unresolved`."""
    row = conn.execute("SELECT article_id FROM articles WHERE article_id = ?", [ref]).fetchone()
    if row:
        return str(row[0])
    if "://" in ref:
        url = normalize_url(ref)
        row = conn.execute(
            "SELECT article_id FROM articles WHERE url = ? OR url = ? ORDER BY first_seen_at LIMIT 1",
            [url, ref],
        ).fetchone()
        return str(row[0]) if row else None
    matches = _prefix_matches(conn, ref)
    return matches[0] if len(matches) == 1 else None


def _prefix_matches(conn: duckdb.DuckDBPyConnection, ref: str, limit: int = 2) -> list[str]:
    if len(ref) < MIN_PREFIX:
        return []
    rows = conn.execute(
        "SELECT article_id FROM articles WHERE starts_with(article_id, ?) ORDER BY article_id LIMIT ?",
        [ref.lower(), limit],
    ).fetchall()
    return [str(r[0]) for r in rows]


def why_unresolved(conn: duckdb.DuckDBPyConnection, ref: str) -> str:
    """Why :func:`resolve_article` found nothing for ``ref``, in words for the user."""
    if "://" in ref:
        return f"no article matches {ref!r}: no article has that URL"
    if len(ref) < MIN_PREFIX:
        return f"no article matches {ref!r}: an id prefix needs at least {MIN_PREFIX} characters"
    matches = _prefix_matches(conn, ref, limit=6)
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        return f"{ref!r} matches more than one article ({shown}): give more characters"
    return f"no article matches {ref!r}: no article id starts with it"


def article_history(conn: duckdb.DuckDBPyConnection, article_id: str, *, context: int = 1) -> History:
    versions = [
        Version(*r)
        for r in conn.execute(
            """SELECT version, is_current, content_hash, title, url, word_count, source_ref, run_id,
                      written_at, superseded_at
               FROM article_history WHERE article_id = ? ORDER BY version""",
            [article_id],
        ).fetchall()
    ]
    texts = dict(
        conn.execute(
            "SELECT version, text FROM article_history WHERE article_id = ?", [article_id]
        ).fetchall()
    )
    changes = []
    for r in conn.execute(
        """SELECT from_version, to_version, changed_at, run_id, title_changed, old_title, new_title,
                  word_delta, added_paragraphs, removed_paragraphs
           FROM article_changes WHERE article_id = ? ORDER BY to_version""",
        [article_id],
    ).fetchall():
        change = Change(*r)
        before = str(texts.get(change.from_version, "")).split("\n")
        after = str(texts.get(change.to_version, "")).split("\n")
        change.diff = list(
            difflib.unified_diff(
                before,
                after,
                f"version {change.from_version}",
                f"version {change.to_version}",
                n=context,
                lineterm="",
            )
        )
        changes.append(change)
    cur = conn.execute(
        """SELECT seen_at, outcome, source_ref, parent_ref, run_id, flow, run_status
           FROM article_lineage WHERE article_id = ? ORDER BY seen_at""",
        [article_id],
    )
    cols = [d[0] for d in cur.description or []]
    lineage = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    return History(article_id, versions, changes, lineage)
