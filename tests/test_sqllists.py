"""Lists bound as one JSON text: exact for any string, one value for DuckDB to convert."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from newsetl.storage.sqllists import text_list

SRC = Path(__file__).resolve().parents[1] / "src" / "newsetl"

ODD = ["plain", 'a "quoted" word', "comma, semicolon; pipe|", "tab\tnew\nline", "unit\x1fsep", "nul\x00byte",
       "ünïcödé ✓ 日本", "back\\slash", "", "https://example.org/a?b=1&c=%20"]  # fmt: skip


def test_any_string_comes_back_exactly() -> None:
    conn = duckdb.connect()
    got = conn.execute("SELECT unnest($v::JSON::VARCHAR[])", {"v": text_list(ODD)}).fetchall()
    assert [r[0] for r in got] == ODD
    conn.execute("CREATE TABLE t (k VARCHAR)")
    conn.executemany("INSERT INTO t VALUES (?)", [[v] for v in ODD[:6]])
    hits = conn.execute(
        "SELECT k FROM t WHERE k IN (SELECT unnest($v::JSON::VARCHAR[])) ORDER BY k",
        {"v": text_list(ODD[3:])},
    ).fetchall()
    assert sorted(r[0] for r in hits) == sorted(ODD[3:6])
    assert conn.execute("SELECT count(*) FROM t WHERE k IN (SELECT unnest($v::JSON::VARCHAR[]))",
                        {"v": text_list([])}).fetchone() == (0,)  # fmt: skip


def test_without_pandas_a_list_costs_one_import_attempt_per_value_and_text_list_two() -> None:
    """What the module works around: run where pandas cannot be imported, count the tries."""
    script = textwrap.dedent(
        """
        import sys
        tries = []
        class NoPandas:
            def find_spec(self, name, path=None, target=None):
                if name == "pandas" or name.startswith("pandas."):
                    tries.append(name)
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None
        sys.modules.pop("pandas", None)
        sys.meta_path.insert(0, NoPandas())
        import duckdb
        from newsetl.storage.sqllists import text_list
        conn = duckdb.connect()
        ids = [f"id{i}" for i in range(500)]
        tries.clear()
        conn.execute("SELECT count(*) FROM (SELECT unnest($ids))", {"ids": ids}).fetchall()
        as_list = len(tries)
        tries.clear()
        sql = "SELECT count(*) FROM (SELECT unnest($ids::JSON::VARCHAR[]))"
        conn.execute(sql, {"ids": text_list(ids)}).fetchall()
        print(as_list, len(tries))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    as_list, as_text = map(int, out.split())
    assert as_list >= 500  # DuckDB 1.4.4: two per value
    assert as_text <= 2


def test_every_list_parameter_in_newsetl_is_bound_as_text() -> None:
    """``unnest($name)`` of a Python list pays the per-value import where pandas is absent."""
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"unnest\(\$\w+\)", line)
    ]
    assert offenders == []
