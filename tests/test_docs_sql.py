"""Every SQL block in docs/warehouse.md runs against a warehouse built from the real corpus,
and returns rows: the documentation cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .helpers import connect

DOC = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)


def sql_blocks() -> list[str]:
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_docs_have_a_cookbook() -> None:
    cookbook = DOC.read_text(encoding="utf-8").split("## Cookbook", 1)[1]
    assert len(_BLOCK.findall(cookbook)) >= 12


@pytest.mark.parametrize("sql", sql_blocks(), ids=lambda s: " ".join(s.split())[:60])
def test_docs_sql_runs_and_answers(corpus_warehouse: Path, sql: str) -> None:
    with connect(corpus_warehouse, read_only=True) as conn:
        statements = conn.extract_statements(sql)
        assert statements
        for statement in statements[:-1]:
            conn.execute(statement)
        cur = conn.execute(statements[-1])
        rows = cur.fetchall()
    assert rows, "the query answers nothing on the corpus warehouse"
