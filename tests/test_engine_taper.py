"""The last batch of a run is cut into pieces of halving work, so that its load is small."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from newsetl.models import BatchReport, Outcome, Processed
from newsetl.pipeline.engine import Run, drive
from newsetl.pipeline.process import Doc
from newsetl.pipeline.source import TAPER_FLOOR, Batch, Item, split_batch, taper_last
from newsetl.settings import Settings
from newsetl.sources.files import FileSource

from .conftest import write_story_pages


def _work(n: int, tag: str = "w") -> list[Item]:
    return [Item(doc=Doc("file", f"{tag}{i}", payload=None)) for i in range(n)]


def _settled(n: int, tag: str = "s") -> list[Item]:
    return [Item(done=Processed("file", f"{tag}{i}", outcome_hint=Outcome.UNCHANGED)) for i in range(n)]


def _work_sizes(batches: list[Batch]) -> list[int]:
    return [sum(it.done is None for it in b.items) for b in batches]


def test_a_batch_is_cut_into_halves_down_to_the_floor_keeping_its_order() -> None:
    items = _work(500)
    pieces = list(split_batch(Batch(items=items)))
    assert _work_sizes(pieces) == [250, 125, 62, 63]
    assert [it for p in pieces for it in p.items] == items
    assert all(p.extra is None and p.seq is None for p in pieces)


def test_settled_items_stay_where_they_stand_and_do_not_count_as_work() -> None:
    items = _settled(3, "a") + _work(100, "x") + _settled(5, "b") + _work(100, "y") + _settled(2, "c")
    pieces = list(split_batch(Batch(items=items)))
    assert _work_sizes(pieces) == [100, 50, 50]
    assert [it for p in pieces for it in p.items] == items
    # the settled items after the 100th work item ride with the first piece
    assert [it.done.source_ref for it in pieces[0].items if it.done is not None] == [  # type: ignore[union-attr]
        "a0", "a1", "a2", "b0", "b1", "b2", "b3", "b4",
    ]  # fmt: skip
    assert [it.done.source_ref for it in pieces[-1].items if it.done is not None] == ["c0", "c1"]  # type: ignore[union-attr]


def test_small_batches_batches_with_extra_rows_and_settled_batches_stay_whole() -> None:
    small = Batch(items=_work(2 * TAPER_FLOOR - 1))
    assert list(split_batch(small)) == [small]
    with_extra = Batch(items=_work(500), extra=object())
    assert list(split_batch(with_extra)) == [with_extra]
    settled = Batch(items=_settled(5000))
    assert list(split_batch(settled)) == [settled]


def test_only_the_last_batch_is_cut() -> None:
    batches = [Batch(items=_work(100, f"b{k}-")) for k in range(3)]
    out = list(taper_last(iter(batches)))
    assert out[:2] == batches[:2]
    assert _work_sizes(out) == [100, 100, 50, 50]
    assert list(taper_last(iter([]))) == []
    one = Batch(items=_work(10))
    assert list(taper_last([one])) == [one]


def test_a_files_run_loads_its_last_batch_in_pieces_and_a_rerun_stays_whole(tmp_path: Path) -> None:
    folder = write_story_pages(tmp_path / "pages", 230)
    db = tmp_path / "w.duckdb"
    settings = Settings.make(db=db, workers=0, batch_size=100)
    loads: list[tuple[int, int]] = []

    def record(run: Run):  # type: ignore[no-untyped-def]
        def load(batch: Batch, processed: list[Processed]) -> BatchReport:
            loads.append((len(batch), sum(it.done is None for it in batch.items)))
            return run.load(batch, processed)

        return load

    with Run(FileSource([folder]), settings) as run:
        summary = drive(run, load=record(run))
    # 100, 100, then the last 30: under twice the floor, it stays whole
    assert summary.report.counts["loaded"] == 230
    assert [w for _, w in loads] == [100, 100, 30]

    folder2 = write_story_pages(tmp_path / "more", 200)
    loads.clear()
    with Run(FileSource([folder2]), settings) as run:
        summary = drive(run, load=record(run))
    assert summary.report.counts["loaded"] == 200
    assert [w for _, w in loads] == [100, 50, 50]
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM file_state").fetchone() == (430,)
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (430,)
        recorded = conn.execute("SELECT parameters FROM runs ORDER BY started_at").fetchall()
        assert [json.loads(r[0])["paths"] for r in recorded] == [[str(folder)], [str(folder2)]]

    loads.clear()  # nothing changed: settled items only, one batch, not cut
    with Run(FileSource([folder, folder2]), settings) as run:
        summary = drive(run, load=record(run))
    assert summary.report.counts["unchanged"] == 430
    assert loads == [(430, 0)]
