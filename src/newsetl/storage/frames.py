"""polars frames in and out of DuckDB through the Arrow C stream interface.

DuckDB's own polars support goes through pyarrow: scanning a ``pl.DataFrame`` converts it
with ``to_arrow()`` and ``.pl()`` builds the frame from a pyarrow table, so the first of
either imports pyarrow (≈ 0.3–0.5 s and 25–40 MB in every loading process). Both libraries
also speak the Arrow PyCapsule protocol (``__arrow_c_stream__``), which moves the same
columns without pyarrow; newsetl uses only that.

DuckDB reads an object that offers only the protocol once per registration (a second
reference in the same query finds the stream released), so a frame becomes a temporary
table for the block, which any number of statements and self-joins can read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from itertools import count
from typing import Any

import duckdb
import polars as pl

_names = count()


class ArrowStream:
    """``frame`` offering only the Arrow C stream: DuckDB takes its generic Arrow path,
    not the polars one that needs pyarrow."""

    __slots__ = ("frame",)

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)


@contextlib.contextmanager
def temp_table(
    conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, name: str | None = None, *, prefix: str = "_rows"
) -> Iterator[str]:
    """``frame`` as a temporary table for the ``with`` block (``name``, or a fresh name
    starting with ``prefix``)."""
    name = name or f"{prefix}_{next(_names)}"
    stream = f"{name}_stream"
    conn.register(stream, ArrowStream(frame))
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {stream}")
    finally:
        conn.unregister(stream)
    try:
        yield name
    finally:
        # After a failed statement the transaction is aborted and rolls the table back.
        with contextlib.suppress(duckdb.Error):
            conn.execute(f"DROP TABLE IF EXISTS temp.main.{name}")


def read_frame(conn: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pl.DataFrame:
    """The result of ``sql`` as a polars frame (what ``.pl()`` returns, without pyarrow)."""
    return pl.DataFrame(conn.sql(sql, params=params))
