"""WARC vs files, and newsetl vs trafilatura's CLI, in one run; peak memory on a big archive.

1. The same corpus pages as files (one .html each) and as one WARC.gz (warcinfo, then a
   request and a response record per page, one gzip member each, as CC-NEWS).
2. ``newsetl ingest FILES``, ``newsetl ingest PAGES.warc.gz`` and ``trafilatura
   --input-dir FILES`` (text output), each timed; the texts newsetl got from the WARC are
   compared with the ones it got from the files (same content hash = same text).
3. Peak RSS (the whole process tree, sampled every 50 ms) of ``newsetl ingest`` on a
   small and on a large archive (``--records``, default 20,000 records, corpus pages
   repeated under distinct URLs): flat memory means the two peaks are about the same.
   ``--records 0`` skips this part.

    .venv/bin/python bench/warc_bench.py [--pages 100] [--records 20000] [--workers 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest_bench import RssSampler

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CORPUS = Path(os.environ.get("NEWSETL_CORPUS", ROOT.parent / "shared" / "corpus"))


def corpus_pages() -> list[bytes]:
    pages = [
        gzip.decompress(p.read_bytes())
        for p in sorted((CORPUS / "article-extraction-benchmark" / "html").glob("*.gz"))
    ]
    pages += [gzip.decompress(p.read_bytes()) for p in sorted((CORPUS / "fundus").glob("*/*.html.gz"))]
    pages += [p.read_bytes() for p in sorted((CORPUS / "trafilatura" / "cache").glob("*.html"))]
    return pages


def _record(rtype: str, block: bytes, uri: str | None, ctype: str) -> bytes:
    h = f"WARC/1.1\r\nWARC-Type: {rtype}\r\nWARC-Date: 2024-05-01T10:00:00Z\r\n"
    if uri:
        h += f"WARC-Target-URI: {uri}\r\n"
    h += f"Content-Type: {ctype}\r\nContent-Length: {len(block)}\r\n\r\n"
    return gzip.compress(h.encode() + block + b"\r\n\r\n", compresslevel=6, mtime=0)


def write_warc(path: Path, pages: list[bytes], records: int) -> int:
    """``records`` records: warcinfo, then request+response pairs cycling through ``pages``."""
    n = 0
    with path.open("wb") as fh:
        fh.write(_record("warcinfo", b"software: warc_bench\r\n", None, "application/warc-fields"))
        n += 1
        i = 0
        while n < records:
            uri = f"https://news.example/{i}/story.html"
            fh.write(_record("request", b"GET / HTTP/1.1\r\n\r\n", uri, "application/http; msgtype=request"))
            body = pages[i % len(pages)]
            http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body
            fh.write(_record("response", http, uri, "application/http; msgtype=response"))
            n, i = n + 2, i + 1
    return n


def newsetl(
    target: Path, db: Path, workers: int, env: dict[str, str]
) -> tuple[float, dict[str, object], float]:
    cmd = [str(BIN / "newsetl"), "ingest", str(target), "--db", str(db), "--json", "--workers", str(workers)]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        with RssSampler(proc.pid) as sampler:
            proc.wait()
        out.seek(0)
        summary = json.loads(out.read())
    return time.perf_counter() - started, summary, sampler.peak.tree / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    pages = corpus_pages()[: args.pages]
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    with tempfile.TemporaryDirectory(prefix="warc-bench-") as tmp:
        root = Path(tmp)
        env["PREFECT_HOME"] = str(root / "prefect")
        files = root / "files"
        files.mkdir()
        for i, page in enumerate(pages):
            (files / f"{i:05d}.html").write_bytes(page)
        warc = root / "pages.warc.gz"
        write_warc(warc, pages, 1 + 2 * len(pages))
        print(f"{len(pages)} pages: files {sum(len(p) for p in pages) / 2**20:.1f} MB, "
              f"WARC.gz {warc.stat().st_size / 2**20:.1f} MB ({1 + 2 * len(pages)} records)")  # fmt: skip

        t_files, s_files, m_files = newsetl(files, root / "files.duckdb", args.workers, env)
        t_warc, s_warc, m_warc = newsetl(warc, root / "warc.duckdb", args.workers, env)
        out = root / "trafilatura-out"
        started = time.perf_counter()
        traf = [str(BIN / "trafilatura"), "--input-dir", str(files), "--output-dir", str(out),
                "--parallel", str(args.workers), "--with-metadata"]  # fmt: skip
        subprocess.run(traf, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_traf = time.perf_counter() - started
        n_traf = sum(1 for _ in out.rglob("*.txt"))
        same = _same_texts(root / "files.duckdb", root / "warc.duckdb", files, len(pages))
        print("| run | seconds | pages/s | loaded | peak RSS (MB) |\n|---|---|---|---|---|")
        for name, t, s, m in (("newsetl ingest files/", t_files, s_files, m_files),
                              ("newsetl ingest pages.warc.gz", t_warc, s_warc, m_warc)):  # fmt: skip
            counts = s["counts"]
            assert isinstance(counts, dict)
            print(f"| {name} | {t:.1f} | {len(pages) / t:.1f} | {counts['loaded']} | {m:.0f} |")
        print(f"| trafilatura --input-dir files/ | {t_traf:.1f} | {len(pages) / t_traf:.1f} | {n_traf} | - |")
        print(f"texts from the WARC identical to the texts from the files: {same[0]} of {same[1]}")

        print(f"load average after these runs: {os.getloadavg()[0]:.1f} (2 CPUs)")
        rows = []
        for n in (max(args.records // 10, 200), args.records) if args.records else ():
            big = root / f"big-{n}.warc.gz"
            write_warc(big, pages, n)
            t, s, m = newsetl(big, root / f"big-{n}.duckdb", args.workers, env)
            rows.append((n, big.stat().st_size / 2**20, t, s, m))
            print(f"  {n} records done in {t:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
            big.unlink()
        print("| records | WARC.gz MB | seconds | records/s | peak RSS (MB) |\n|---|---|---|---|---|")
        for n, mb, t, _s, m in rows:
            print(f"| {n} | {mb:.0f} | {t:.0f} | {n / t:.0f} | {m:.0f} |")


def _same_texts(files_db: Path, warc_db: Path, files: Path, n: int) -> tuple[int, int]:
    """Pages whose article text (content hash) is the same from the WARC as from the file."""
    with (
        duckdb.connect(str(files_db), read_only=True) as f,
        duckdb.connect(str(warc_db), read_only=True) as w,
    ):
        by_file = dict(
            f.execute("SELECT source_ref, article_id FROM inputs WHERE article_id IS NOT NULL").fetchall()
        )
        hashes_f = dict(f.execute("SELECT article_id, content_hash FROM articles").fetchall())
        sql = "SELECT target_uri, article_id FROM warc_records WHERE article_id IS NOT NULL"
        by_uri = dict(w.execute(sql).fetchall())
        hashes_w = dict(w.execute("SELECT article_id, content_hash FROM articles").fetchall())
    same = total = 0
    for i in range(n):
        a = by_file.get(str(files / f"{i:05d}.html"))
        b = by_uri.get(f"https://news.example/{i}/story.html")
        if a is None and b is None:
            continue
        total += 1
        same += a is not None and b is not None and hashes_f.get(a) == hashes_w.get(b)
    return same, total


if __name__ == "__main__":
    main()
