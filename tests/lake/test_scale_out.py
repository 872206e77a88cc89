"""Scale-out with real parts: a Prefect server on PostgreSQL, workers each in its own clone
(started with plain ``prefect worker start``), shards of one ingest fanned out by the
``ingest-sharded`` flow as separate deployment runs, all writing into one DuckLake with its
catalog in PostgreSQL and its data on S3 (moto). Afterwards every input is in ``inputs``
exactly once and no article is there twice. The same input with one worker and with two is
timed (printed; docs/scale-out.md has the figures). ``NEWSETL_SCALE_PAGES`` sets the input size.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsetl.settings import Settings

from ..conftest import corpus_path
from ..prefect_stack import PrefectStack, clone
from ..services import S3, Postgres
from .conftest import rows

PAGES = int(os.environ.get("NEWSETL_SCALE_PAGES", "24"))


def _inputs(root: Path) -> int:
    """Corpus pages, two byte-for-byte copies under other names (duplicates across shards)
    and an empty file (a rejection): how many inputs."""
    root.mkdir()
    pages = sorted(corpus_path("article-extraction-benchmark", "html").glob("*.html.gz"))
    pages += sorted(corpus_path("fundus").glob("*/*.html.gz"))
    for i, p in enumerate(pages[:PAGES]):
        sub = root / f"part{i % 3}"
        sub.mkdir(exist_ok=True)
        shutil.copy2(p, sub / p.name)
    shutil.copy2(pages[0], root / "copy-of-first.html.gz")
    shutil.copy2(pages[1], root / "part2" / "copy-of-second.html.gz")
    (root / "empty.txt").write_bytes(b"")
    return min(PAGES, len(pages)) + 3


def _fan_out(stack: PrefectStack, project: Path, pages: Path, shards: int) -> float:
    """Run the ``ingest-sharded`` flow (from a laptop, say): ``shards`` deployment runs of
    ``ingest-files/sharded`` that the workers pick up; seconds until all completed."""
    code = (
        "import json, sys; from flows.ingest_sharded import ingest_sharded; "
        "r = ingest_sharded(shards=int(sys.argv[1]), parameters={'paths': [sys.argv[2]]}, poll_s=0.5); "
        "print(json.dumps(r))"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, str(shards), str(pages)],
        cwd=project, env=stack.env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    logs = "\n".join(stack.worker_log(n)[-3000:] for n in stack.workers)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:] + logs
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(result["runs"].values()) == ["COMPLETED"] * shards
    return seconds


def _check_once(lake: Settings, n_inputs: int, shards: int) -> dict[str, float]:
    """Every input exactly once, no duplicate article; the runs' own durations."""
    assert rows(lake, "SELECT count(*), count(DISTINCT source_ref) FROM inputs") == [(n_inputs, n_inputs)]
    outcomes = dict(rows(lake, "SELECT outcome, count(*) FROM inputs GROUP BY 1"))  # type: ignore[arg-type]
    assert outcomes.get("duplicate") == 2 and outcomes.get("rejected") == 1
    assert outcomes.get("loaded") == n_inputs - 3
    assert rows(
        lake, "SELECT count(*), count(DISTINCT article_id), count(DISTINCT content_hash) FROM articles"
    ) == [(n_inputs - 3,) * 3]
    runs = rows(
        lake,
        "SELECT parameters->>'shard', status, epoch(finished_at - started_at) FROM runs ORDER BY 1",
    )
    assert [(s, st) for s, st, _ in runs] == [(f"{i}/{shards}", "completed") for i in range(shards)]
    out = {str(s): round(float(sec), 1) for s, _, sec in runs}  # type: ignore[arg-type]
    span = rows(lake, "SELECT epoch(max(finished_at) - min(started_at)) FROM runs")[0][0]
    out["first start to last finish"] = round(float(span), 1)  # type: ignore[arg-type]
    return out


def _lake(pg: Postgres, s3: S3, name: str) -> tuple[Settings, dict[str, str]]:
    conninfo = pg.database(name)
    db, data = f"ducklake:postgres:{conninfo}", f"s3://{s3.bucket}/{name}/"
    env = {**s3.env, "NEWSETL_DB": db, "NEWSETL_DATA_PATH": data, "NEWSETL_WORKERS": "1"}
    return Settings.make(db=db, data_path=data), env


def _wait_started(stack: PrefectStack, names: list[str]) -> None:
    deadline = time.monotonic() + 120
    while not all("started!" in stack.worker_log(n) for n in names):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.5)


@pytest.mark.e2e
def test_two_workers_in_two_clones_shard_one_ingest_into_a_postgres_s3_lake(
    tmp_path: Path, pg: Postgres, s3: S3, s3_env: dict[str, str]
) -> None:
    pages_dir = tmp_path / "pages"
    n_inputs = _inputs(pages_dir)
    a, b = clone(tmp_path / "machine-a"), clone(tmp_path / "machine-b")
    prefect_db = f"prefect{os.getpid()}"
    pg.database(prefect_db)
    stack = PrefectStack(
        tmp_path / "prefect-home",
        tmp_path,
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{pg.port}/{prefect_db}",
    ).start()
    timings: dict[str, object] = {"inputs": n_inputs}
    try:
        stack.deploy(a)

        # One worker: the two shards one after the other.
        lake1, env1 = _lake(pg, s3, f"scale1_{os.getpid()}")
        stack.worker("one", cwd=a, env=env1, limit=1)
        _wait_started(stack, ["one"])
        timings["one_worker_s"] = round(_fan_out(stack, a, pages_dir, 2), 1)
        timings["one_worker_runs_s"] = _check_once(lake1, n_inputs, 2)
        stack.stop_worker("one")

        # Two workers, each in its own clone: one shard each, at the same time.
        lake2, env2 = _lake(pg, s3, f"scale2_{os.getpid()}")
        stack.worker("a", cwd=a, env=env2, limit=1)
        stack.worker("b", cwd=b, env=env2, limit=1)
        _wait_started(stack, ["a", "b"])
        timings["two_workers_s"] = round(_fan_out(stack, a, pages_dir, 2), 1)
        timings["two_workers_runs_s"] = _check_once(lake2, n_inputs, 2)
        for name, project in (("a", a), ("b", b)):  # each ran one shard, from its own clone
            assert stack.worker_log(name).count(f"newsetl: flow run in the clone at {project}") == 1
        assert s3.keys(f"scale2_{os.getpid()}/")  # the data is on S3
        print("\nscale-out timings:", json.dumps(timings))
    finally:
        stack.stop()


def test_two_runs_on_one_machine_share_the_local_search_index(tmp_path: Path) -> None:
    """Two workers on one machine (or the feeds and inbox deployments at once) refresh the
    lake's local search file in turn: the second waits for the first's session."""
    from newsetl.storage.backends import open_warehouse

    settings = Settings.make(db=f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}", lock_timeout_s=30)
    store = open_warehouse(settings)
    store.ensure_schema()
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time; from newsetl.settings import Settings; "
            "from newsetl.storage.backends import open_warehouse; "
            "s = open_warehouse(Settings.make(db=sys.argv[1]))\n"
            "with s.search_session() as c:\n    print('held', flush=True); time.sleep(4)"
        ), settings.db],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with store.search_session() as conn:  # type: ignore[attr-defined]
        waited = time.monotonic() - started
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    assert holder.wait(timeout=60) == 0
    assert 1.0 < waited < 30
