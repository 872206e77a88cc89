"""Near-duplicate linking: the same story with other boilerplate, an edited headline, a
paragraph more or less, or from another outlet is linked to the article it repeats.

Fingerprint: a bottom-k MinHash sketch (the k smallest 64-bit hashes) of each text's word
3-shingles. The sketch estimates the Jaccard similarity of two texts' shingle sets without
the texts; its values double as an inverted index, so finding candidates for a batch is one
hash join against ``article_sketches`` instead of a comparison with every stored article
(each value indexed for its first MAX_POSTINGS articles only, so the join stays bounded
however often a story is copied).
bench/neardup.py measures the threshold (precision/recall on constructed pairs) and the
per-batch cost; docs/warehouse.md reports the numbers.

Why not trafilatura's SimHash (``articles.simhash``): it hashes a length-dependent sample of
tokens, so a three-word edit in a short text can move it by 30+ bits, and its scores for
unrelated articles overlap those of edited copies (see the bench). Why not datasketch's
MinHash + LSH: its k-permutation MinHash costs ~1.3 ms per article in the single loader
process (about twice this sketch) and would need a separate LSH band table; a bottom-k
sketch has the same estimator quality at k=128 and its values are their own index.

Clusters are connected components of the edges; ``cluster_id`` is the ``article_id`` of the
component's first-seen member (ties: smallest id), kept incrementally by merging as
articles arrive. :func:`relink_all` recomputes everything from scratch (after a threshold
change, or to split clusters whose articles were later rewritten).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import polars as pl

from newsetl.pipeline.fingerprint import (
    SHINGLE_WORDS,
    K,
    Sketch,
    n_shingles,
    shingle_hashes,
    similarities,
    similarity,
    sketch,
)
from newsetl.storage.base import Warehouse
from newsetl.storage.frames import read_frame, temp_table
from newsetl.storage.sqllists import text_list
from newsetl.storage.writes import upsert

# Estimated Jaccard similarity at or above which two texts are near-duplicates. Measured by
# bench/neardup.py on the corpus: 1,975 of 1,981 constructed near-duplicates score >= 0.3
# (precision 1.0, recall 0.997); different articles on the same topic or from the same
# outlet score <= 0.13, unrelated ones <= 0.03.
THRESHOLD = 0.3
MIN_SHINGLES = 20  # shorter texts carry too little evidence to link
# A pair becomes a candidate when its sketches share at least this fraction of the new
# article's sketch values. Jaccard J >= THRESHOLD implies E[shared] >= k*2J/(1+J) (0.46k at
# 0.3; exactly >= J*k for texts shorter than k shingles); half of that leaves room for the
# estimate's noise while dropping pairs that only share stock phrases ("one of the").
MIN_SHARED_FRACTION = 0.5 * 2 * THRESHOLD / (1 + THRESHOLD)
MAX_LINKS = 20  # edges kept per article (its most similar earlier articles)
# Candidates scored per article, most shared sketch values first: bounds the work for a text
# made of phrases that many stored articles share.
MAX_CANDIDATES = 50
# Stored articles indexed per sketch value. A story copied a hundred times would otherwise put
# a hundred rows behind each of its values, and the candidate join of every later copy (and
# the loader's memory) would grow with the copies: a value already behind this many stored
# articles is not indexed again. A later copy still finds the earlier ones (they hold the
# values) and links to up to MAX_LINKS of them, so clusters are the same; only the postings
# of copies past the first MAX_POSTINGS are left out, as are those of stock phrases.
MAX_POSTINGS = MAX_LINKS
METHOD = f"minhash-bottom{K}-w{SHINGLE_WORDS}"
_CLUSTER_SCHEMA = {"article_id": pl.Utf8, "cluster_id": pl.Utf8, "updated_at": pl.Datetime("us", "UTC")}

__all__ = [
    "METHOD",
    "THRESHOLD",
    "K",
    "Sketch",
    "link_articles",
    "n_shingles",
    "relink_all",
    "shingle_hashes",
    "similarities",
    "similarity",
    "sketch",
]


def _score_pairs(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, float]]:
    """Similarity of every candidate pair in ``_nd_pairs`` (a temp table of ``a``, ``b``)."""
    pairs = conn.execute("SELECT a, b FROM _nd_pairs").fetchall()
    if not pairs:
        return []
    # One row per article, read by key (article_sketch_lists), not k rows each gathered
    # from the inverted index: the read no longer grows with the warehouse.
    frame = read_frame(
        conn,
        """SELECT article_id, hs FROM article_sketch_lists
           WHERE article_id IN (SELECT a FROM _nd_pairs UNION SELECT b FROM _nd_pairs)""",
    )
    flat = frame["hs"].explode().to_numpy().astype(np.uint64, copy=False)
    ends = np.cumsum(frame["hs"].list.len().to_numpy())
    starts = ends - frame["hs"].list.len().to_numpy()
    sketches = {aid: flat[s:e] for aid, s, e in zip(frame["article_id"].to_list(), starts, ends, strict=True)}
    # Pairs of full sketches (nearly all) are scored together; the rest one by one.
    full = [aid for aid, sk in sketches.items() if len(sk) == K]
    row = {aid: i for i, aid in enumerate(full)}
    together = [i for i, (a, b) in enumerate(pairs) if a in row and b in row]
    scores = [0.0] * len(pairs)
    if together:
        matrix = np.stack([sketches[aid] for aid in full])
        left = np.array([row[pairs[i][0]] for i in together], dtype=np.intp)
        right = np.array([row[pairs[i][1]] for i in together], dtype=np.intp)
        for i, sim in zip(together, similarities(matrix, left, right).tolist(), strict=True):
            scores[i] = sim
    empty = np.empty(0, dtype=np.uint64)
    for i, (a, b) in enumerate(pairs):
        if a not in row or b not in row:
            scores[i] = similarity(sketches.get(a, empty), sketches.get(b, empty))
    return [(a, b, sim) for (a, b), sim in zip(pairs, scores, strict=True)]


@dataclass(slots=True)
class LinkReport:
    """What one call to :func:`link_articles` did (returned for benchmarks and logs)."""

    articles: int = 0
    sketched: int = 0
    candidates: int = 0
    links: int = 0
    merged_clusters: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Doc:
    article_id: str
    first_seen_at: datetime
    sketch: Sketch
    is_update: bool


def _docs(rows: Iterable[Mapping[str, Any]], now: datetime) -> list[_Doc]:
    docs: dict[str, _Doc] = {}
    for r in rows:
        # A row may carry a precomputed sketch (e.g. from the extraction workers).
        given = r.get("sketch")
        sk = np.asarray(given, dtype=np.uint64) if given is not None else sketch(str(r["text"]))
        docs[str(r["article_id"])] = _Doc(
            str(r["article_id"]),
            r.get("first_seen_at") or now,
            sk,
            int(r.get("version") or 1) > 1,
        )
    return list(docs.values())


def link_articles(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    now: datetime,
    rows: Iterable[Mapping[str, Any]],
    *,
    max_postings: int = MAX_POSTINGS,
) -> LinkReport:
    """Link freshly written articles to the near-duplicates already stored (and to each other).

    ``rows`` are article rows as written to ``articles`` (``article_id``, ``text``,
    ``version``, ``first_seen_at``). Runs inside the caller's load transaction; it never
    manages one. Updated articles get a new sketch and new outgoing links.
    """
    started = time.perf_counter()
    t = started
    report = LinkReport()

    def lap(name: str) -> None:
        nonlocal t
        now_t = time.perf_counter()
        report.timings[name] = report.timings.get(name, 0.0) + now_t - t
        t = now_t

    docs = _docs(rows, now)
    report.articles = len(docs)
    if not docs:
        return report
    lap("sketch")
    updated = [d.article_id for d in docs if d.is_update]
    if updated:
        for table in ("article_sketches", "article_sketch_lists"):
            conn.execute(
                f"DELETE FROM {table} WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))",
                {"ids": text_list(updated)},
            )
        conn.execute(
            "DELETE FROM near_duplicates WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))",
            {"ids": text_list(updated)},
        )
    linkable = [d for d in docs if len(d.sketch) >= MIN_SHINGLES]
    report.sketched = len(linkable)
    matches: dict[str, list[tuple[float, str]]] = {}
    if linkable:
        position = {d.article_id: i for i, d in enumerate(linkable)}
        batch = pl.DataFrame(
            {
                "article_id": [d.article_id for d in linkable for _ in range(len(d.sketch))],
                "h": np.concatenate([d.sketch for d in linkable]),
            },
            schema={"article_id": pl.Utf8, "h": pl.UInt64},
        )
        need = pl.DataFrame(
            {
                "article_id": list(position),
                "need": [max(3, int(MIN_SHARED_FRACTION * len(d.sketch))) for d in linkable],
                "pos": list(position.values()),
            },
            schema={"article_id": pl.Utf8, "need": pl.Int64, "pos": pl.Int64},
        )
        lists = pl.DataFrame(
            {"article_id": list(position), "hs": [np.sort(d.sketch).tolist() for d in linkable]},
            schema={"article_id": pl.Utf8, "hs": pl.List(pl.UInt64)},
        )
        _append(conn, "article_sketch_lists", lists)
        with temp_table(conn, batch, "_nd_batch"), temp_table(conn, need, "_nd_need"):
            try:
                _index_sketches(conn, max_postings)
                lap("write-sketches")
                # Candidates: one hash join on sketch values, against stored articles and the
                # batch's earlier articles (a later article links to an earlier one).
                conn.execute(
                    """CREATE OR REPLACE TEMP TABLE _nd_pairs AS
                       SELECT c.a, c.b FROM (
                           SELECT x.article_id AS a, s.article_id AS b, count(*) AS shared
                           FROM _nd_batch AS x JOIN article_sketches AS s ON s.h = x.h
                           WHERE s.article_id <> x.article_id
                           GROUP BY x.article_id, s.article_id
                       ) AS c
                       JOIN _nd_need AS n ON n.article_id = c.a
                       LEFT JOIN _nd_need AS o ON o.article_id = c.b
                       WHERE c.shared >= n.need AND (o.pos IS NULL OR o.pos < n.pos)
                       QUALIFY row_number() OVER (PARTITION BY c.a ORDER BY c.shared DESC, c.b) <= $max""",
                    {"max": MAX_CANDIDATES},
                )
                lap("candidates")
                # Bottom-k estimate per pair, in numpy over the pairs' sketches: one row per
                # article, not one per (pair, value), so memory is bounded by the number of
                # distinct articles involved even when a syndicated story has 50 candidates.
                scored = _score_pairs(conn)
                report.candidates = len(scored)
            finally:
                # After a failed statement the transaction is aborted (and rolls the table
                # back): a DROP there would fail and hide the error that matters.
                with contextlib.suppress(duckdb.Error):
                    conn.execute("DROP TABLE IF EXISTS _nd_pairs")
        for a, b, sim in scored:
            if sim >= THRESHOLD:
                matches.setdefault(a, []).append((round(float(sim), 4), b))
    lap("score")
    edges = []
    for aid, found in matches.items():
        found.sort(key=lambda m: (-m[0], m[1]))
        for sim, other in found[:MAX_LINKS]:
            edges.append({"article_id": aid, "duplicate_of": other, "similarity": sim})
    report.links = len(edges)
    if edges:
        edge_frame = pl.DataFrame(edges, schema={"article_id": pl.Utf8, "duplicate_of": pl.Utf8,
                                                 "similarity": pl.Float64})  # fmt: skip
        edge_frame = edge_frame.with_columns(
            pl.lit(METHOD).alias("method"),
            pl.lit(run_id).alias("run_id"),
            pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("linked_at"),
        )
        _append(conn, "near_duplicates", edge_frame)
    report.merged_clusters = _assign_clusters(conn, docs, matches, now)
    lap("write")
    report.seconds = time.perf_counter() - started
    return report


def _index_sketches(conn: duckdb.DuckDBPyConnection, max_postings: int) -> None:
    """The batch's sketch values into the inverted index, but for values already behind
    ``max_postings`` stored articles (see MAX_POSTINGS)."""
    conn.execute(
        """INSERT INTO article_sketches (article_id, h)
           SELECT x.article_id, x.h FROM _nd_batch AS x
           LEFT JOIN (SELECT s.h, count(*) AS n FROM article_sketches AS s
                      WHERE s.h IN (SELECT h FROM _nd_batch) GROUP BY s.h) AS c ON c.h = x.h
           WHERE coalesce(c.n, 0) < $cap""",
        {"cap": max_postings},
    )


def _append(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    with temp_table(conn, frame, f"_nd_{table}") as view:
        conn.execute(f"INSERT INTO {table} ({', '.join(frame.columns)}) SELECT * FROM {view}")


def _assign_clusters(
    conn: duckdb.DuckDBPyConnection,
    docs: Sequence[_Doc],
    matches: Mapping[str, list[tuple[float, str]]],
    now: datetime,
) -> int:
    """Union the batch's articles with the clusters of what they matched; returns merges."""
    batch_ids = [d.article_id for d in docs]
    others = sorted({o for found in matches.values() for _, o in found} - set(batch_ids))
    current: dict[str, str] = {}
    lookup = sorted(set(batch_ids) | set(others))
    for aid, cid in conn.execute(
        "SELECT article_id, cluster_id FROM article_clusters "
        "WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))",
        {"ids": text_list(lookup)},
    ).fetchall():
        current[aid] = cid
    # Union-find over cluster ids (an article without a cluster row is its own cluster).
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    for d in docs:
        find(current.get(d.article_id, d.article_id))
        for _, other in matches.get(d.article_id, []):
            union(current.get(d.article_id, d.article_id), current.get(other, other))
    roots = sorted(parent)
    first_seen: dict[str, datetime] = {d.article_id: d.first_seen_at for d in docs}
    missing = [r for r in roots if r not in first_seen]
    if missing:
        for aid, seen_at in conn.execute(
            "SELECT article_id, first_seen_at FROM articles "
            "WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))",
            {"ids": text_list(missing)},
        ).fetchall():
            first_seen[aid] = seen_at
    far_future = datetime.max.replace(tzinfo=UTC)
    components: dict[str, list[str]] = {}
    for cid in roots:
        components.setdefault(find(cid), []).append(cid)
    new_id: dict[str, str] = {}
    for members in components.values():
        best = min(members, key=lambda c: (first_seen.get(c, far_future), c))
        for c in members:
            new_id[c] = best
    stored = set(current.values())  # clusters with rows to move (others are batch singletons)
    merges = [{"old": c, "new": n} for c, n in new_id.items() if c != n and c in stored]
    if merges:
        frame = pl.DataFrame(merges, schema={"old": pl.Utf8, "new": pl.Utf8})
        with temp_table(conn, frame, "_nd_merge"):
            conn.execute(
                """UPDATE article_clusters SET cluster_id = m.new, updated_at = $now
                   FROM _nd_merge AS m WHERE article_clusters.cluster_id = m.old""",
                {"now": now},
            )
    rows = []
    for d in docs:
        cid = new_id[find(current.get(d.article_id, d.article_id))]
        if current.get(d.article_id) != cid:
            rows.append({"article_id": d.article_id, "cluster_id": cid})
    if rows:
        upsert(
            conn,
            "article_clusters",
            [{**r, "updated_at": now} for r in rows],
            _CLUSTER_SCHEMA,
            ["article_id"],
        )
    return len(merges)


def relink_all(
    conn: duckdb.DuckDBPyConnection, run_id: str, *, batch_size: int = 500, now: datetime | None = None
) -> LinkReport:
    """Recompute sketches, edges and clusters for every article, oldest first.

    The same algorithm as the load path, replayed in first-seen order, so the result equals
    what incremental linking gives when articles arrive in that order. Runs in the
    caller's transaction.
    """
    now = now or datetime.now(UTC)
    total = LinkReport()
    started = time.perf_counter()
    conn.execute("DELETE FROM near_duplicates")
    conn.execute("DELETE FROM article_clusters")
    conn.execute("DELETE FROM article_sketches")
    conn.execute("DELETE FROM article_sketch_lists")
    ids = [
        r[0]
        for r in conn.execute("SELECT article_id FROM articles ORDER BY first_seen_at, article_id").fetchall()
    ]
    for i in range(0, len(ids), batch_size):
        chunk = ids[i : i + batch_size]
        cur = conn.execute(
            """SELECT article_id, text, 1 AS version, first_seen_at FROM articles
               WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))
               ORDER BY first_seen_at, article_id""",
            {"ids": text_list(chunk)},
        )
        cols = [d[0] for d in cur.description or []]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        part = link_articles(conn, run_id, now, rows)
        total.articles += part.articles
        total.sketched += part.sketched
        total.candidates += part.candidates
        total.links += part.links
        total.merged_clusters += part.merged_clusters
    total.seconds = time.perf_counter() - started
    return total


def relink_warehouse(store: Warehouse, *, run_id: str | None = None) -> tuple[LinkReport, int, str]:
    """Recompute every link and cluster as a run of its own ('relink' in ``runs``):
    (what was linked, stories with 2+ articles, the run id)."""
    import uuid

    from newsetl.storage import runs

    run_id = run_id or str(uuid.uuid4())
    store.ensure_schema()
    store.write(
        lambda conn: runs.start_run(conn, run_id, "relink", {"method": METHOD, "threshold": THRESHOLD})
    )
    try:
        report = store.write(lambda conn: relink_all(conn, run_id))
    except BaseException as exc:
        runs.record_failure(
            lambda **kw: store.write(lambda conn: runs.finish_run(conn, run_id, **kw)), run_id, exc
        )
        raise
    store.write(lambda conn: runs.finish_run(conn, run_id))
    with store.session(read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM story_clusters").fetchone()
    return report, int(row[0]) if row else 0, run_id
