"""The ordinary Prefect path, as a new user takes it: ``prefect deploy --all`` from one clone,
plain ``prefect worker start --pool newsetl-pool`` in another — no make, no variables. The
run uses the worker's clone (its code, its inbox, its warehouse), not the deploying one; a
worker started outside any clone fails the run with a message that says what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import corpus_path
from .helpers import table_rows
from .prefect_stack import PrefectStack, clone


@pytest.mark.e2e
def test_plain_prefect_worker_runs_the_inbox_in_its_own_clone(tmp_path: Path) -> None:
    deployer, runner = clone(tmp_path / "clone-a"), clone(tmp_path / "clone-b")
    for p in sorted(corpus_path("fundus", "uk").glob("*.html.gz"))[:3]:
        shutil.copy2(p, runner / "inbox" / p.name)
    elsewhere = tmp_path / "not-a-clone"
    elsewhere.mkdir()
    stack = PrefectStack(tmp_path / "prefect-home", tmp_path).start()
    try:
        out = stack.deploy(deployer)
        for name in (
            "ingest-files/inbox",
            "ingest-feeds/feeds",
            "maintenance/nightly",
            "ingest-files/sharded",
        ):
            assert f"Deployment '{name}' successfully created" in out
        inspect = stack.prefect("deployment", "inspect", "ingest-files/inbox")
        assert str(tmp_path) not in inspect  # no machine path in the deployment
        assert "'working_dir': '.'" in inspect and "newsetl.project.enter_project" in inspect

        stack.worker("worker-b", cwd=runner)
        run_id = stack.run("ingest-files/inbox")  # prefect.yaml's own parameters: paths ["inbox"]
        state = stack.wait([run_id])[run_id]
        assert state["type"] == "COMPLETED", stack.worker_log("worker-b")[-4000:]
        db = runner / "warehouse" / "news.duckdb"
        assert table_rows(db, "SELECT run_id, status, n_loaded FROM runs") == [(run_id, "completed", 3)]
        assert table_rows(db, "SELECT count(*) FROM articles") == [(3,)]
        assert not (deployer / "warehouse" / "news.duckdb").exists()  # not the deploying clone's
        assert f"newsetl: flow run in the clone at {runner}" in stack.worker_log("worker-b")
        stack.stop_worker("worker-b")

        stack.worker("worker-x", cwd=elsewhere)
        run_id = stack.run("ingest-files/inbox")
        state = stack.wait([run_id])[run_id]
        assert state["type"] == "FAILED"
        assert f"started in {elsewhere}, which is not inside a newsetl clone" in state["message"]
        assert "prefect worker start --pool newsetl-pool" in state["message"]  # what to do
        assert "Traceback" not in stack.worker_log("worker-x")
    finally:
        stack.stop()
