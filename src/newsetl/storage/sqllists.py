"""Lists of strings bound to a query as one JSON text.

Read in SQL as ``unnest($ids::JSON::VARCHAR[])``, e.g.
``WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))`` with
``{"ids": text_list(ids)}``.

DuckDB 1.4's Python client converts a list parameter value by value, and for each value it
tries to import pandas (to recognise pandas' missing-value markers). newsetl does not need
pandas; where it is not installed, the failed import is not remembered, so every value
searches ``sys.path`` again: binding 2,000 ids took ~160 ms, 30× the query itself (5 ms
with pandas installed). One JSON text is one value: the same 2,000 ids bind and unnest in
~5 ms with pandas or without, and JSON carries any string exactly (quotes, control
characters, NUL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable


def text_list(values: Iterable[str]) -> str:
    """``values`` as one query parameter, read as ``$name::JSON::VARCHAR[]``."""
    return json.dumps(list(values), ensure_ascii=False)
