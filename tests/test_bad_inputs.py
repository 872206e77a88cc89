"""Every kind of bad input becomes a rejection with a stage and a reason; nothing is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import corpus_path
from .helpers import make_bad_inputs, table_rows, unprivileged

RUN = """
import json, sys
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
if __name__ == "__main__":
    settings = Settings.make(db=sys.argv[1], workers=2, batch_size=7, max_file_bytes=5 * 2**20)
    s = ingest_files([sys.argv[2]], settings)
    print(json.dumps({"status": s.status, "counts": s.report.counts}))
"""


def test_bad_inputs_are_recorded_and_the_run_continues(tmp_path: Path) -> None:
    good = corpus_path("trafilatura", "cache", "heise.de.lithium.html").read_bytes()
    inbox = tmp_path / "inbox"
    expected = make_bad_inputs(inbox, good)
    (inbox / "good.html").write_bytes(good)
    (inbox / "good-copy.html").write_bytes(good)
    db = tmp_path / "news.duckdb"
    script = tmp_path / "run.py"
    script.write_text(RUN)
    try:
        proc = subprocess.run(
            unprivileged([sys.executable, str(script), str(db), str(inbox)]),
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:  # let pytest remove the temporary directory afterwards
        (inbox / "locked-dir").chmod(0o755)
        (inbox / "unreadable.html").chmod(0o644)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed"

    rows = table_rows(db, "SELECT source_ref, outcome, stage, reason, article_id FROM inputs")
    by_name = {str(Path(r[0]).relative_to(inbox)): r for r in rows}
    # Nothing lost: every file and link under the inbox is exactly one ledger row.
    assert set(by_name) == {*expected, "good.html", "good-copy.html"}
    assert len(rows) == len(by_name)
    for name, expect in expected.items():
        _, outcome, stage, reason, article_id = by_name[name]
        assert outcome == "rejected" and article_id is None, name
        assert f"{stage}: {reason}".startswith(expect), (name, stage, reason)
    # Discovery is sorted: "good-copy.html" < "good.html", so the copy is seen first.
    assert by_name["good-copy.html"][1] == "loaded"
    assert by_name["good.html"][1] == "duplicate"
    assert by_name["good-copy.html"][4] == by_name["good.html"][4]
    # Accounting: inputs = sum of outcomes, and runs agrees with the ledger.
    (n_inputs, n_sum) = table_rows(
        db,
        "SELECT n_inputs, n_loaded + n_updated + n_unchanged + n_duplicate + n_rejected FROM runs",
    )[0]
    assert n_inputs == n_sum == len(rows)
