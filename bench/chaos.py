"""Scripted chaos run: SIGKILL ingests again and again, feed them hostile inputs, then check
that nothing was lost or duplicated.

Usage:  python bench/chaos.py [--pages 80] [--fuzz-seed 7] [--random-kills 6] [--lake-rounds 6]
                             [--json out.json]

1. An inbox of real corpus pages, the seed article, and fuzzed copies of them (truncated,
   byte-flipped, re-encoded, tag soup, giant attributes, deep nesting, NUL bytes, gzip
   bombs, odd file names).
2. A clean reference run of the inbox into its own warehouse.
3. Chaos on a second warehouse: a run killed (SIGKILL) at every crash point of
   ``newsetl.pipeline.faults`` and at random moments, run after run on the same warehouse, then one
   run that is left to finish.
4. Two writers on one DuckLake (SQLite catalog): overlapping halves of the inbox ingested
   at the same time, both killed at crash points and random moments, round after round;
   then both finish. The lake must equal the clean run, with no duplicate article.
5. The same for feeds: a loopback server serves the corpus' real news feeds with entry links
   pointing at real corpus pages; feed ingests are killed inside their load transaction and
   at random moments, then a final poll completes.
6. Checks: the articles of each chaos warehouse equal the clean reference's (ids, texts,
   versions), every input file is in the final run's ledger exactly once (inputs lost = 0),
   no duplicate articles, and ``newsetl audit`` is green.

Prints the figures docs/reliability.md records. Not a test (tests/test_crash.py and
tests/test_fuzz.py are the tests); exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb

from newsetl.analysis.audit import run_audit
from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
from newsetl.storage.raw_archive import archive_root

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

FILES_RUN = """
import sys
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
if __name__ == "__main__":
    settings = Settings.from_env(db=sys.argv[1], workers=2, batch_size=9, max_file_bytes=5 * 2**20)
    ingest_files([sys.argv[2]], settings)
"""

FEEDS_RUN = """
import sys
from newsetl.settings import Settings
from newsetl.sources.feeds import ingest_feeds
if __name__ == "__main__":
    settings = Settings.from_env(db=sys.argv[1], workers=2, batch_size=8, min_host_delay_s=0.0,
                                 allow_private_hosts=True, respect_robots=False)
    ingest_feeds(sys.argv[2:], settings, all_feeds=True)
"""

ARTICLES = """SELECT article_id, content_hash, version, title, url, text FROM articles ORDER BY article_id"""
FILE_FAULTS = ["run.started:1", "extract.item:5", "load.before_commit:1", "load.after_commit:2",
               "extract.item:40", "load.before_commit:4", "load.after_commit:6"]  # fmt: skip
FEED_FAULTS = ["feeds.before_commit:1", "extract.item:3", "feeds.before_commit:2", "run.started:1"]


# --- inputs -------------------------------------------------------------------------------


def _mutations(rng: random.Random, data: bytes) -> list[tuple[str, bytes]]:
    text = data.decode("utf-8", errors="replace")
    flipped = bytearray(data)
    for _ in range(rng.randint(1, 300)):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    return [
        ("truncated", data[: rng.randrange(1, max(2, len(data)))]),
        ("byteflips", bytes(flipped)),
        ("utf16", text.encode("utf-16")),
        ("mislabelled", text.encode("cp1252", errors="replace").replace(b"utf-8", b"koi8-r")),
        ("tagsoup", text.replace("</p>", "").replace("<div", "<p><div").encode()),
        ("giant-attr", text.replace("<body", '<body data-x="' + "A" * MB + '"', 1).encode()),
        ("nul", data[: len(data) // 2] + b"\x00" * 64 + data[len(data) // 2 :]),
        ("gzip-cut", gzip.compress(data)[: rng.randrange(10, 300)]),
    ]


def build_inbox(corpus: Path, dest: Path, pages: int, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    dest.mkdir(parents=True)
    sources = sorted((corpus / "article-extraction-benchmark" / "html").glob("*.html.gz"))
    sources += sorted((corpus / "fundus").rglob("*.html.gz"))
    real = 0
    for p in sources[:pages]:
        shutil.copy2(p, dest / p.name)
        real += 1
    shutil.copy2(corpus / "seed" / "000_308f56fdb2bc4e5a.txt", dest / "seed.txt")
    real += 1
    fuzzed = 0
    for i, p in enumerate(sources[:12]):
        for name, data in _mutations(rng, gzip.decompress(p.read_bytes())):
            (dest / f"fuzz-{i:02d}-{name}.html").write_bytes(data)
            fuzzed += 1
    extra = {
        "fuzz-deep.html": b"<html><body>" + b"<div>" * 100_000 + b"x" + b"</div>" * 100_000,
        "fuzz-bomb.html.gz": gzip.compress(b"A" * (100 * MB)),
        "fuzz-line.txt": b"word " * (MB // 5),
        "fuzz-nul.txt": b"\x00" * 2048,
        "fuzz odd ✓ name.html": gzip.decompress(sources[0].read_bytes()),
        "fuzz-new\nline.html": gzip.decompress(sources[1].read_bytes()),
    }
    for name, data in extra.items():
        (dest / name).write_bytes(data)
        fuzzed += 1
    return real, fuzzed


# --- feeds served on loopback -------------------------------------------------------------


class _Site:
    def __init__(self, corpus: Path) -> None:
        self.pages = [
            gzip.decompress(p.read_bytes())
            for p in sorted((corpus / "article-extraction-benchmark" / "html").glob("*.html.gz"))
        ]
        self.feeds = {
            p.name: p.read_bytes()
            for p in sorted((corpus / "feeds" / "news").rglob("*"))
            if p.suffix in (".xml", ".rss", ".atom")
        }
        self.port = 0

    def feed(self, name: str) -> bytes:
        body = self.feeds[name]
        counter = iter(range(10**6))
        base = f"http://127.0.0.1:{self.port}".encode()

        def link(m: re.Match[bytes]) -> bytes:
            return m.group(1) + base + b"/page/%d" % (next(counter) % len(self.pages)) + m.group(3)

        body = re.sub(rb"(<link>)(\s*https?://[^<]+)(</link>)", link, body)
        return re.sub(rb"(<link[^>]*href=[\"'])(https?://[^\"']+)([\"'])", link, body)


def serve(site: _Site) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/feed/"):
                body, ctype = site.feed(self.path[6:]), "application/xml"
            elif self.path.startswith("/page/"):
                body, ctype = site.pages[int(self.path[6:])], "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- runs ---------------------------------------------------------------------------------


def run(script: Path, args: list[str], faults: str | None = None, kill_after: float | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "NEWSETL_FAULTS"}
    if faults:
        env["NEWSETL_FAULTS"] = faults
    log = script.with_suffix(".log").open("a")
    proc = subprocess.Popen(
        [sys.executable, str(script), *args], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    log.close()
    return proc.returncode


def snapshot(db: Path | str) -> list[tuple[Any, ...]]:
    with open_warehouse(Settings.from_env(db=str(db))).session(read_only=True) as conn:
        return conn.execute(ARTICLES).fetchall()


def run_pair(
    script: Path, db: str, inboxes: list[Path], faults: list[str | None], kill_after: float | None
) -> list[int]:
    """Two writers at once on one lake, each over its own inbox (the inboxes overlap)."""
    threads, codes = [], [0, 0]

    def one(i: int) -> None:
        codes[i] = run(script, [db, str(inboxes[i])], faults=faults[i], kill_after=kill_after)

    for i in range(2):
        threads.append(threading.Thread(target=one, args=(i,)))
        threads[-1].start()
    for t in threads:
        t.join()
    return codes


def lake_chaos(script: Path, db: str, inbox: Path, work: Path, ref: list[tuple[Any, ...]], horizon: float,
               rng: random.Random, rounds: int) -> dict[str, Any]:  # fmt: skip
    """Two writers with overlapping halves of the inbox, killed at crash points and random
    moments, round after round on the same lake; then both finish. The lake must end equal
    to a clean single-writer run, with no duplicate article and a green audit."""
    files = sorted(inbox.iterdir())
    halves = [work / "half-a", work / "half-b"]
    cut = len(files) // 3
    for half, part in zip(halves, (files[: 2 * cut], files[cut:]), strict=True):  # the middle third in both
        half.mkdir()
        for f in part:
            shutil.copy2(f, half / f.name)
    kills = 0
    for r in range(rounds):
        faults: list[str | None] = [rng.choice([*FILE_FAULTS, None]), rng.choice([*FILE_FAULTS, None])]
        codes = run_pair(script, db, halves, faults, rng.uniform(0.5, horizon))
        kills += sum(c == -signal.SIGKILL for c in codes)
        print(f"  round {r + 1}: faults {faults} -> exits {codes}", flush=True)
    codes = run_pair(script, db, halves, [None, None], None)
    if codes != [0, 0]:
        raise SystemExit(f"the final writers failed ({codes}); see {script.with_suffix('.log')}")
    settings = Settings.from_env(db=db)
    store = open_warehouse(settings)
    with store.session(read_only=True) as conn:
        dup = conn.execute("SELECT count(*) - count(DISTINCT article_id) FROM articles").fetchone()
        per_input = conn.execute(
            """SELECT coalesce(max(n), 0)
               FROM (SELECT run_id, source_ref, count(*) AS n FROM inputs GROUP BY ALL)"""
        ).fetchone()
        final = conn.execute(
            """SELECT DISTINCT source_ref FROM inputs WHERE run_id IN (
                   SELECT run_id FROM runs WHERE status = 'completed' ORDER BY started_at DESC LIMIT 2)"""
        ).fetchall()
    wanted = {str(h / f.name) for h in halves for f in files if (h / f.name).exists()}
    lost = sorted(wanted - {r[0] for r in final})
    audit = run_audit(store, archive_root(settings))
    # The two halves hold copies under other paths, and a page without a canonical URL is
    # identified by its path: compare the texts stored (content hashes, titles), not ids.
    got = sorted((str(r[1]), str(r[3])) for r in snapshot(db))
    want = sorted((str(r[1]), str(r[3])) for r in ref)
    same = got == want
    if not same:
        extra, missing = sorted(set(got) - set(want))[:5], sorted(set(want) - set(got))[:5]
        print(f"  lake differs: {len(got)} vs {len(want)} articles; extra {extra}; missing {missing}")
    return {"writers": 2, "rounds": rounds, "kills_survived": kills, "inputs": len(wanted),
            "inputs_lost": len(lost), "articles_equal_clean_run": same,
            "duplicate_articles": int(dup[0]) if dup else -1,
            "max_ledger_rows_per_input_and_run": int(per_input[0]) if per_input else -1,
            "audit_ok": audit.ok}  # fmt: skip


def chaos_rounds(script: Path, db: Path, args: list[str], faults: list[str], randoms: int, horizon: float,
                 rng: random.Random) -> tuple[int, float]:  # fmt: skip
    kills, t0 = 0, time.perf_counter()
    # Random moments first, while there is still work to interrupt; then every crash point.
    for _ in range(randoms):
        delay = rng.uniform(0.5, horizon * 0.8)
        code = run(script, [str(db), *args], kill_after=delay)
        kills += code == -signal.SIGKILL
        print(f"  kill after {delay:5.1f} s{'':11s} -> exit {code}", flush=True)
    for fault in faults:
        code = run(script, [str(db), *args], faults=fault)
        kills += code == -signal.SIGKILL
        print(f"  kill at {fault:24s} -> exit {code}", flush=True)
    code = run(script, [str(db), *args])
    if code != 0:
        raise SystemExit(f"the final run failed (exit {code}); see {script.with_suffix('.log')}")
    return kills, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=80)
    ap.add_argument("--fuzz-seed", type=int, default=7)
    ap.add_argument("--random-kills", type=int, default=6)
    ap.add_argument("--lake-rounds", type=int, default=6, help="rounds of two killed writers on one lake")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rng = random.Random(args.fuzz_seed)
    work = Path(tempfile.mkdtemp(prefix="newsetl-chaos-"))
    failures: list[str] = []
    figures: dict[str, Any] = {}
    try:
        inbox = work / "inbox"
        real, fuzzed = build_inbox(args.corpus.resolve(), inbox, args.pages, args.fuzz_seed)
        n_inputs = len(list(inbox.iterdir()))
        files_script = work / "files.py"
        files_script.write_text(FILES_RUN)
        print(f"inbox: {real} real inputs, {fuzzed} fuzzed", flush=True)
        ref = work / "ref.duckdb"
        t0 = time.perf_counter()
        assert run(files_script, [str(ref), str(inbox)]) == 0
        clean_s = time.perf_counter() - t0
        chaos = work / "chaos.duckdb"
        print("files: chaos rounds", flush=True)
        kills, _ = chaos_rounds(
            files_script, chaos, [str(inbox)], FILE_FAULTS, args.random_kills, clean_s, rng
        )
        with duckdb.connect(str(chaos), read_only=True) as conn:
            last = conn.execute(
                "SELECT run_id FROM runs WHERE status = 'completed' ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
            ledger = (
                {
                    r[0]
                    for r in conn.execute(
                        "SELECT source_ref FROM inputs WHERE run_id = ?", [last[0]]
                    ).fetchall()
                }
                if last
                else set()
            )
            statuses = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY 1").fetchall())
        lost = sorted(str(p) for p in inbox.iterdir() if str(p) not in ledger)
        same = snapshot(chaos) == snapshot(ref)
        audit = run_audit(open_warehouse(Settings.make(db=chaos)), archive_root(Settings.make(db=chaos)))
        figures["files"] = {"inputs": n_inputs, "inputs_fuzzed": fuzzed, "kills_survived": kills,
                            "inputs_lost": len(lost), "articles_equal_clean_run": same,
                            "runs_by_status": statuses, "audit_ok": audit.ok}  # fmt: skip
        if lost or not same or not audit.ok:
            failures.append(
                f"files: lost={lost[:3]} same={same} audit={[f.check for f in audit.findings if not f.ok]}"
            )

        print("lake: two writers, chaos rounds", flush=True)
        lake_db = f"ducklake:sqlite:{work / 'lake' / 'catalog.sqlite'}"
        figures["lake"] = lake_chaos(
            files_script, lake_db, inbox, work, snapshot(ref), clean_s, rng, args.lake_rounds
        )
        lk = figures["lake"]
        if not (lk["articles_equal_clean_run"] and lk["duplicate_articles"] == 0 and lk["audit_ok"]
                and lk["inputs_lost"] == 0
                and lk["max_ledger_rows_per_input_and_run"] == 1):  # fmt: skip
            failures.append(f"lake: {lk}")

        print("feeds: chaos rounds", flush=True)
        site = _Site(args.corpus.resolve())
        server = serve(site)
        urls = [f"http://127.0.0.1:{site.port}/feed/{name}" for name in site.feeds]
        feeds_script = work / "feeds.py"
        feeds_script.write_text(FEEDS_RUN)
        feed_ref = work / "feeds-ref.duckdb"
        t0 = time.perf_counter()
        assert run(feeds_script, [str(feed_ref), *urls]) == 0
        feed_clean_s = time.perf_counter() - t0
        ref_snapshot = snapshot(feed_ref)
        with duckdb.connect(str(feed_ref), read_only=True) as conn:
            ref_entries = conn.execute("SELECT count(*) FROM feed_entries").fetchone()
        # A feed poll is short and the next one has little left to do, so every crash point
        # gets a fresh warehouse: killed there, then polled again to completion.
        plans: list[tuple[str | None, float | None]] = [(f, None) for f in FEED_FAULTS]
        plans += [(None, rng.uniform(0.3, feed_clean_s * 0.8)) for _ in range(max(1, args.random_kills // 2))]
        fkills, fbad = 0, []
        missing_total = 0
        for i, (fault, delay) in enumerate(plans):
            db = work / f"feeds-chaos-{i}.duckdb"
            code = run(feeds_script, [str(db), *urls], faults=fault, kill_after=delay)
            fkills += code == -signal.SIGKILL
            label = f"at {fault}" if fault else f"after {delay:.1f} s"
            print(f"  kill {label:30s} -> exit {code}", flush=True)
            if run(feeds_script, [str(db), *urls]) != 0:
                fbad.append(f"{label}: the following poll failed")
                continue
            with duckdb.connect(str(db), read_only=True) as conn:
                entries = conn.execute("SELECT count(*) FROM feed_entries").fetchone()
                missing = conn.execute(
                    """SELECT count(*) FROM feed_entries e WHERE NOT EXISTS (
                           SELECT 1 FROM inputs i WHERE i.parent_ref = e.feed
                           AND i.source_ref IN (e.link, e.guid, e.entry_key))"""
                ).fetchone()
            missing_total += missing[0] if missing else 0
            audit = run_audit(open_warehouse(Settings.make(db=db)), archive_root(Settings.make(db=db)))
            if snapshot(db) != ref_snapshot or entries != ref_entries or not audit.ok:
                fbad.append(f"{label}: entries {entries}/{ref_entries}, audit {audit.ok}")
        server.shutdown()
        figures["feeds"] = {
            "feeds": len(urls),
            "entries_per_clean_run": ref_entries[0] if ref_entries else 0,
            "kills_survived": fkills,
            "entries_without_ledger_row": missing_total,
            "warehouses_equal_to_clean_run": len(plans) - len(fbad),
            "warehouses_checked": len(plans),
        }
        failures.extend(f"feeds: {b}" for b in fbad)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
