"""Feeds benchmark: N feeds on a loopback server, polled (a) when unchanged (all 304) and
(b) when each has E new entries whose pages must be fetched, extracted and loaded.

Usage:  python bench/feeds_bench.py [--feeds 500] [--entries 10] [--workers 2] [--hosts 500]
                                    [--per-host 2] [--corpus ../shared/corpus] [--db /tmp/feeds-bench.duckdb]
        python bench/feeds_bench.py --shapes --feeds 10000   # unchanged polls, both shapes

``--shapes``: the unchanged (all-304) poll of --feeds feeds in the two shapes a team has, one
after the other on one server: many hosts (one host name per feed, 2 requests per host at a
time) and a few hosts with many feeds each (4 host names, 16 requests per host at a time).
Prints seconds per feed, CPU seconds of this process (less noisy than wall time on a shared
machine) and the warehouse transactions of the poll (a count that must not grow per feed).

The server runs in its own process (so it does not compete with the client for the GIL).
Each feed gets its own host name (``feed<i>.bench.test``, resolved to 127.0.0.1 by an
injected resolver) as on the real web, where feeds live on many hosts; ``--hosts 1`` puts
them all on one host (then the per-host limit of 2 concurrent requests applies to all).
No per-host delay (loopback). Pages are the article-extraction-benchmark pages, each copy
made unique so dedup does not skip it. Library calls, no Prefect: the flow adds its own
start-up (seconds, see README) but no per-feed cost (one task per batch).
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from newsetl.settings import Settings
from newsetl.sources.feeds import ingest_feeds

ROOT = Path(__file__).resolve().parents[1]


def _pages(corpus: Path) -> list[bytes]:
    html = []
    for p in sorted((corpus / "article-extraction-benchmark" / "html").glob("*.html.gz")):
        page = gzip.decompress(p.read_bytes())
        # Drop the declared canonical URL so each copy is its own article (identity = its URL).
        page = re.sub(rb"<link[^>]+rel=[\"']?canonical[^>]*>", b"", page, flags=re.I)
        page = re.sub(rb"<meta[^>]+og:url[^>]*>", b"", page, flags=re.I)
        html.append(page)
    return html


def _feed(i: int, entries: int, port: int, hosts: int, version: int) -> bytes:
    host = f"feed{i % hosts}.bench.test:{port}"
    items = "".join(
        f"<item><title>Feed {i} story {version}-{j}</title><link>http://{host}/p/{i}/{version}/{j}</link>"
        f'<guid isPermaLink="false">f{i}-v{version}-{j}</guid></item>'
        for j in range(entries)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {i}</title>'
        f"<link>http://{host}/</link><description>bench</description>{items}</channel></rss>"
    ).encode()


def serve(port_out: Any, corpus: str, n_feeds: int, hosts: int, state: Any) -> None:
    """The server process: feeds change version when ``state.value`` changes."""
    pages = _pages(Path(corpus))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            version, entries = divmod(state.value, 1000)
            parts = self.path.strip("/").split("/")
            if parts[0] == "feed":
                i = int(parts[1].split(".")[0])
                etag = f'"{i}-{version}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                body = _feed(i, entries, self.server.server_address[1], hosts, version)
                self._send(200, body, "application/rss+xml", etag)
            elif parts[0] == "p":
                i, v, j = (int(x) for x in parts[1:4])
                page = pages[(i * 7 + j) % len(pages)]
                # Every paragraph names the copy, so each copy's text (and hash) is its own.
                mark = f"[{i}-{v}-{j}] ".encode()
                body = re.sub(rb"(<p(?:\s[^>]*)?>)", lambda m: m.group(1) + mark, page)
                self._send(200, body, "text/html; charset=utf-8")
            else:
                self._send(404, b"not found", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str, etag: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # clients closing idle keep-alive connections

    srv = Server(("127.0.0.1", 0), Handler)
    port_out.put(srv.server_address[1])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    threading.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--entries", type=int, default=10, help="new entries per feed in phase (b); 0 skips it")
    ap.add_argument("--entry-feeds", type=int, default=None, help="feeds that get new entries [default: all]")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--hosts", type=int, default=None, help="distinct host names [default: one per feed]")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--per-host", type=int, default=None, help="requests per host at a time [default 2]")
    ap.add_argument("--shapes", action="store_true", help="unchanged polls: many hosts, then a few hosts")
    args = ap.parse_args()
    hosts = args.hosts or args.feeds
    ctx = multiprocessing.get_context("fork")
    state = ctx.Value("i", 0)  # version * 1000 + entries per feed
    ports = ctx.Queue()
    server = ctx.Process(target=serve, args=(ports, str(args.corpus), args.feeds, hosts, state), daemon=True)
    server.start()
    port = ports.get(timeout=60)
    db = args.db or Path(tempfile.mkdtemp()) / "feeds-bench.duckdb"
    settings = Settings.from_env(
        db=db, workers=args.workers, min_host_delay_s=0.0, per_host_concurrency=args.per_host
    )

    def resolver(host: str, port_: int) -> list[str]:
        if host.endswith(".bench.test"):
            return ["127.0.0.1"]
        raise OSError(f"unknown host {host}")

    urls = [f"http://feed{i % hosts}.bench.test:{port}/feed/{i}.xml" for i in range(args.feeds)]
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}; db {db}")
    print(f"{args.feeds} feeds on {hosts} host name(s), loopback; workers {settings.workers}")

    if args.shapes:
        _shapes(args.feeds, port, db.parent, settings, resolver)
        server.terminate()
        return

    def timed(label: str, feed_urls: list[str]) -> float:
        started = time.perf_counter()
        summary, stats = ingest_feeds(feed_urls, settings, resolver=resolver)
        seconds = time.perf_counter() - started
        rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        print(
            f"{label:<42} {seconds:7.2f} s   flow {summary.seconds:6.2f} s   feeds {stats.feeds}, "
            f"304 {stats.not_modified}, new entries {stats.new_entries}, pages {stats.pages_fetched}, "
            f"outcomes {dict((k, v) for k, v in summary.report.counts.items() if v)}; RSS {rss:.0f} MB"
        )
        return seconds

    timed("register + first poll (empty feeds)", urls)
    t304 = timed("second poll: all unchanged (304)", urls)
    if args.entries:
        state.value = 1000 + args.entries
        chosen = urls[: args.entry_feeds or args.feeds]
        n = len(chosen) * args.entries
        t_new = timed(f"poll with {args.entries} new entries each ({n} pages)", chosen)
        print(f"  -> {n / t_new:.1f} entries/s end to end (fetch + extract + load)")
        timed("next poll: unchanged again (304)", chosen)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"target for 500 feeds all 304: < 10 s -> {t304:.2f} s for {args.feeds} feeds; peak RSS {peak:.0f} MB"
    )
    server.terminate()


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _shapes(n: int, port: int, folder: Path, settings: Settings, resolver: Any) -> None:
    from newsetl.pipeline.engine import Run, drive
    from newsetl.sources.feeds import FeedSource
    from newsetl.storage.duckdb_file import DuckDBFile

    class Counting(DuckDBFile):
        writes = 0

        def write(self, fn: Any) -> Any:
            self.writes += 1
            return super().write(fn)

    for name, hosts, per_host in (("many hosts", n, 2), ("4 hosts", 4, 16)):
        s = settings.with_(db=folder / f"shape-{hosts}.duckdb", per_host_concurrency=per_host)
        urls = [f"http://feed{i % hosts}.bench.test:{port}/feed/{i}.xml" for i in range(n)]
        ingest_feeds(urls, s, resolver=resolver)  # registers them, learns the ETags
        store = Counting(s.storage)
        cpu, started = _cpu_s(), time.perf_counter()
        with Run(FeedSource(urls, resolver=resolver), s, store=store) as run:
            summary = drive(run)
        wall, cpu = time.perf_counter() - started, _cpu_s() - cpu
        print(
            f"{name:<11} ({hosts} host names, {per_host} per host): {n} feeds all 304 in {wall:6.2f} s "
            f"= {1000 * wall / n:.2f} ms/feed (flow {summary.seconds:.2f} s), CPU {cpu:.2f} s "
            f"= {1000 * cpu / n:.2f} ms/feed, {store.writes} write transactions; "
            f"304: {summary.extra['not_modified']}"
        )


if __name__ == "__main__":
    main()
