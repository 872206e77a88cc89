"""The worker pool isolates crashing and hanging inputs without losing the batch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from newsetl.pipeline.workers import PoolTerminated, WorkerPool
from newsetl.storage.runs import pid_is_alive

from . import workerfns


def _failed(item: int, reason: str) -> str:
    return f"failed:{item}:{reason}"


def test_results_keep_input_order() -> None:
    with WorkerPool(workerfns.square, _failed, workers=2) as pool:
        assert pool.map(list(range(50))) == [i * i for i in range(50)]


def test_a_crashing_input_is_rejected_and_the_rest_survive() -> None:
    items = list(range(12))
    with WorkerPool(workerfns.crash_on_7, _failed, workers=2, item_timeout_s=30) as pool:
        out = pool.map(items)
    assert out[7].startswith("failed:7:worker process crashed")
    assert [o for i, o in enumerate(out) if i != 7] == [i * i for i in items if i != 7]


def test_a_hanging_input_times_out() -> None:
    items = list(range(6))
    with WorkerPool(workerfns.hang_on_3, _failed, workers=2, item_timeout_s=2) as pool:
        out = pool.map(items)
    assert out[3].startswith("failed:3:processing timed out")
    assert [o for i, o in enumerate(out) if i != 3] == [i * i for i in items if i != 3]


def test_an_exception_in_the_function_is_a_failure_not_a_crash() -> None:
    with WorkerPool(workerfns.raise_on_2, _failed, workers=1) as pool:
        out = pool.map([1, 2, 3])
    assert out[0] == 1 and out[2] == 9
    assert "ValueError" in out[1]


@pytest.mark.parametrize("run_as", ["script", "module"])
def test_workers_do_not_rerun_the_parents_main_module(tmp_path: Path, run_as: str) -> None:
    """multiprocessing re-runs the parent's ``__main__`` in each child; for a deployment's
    flow run (``python -m prefect.engine``) that is Prefect in every extraction worker."""
    (tmp_path / "heavy_marker.py").write_text("LOADED = True\n")
    # No `if __name__ == "__main__":` guard either: the workers never run this file.
    (tmp_path / "pool_main.py").write_text(
        textwrap.dedent(
            """
            import heavy_marker  # stands for what a heavy __main__ imports
            from newsetl.pipeline.workers import WorkerPool
            from tests import workerfns
            with WorkerPool(workerfns.is_imported, lambda item, why: why, workers=2) as pool:
                print(pool.map(["heavy_marker", "heavy_marker", "newsetl.pipeline.workers"]))
            """
        )
    )
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "pool_main.py"] if run_as == "script" else [sys.executable, "-m", "pool_main"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    done = subprocess.run(
        cmd, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[False, False, True]"


def test_inline_mode() -> None:
    pool = WorkerPool(workerfns.square, _failed, workers=0)
    assert pool.map([2, 3]) == [4, 9]


@pytest.mark.parametrize("workers", [1, 2])
def test_memory_hog_is_contained(workers: int) -> None:
    with WorkerPool(workerfns.hog_on_1, _failed, workers=workers, memory_limit_mb=1024) as pool:
        out = pool.map([0, 1, 2])
    assert out[0] == 0 and out[2] == 4
    assert out[1].startswith("failed:1:")


def test_terminate_kills_busy_workers_and_stops_a_map_in_another_thread() -> None:
    """What a stopping run does: the map in flight (an input that would run for an hour)
    raises at once instead of retrying in a fresh pool, and no worker process survives."""
    pool = WorkerPool(workerfns.hang_on_3, _failed, workers=2, item_timeout_s=3600)
    outcome: list[BaseException | list[str]] = []

    def run() -> None:
        try:
            outcome.append(pool.map([3, 3, 3]))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while not getattr(pool._executor, "_processes", None) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    pids = list(getattr(pool._executor, "_processes", {}))
    assert pids, "the pool never started"
    started = time.monotonic()
    pool.terminate()
    worker.join(timeout=10)
    assert not worker.is_alive() and time.monotonic() - started < 3
    assert len(outcome) == 1 and isinstance(outcome[0], PoolTerminated)
    assert not any(pid_is_alive(p) for p in pids)
    with pytest.raises(PoolTerminated):
        pool.map([1])
    pool.close()


def test_the_forkserver_preload_leaves_nothing_for_the_first_page_to_load(corpus: Path) -> None:
    """What a page loads on first use (dateparser, the public suffix list, the extraction
    modules) is loaded by the preload the workers are forked from, not again in each one."""
    pages = sorted((corpus / "fundus").rglob("*.html.gz"))[:20]
    assert pages
    script = textwrap.dedent(
        """
        import sys
        import newsetl.pipeline.worker_init
        from tld.utils import get_tld_names_container
        loaded_lists = len(get_tld_names_container())
        before = set(sys.modules)
        from newsetl.models import DocKind
        from newsetl.pipeline.process import article_from_bytes
        for page in sys.argv[1:]:
            try:
                article_from_bytes(open(page, "rb").read(), DocKind.HTML, max_bytes=10**8)
            except Exception:
                pass
        print(loaded_lists, sorted(set(sys.modules) - before))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, pages)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=1) == ["1", "[]\n"]


def test_workers_inherit_the_warm_up_instead_of_repeating_it() -> None:
    """The preload warmed up once (a miss, inherited by every worker); a worker's own call at
    start-up is a hit, not a second run of the built-in page."""
    with WorkerPool(workerfns.warm_up_calls, lambda item, why: (-1, -1), workers=2) as pool:
        found = pool.map([1, 2, 3, 4])
    assert all(misses == 1 and hits >= 1 for misses, hits in found), found
