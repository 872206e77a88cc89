"""The ``newsetl`` command end to end, as a user runs it (subprocesses, real Prefect)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from .helpers import BIN, table_rows

ROOT = Path(__file__).resolve().parents[1]
NEWSETL = str(BIN / "newsetl")


def run_cli(
    args: list[str], env_extra: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env_extra}
    env.pop("PREFECT_API_URL", None)  # the local server the CLI starts, as a user without one has
    return subprocess.run(
        [NEWSETL, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@pytest.fixture
def cli_env(shared_prefect_home: Path) -> dict[str, str]:
    return {
        "PREFECT_HOME": str(shared_prefect_home),
        "NEWSETL_PREFECT_IDLE_MIN": "10",
        "NEWSETL_LOCK_TIMEOUT": "2",
        "COLUMNS": "200",
    }


@pytest.mark.e2e
def test_ingest_examples_then_rerun_changes_nothing(tmp_path: Path, cli_env: dict[str, str]) -> None:
    db = tmp_path / "news.duckdb"
    first = run_cli(["ingest", str(ROOT / "examples"), "--db", str(db)], cli_env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "loaded" in first.stdout and "completed" in first.stdout
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (3,)
        run_id, status = conn.execute("SELECT run_id, status FROM runs").fetchone()  # type: ignore[misc]
    assert status == "completed"

    second = run_cli(["ingest", str(ROOT / "examples"), "--db", str(db), "--json"], cli_env)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout)
    assert summary["counts"]["unchanged"] == 3 and summary["inputs"] == 3
    assert summary["run_id"] != run_id

    out = run_cli(["sql", "SELECT count(*) AS n FROM articles", "--db", str(db), "--format", "json"], cli_env)
    assert out.returncode == 0 and json.loads(out.stdout) == [{"n": 3}]


def test_missing_path_fails_fast_with_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    res = run_cli(["ingest", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb")], cli_env, timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("error: no such file or directory")
    assert len(res.stderr.strip().splitlines()) == 1


def test_unwritable_db_fails_with_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    res = run_cli(
        ["ingest", str(ROOT / "examples"), "--db", str(blocker / "news.duckdb")],
        cli_env,
        timeout=60,
    )
    assert res.returncode == 1
    assert res.stderr.startswith("error: cannot")
    assert len(res.stderr.strip().splitlines()) == 1


def test_locked_db_fails_with_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    db = tmp_path / "news.duckdb"
    hold = "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('ok', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        res = run_cli(["ingest", str(ROOT / "examples"), "--db", str(db)], cli_env, timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 1
    assert "held by another process" in res.stderr and "read_only=True" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    # The next run that gets in records the one that could not start, with the reason.
    again = run_cli(["ingest", str(ROOT / "examples"), "--db", str(db)], cli_env, timeout=120)
    assert again.returncode == 0, again.stderr
    failed = table_rows(db, "SELECT flow, status, error FROM runs WHERE status = 'failed'")
    assert (
        len(failed) == 1 and failed[0][0] == "ingest-files" and "held by another process" in str(failed[0][2])
    )


def test_sql_errors_are_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    db = tmp_path / "news.duckdb"
    duckdb.connect(str(db)).close()
    res = run_cli(["sql", "SELEC nonsense", "--db", str(db)], cli_env, timeout=60)
    assert res.returncode == 1 and res.stderr.startswith("error:")
    missing = run_cli(["sql", "SELECT 1", "--db", str(tmp_path / "none.duckdb")], cli_env, timeout=60)
    assert missing.returncode == 1 and "no warehouse at" in missing.stderr


def test_sql_is_read_only(tmp_path: Path, cli_env: dict[str, str]) -> None:
    db = tmp_path / "news.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute("CREATE TABLE t (x INT)")
    res = run_cli(["sql", "INSERT INTO t VALUES (1)", "--db", str(db)], cli_env, timeout=60)
    assert res.returncode == 1 and "read-only" in res.stderr.lower()


@pytest.mark.parametrize("command", [[], ["ingest"], ["sql"]])
def test_help_shows_a_runnable_example(command: list[str], cli_env: dict[str, str]) -> None:
    res = run_cli([*command, "--help"], cli_env, timeout=60)
    assert res.returncode == 0
    assert "Example:" in res.stdout and "newsetl " in res.stdout


@pytest.mark.parametrize(
    ("command", "default"),
    [
        ("ingest", "[default: number of CPU cores]"),
        ("ingest", "[default: $NEWSETL_DB or warehouse/news.duckdb]"),
        ("ingest-feeds", "[default: every due feed]"),
        ("export", "[default: the core tables]"),
    ],
)
def test_help_shows_defaults_written_in_brackets(command: str, default: str, cli_env: dict[str, str]) -> None:
    # rich reads "[default: ...]" as markup and drops it unless escaped
    res = run_cli([command, "--help"], cli_env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert default in " ".join(res.stdout.replace("│", " ").split())


def test_help_prose_is_wrapped_once_at_80_columns(cli_env: dict[str, str]) -> None:
    # Typer's rich help kept the docstring's own line breaks and wrapped again at the terminal's
    # width: "… not rejected." / "A WARC" / "archive's HTML …" on an 80-column terminal.
    res = run_cli(["ingest", "--help"], {**cli_env, "COLUMNS": "80"}, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = [line.strip() for line in res.stdout.splitlines()]
    prose = lines[lines.index(next(x for x in lines if x.startswith("A folder's data files"))) :]
    prose = prose[: prose.index("")]
    assert len(prose) >= 3 and all(len(line) >= 60 for line in prose[:-1]), prose
    # laid-out paragraphs (examples) keep their lines
    assert any(x.startswith("newsetl ingest CC-NEWS-") for x in lines)


def test_reflow_joins_prose_and_keeps_layouts() -> None:
    from newsetl.cli.helptext import reflow

    doc = """Summary line.

    First prose line
    continues here.

    Example:  newsetl a
              newsetl b

    Label:  kept
    as written
    """
    assert reflow(doc) == (
        "Summary line.\n\nFirst prose line continues here.\n\n"
        "Example:  newsetl a\n          newsetl b\n\nLabel:  kept\nas written"
    )
