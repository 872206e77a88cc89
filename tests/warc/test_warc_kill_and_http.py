"""A real ``newsetl ingest`` killed (SIGKILL) in the middle of a WARC, then run again: every
record ends in the ledger exactly once. A WARC served over HTTP on 127.0.0.1: streamed,
then not modified."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from newsetl.analysis.audit import run_audit
from newsetl.settings import Settings
from newsetl.sources.warc import ingest_warc

from ..feeds.server import FeedServer, Request, Response
from ..helpers import BIN, store, table_rows
from .warcs import pages_archive


def _cli(
    args: list[str], tmp_path: Path, home: Path, faults: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A real command; ``home`` is the session's shared Prefect home (its server is stopped
    when the session ends)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NEWSETL_FAULTS", "PREFECT_API_URL")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               NEWSETL_LOCK_TIMEOUT="5", COLUMNS="200")  # fmt: skip
    if faults:
        env["NEWSETL_FAULTS"] = faults
    out, err = tmp_path / "cli.out", tmp_path / "cli.err"
    with out.open("w") as o, err.open("w") as e:  # files, not pipes: orphans of a kill keep pipes open
        proc = subprocess.run([str(BIN / "newsetl"), *args], stdout=o, stderr=e, timeout=300, env=env,
                              check=False)  # fmt: skip
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.read_text(), err.read_text())


@pytest.mark.e2e
def test_killed_in_the_middle_then_rerun(tmp_path: Path, shared_prefect_home: Path) -> None:
    a = pages_archive(24)
    path = a.write(tmp_path / "crawl.warc.gz")
    db = tmp_path / "news.duckdb"
    args = ["ingest", str(path), "--db", str(db), "--batch-size", "5", "--workers", "1", "--json"]
    killed = _cli(
        args, tmp_path, shared_prefect_home, faults="load.after_commit:2"
    )  # SIGKILLs itself after 2 batches
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    done_before = table_rows(db, "SELECT count(*) FROM inputs")[0][0]
    assert 0 < done_before < len(a.members)
    offset, complete = table_rows(db, "SELECT next_offset, complete FROM warc_archives")[0]
    assert complete is False and 0 < int(str(offset)) < path.stat().st_size

    again = _cli(args, tmp_path, shared_prefect_home)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    assert summary["warc"]["archives_resumed"] == 1
    assert summary["inputs"] == len(a.members) - done_before  # only what the killed run had not committed
    refs = table_rows(db, "SELECT source_ref, count(*) FROM inputs GROUP BY ALL")
    assert sorted(str(r[0]) for r in refs) == sorted(f"{path}#{o}" for o in a.offsets())
    assert {r[1] for r in refs} == {1}  # every record once, across the two runs
    assert table_rows(db, "SELECT status FROM runs ORDER BY started_at") == [("crashed",), ("completed",)]
    assert table_rows(db, "SELECT count(*) FROM articles")[0][0] >= 20
    assert run_audit(store(db)).ok

    third = _cli(args, tmp_path, shared_prefect_home)
    assert third.returncode == 0, third.stderr[-3000:]
    s3 = json.loads(third.stdout)
    assert s3["warc"]["archives_unchanged"] == 1 and s3["counts"]["loaded"] == 0
    assert s3["counts"]["unchanged"] + s3["counts"]["skipped"] == len(a.members)


def test_served_warc_is_streamed_then_not_modified(tmp_path: Path, inline_settings: Settings) -> None:
    a = pages_archive(5)
    body = b"".join(a.members)
    server = FeedServer()
    try:
        url = server.add("/crawl/pages.warc.gz", body, content_type="application/warc", etag='"v1"')
        first = ingest_warc([url], inline_settings)
        assert first.report.counts["loaded"] == 5 and first.report.counts["skipped"] == 6, first.top_reasons
        db = Path(inline_settings.db)
        refs = sorted(str(r[0]) for r in table_rows(db, "SELECT source_ref FROM inputs"))
        assert refs == sorted(f"{url}#{o}" for o in a.offsets())
        log = table_rows(db, "SELECT kind, status, bytes FROM fetches")
        assert log == [("warc", 200, len(body))]

        second = ingest_warc([url], inline_settings)
        assert second.extra["archives_unchanged"] == 1
        assert second.report.counts["unchanged"] == 5 and second.report.counts["skipped"] == 6
        assert server.requests("/crawl/pages.warc.gz")[-1].headers.get("if-none-match") == '"v1"'
        fetches = table_rows(db, "SELECT status, bytes FROM fetches ORDER BY fetched_at")
        assert fetches == [(200, len(body)), (304, 0)]
        assert run_audit(store(db)).ok

        missing = ingest_warc([server.add("/missing.warc.gz", b"no", status=404)], inline_settings)
        assert missing.report.counts["rejected"] == 1
        assert missing.top_reasons[0][:2] == ("fetch", "HTTP 404 Not Found")
    finally:
        server.close()


def test_a_broken_download_resumes_with_range(tmp_path: Path) -> None:
    """The connection stalls halfway: what arrived is committed, the run completes with one
    rejection (the archive URL, stage fetch); the next run asks for the rest with Range."""
    a = pages_archive(6)
    body = b"".join(a.members)
    cut = a.offsets()[9] + 100  # inside the 10th record
    server = FeedServer()

    def serve(req: Request) -> Response:
        start = 0
        rng = req.headers.get("range", "")
        if rng.startswith("bytes=") and req.headers.get("if-range") == '"w1"':
            start = int(rng[6:].rstrip("-"))
            headers = {
                "ETag": '"w1"',
                "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}",
                "Content-Length": str(len(body) - start),
            }
            return Response(206, body[start:], headers)
        return Response(200, body[:cut], {"ETag": '"w1"', "Content-Length": str(len(body))})  # then stalls

    try:
        url = server.handle("/crawl.warc.gz", serve)
        settings = Settings.make(db=tmp_path / "news.duckdb", workers=0, batch_size=2, read_timeout_s=1.0,
                                 min_host_delay_s=0.0)  # fmt: skip
        first = ingest_warc([url], settings)
        assert first.status == "completed"
        assert first.report.counts["rejected"] == 1 and "broken" in first.top_reasons[0][1], first.top_reasons
        db = tmp_path / "news.duckdb"
        offset, complete = table_rows(db, "SELECT next_offset, complete FROM warc_archives")[0]
        assert complete is False and 0 < int(str(offset)) <= cut

        second = ingest_warc([url], settings)
        assert second.extra["archives_resumed"] == 1 and second.report.counts["rejected"] == 0
        assert server.requests("/crawl.warc.gz")[-1].headers.get("range") == f"bytes={offset}-"
        refs = table_rows(
            db, "SELECT source_ref, count(*) FROM inputs WHERE source_ref LIKE '%#%' GROUP BY ALL"
        )
        assert sorted(str(r[0]) for r in refs) == sorted(f"{url}#{o}" for o in a.offsets())
        assert {r[1] for r in refs} == {1}
        assert table_rows(db, "SELECT complete FROM warc_archives") == [(True,)]
        assert run_audit(store(db)).ok
    finally:
        server.close()
