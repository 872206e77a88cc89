"""Top-level functions for the worker-pool tests (worker processes import them by name)."""

from __future__ import annotations

import os
import time


def square(x: int) -> int:
    return x * x


def crash_on_7(x: int) -> int:
    if x == 7:
        os._exit(139)  # what a segfault in a C extension looks like from outside
    return x * x


def hang_on_3(x: int) -> int:
    if x == 3:
        time.sleep(3600)
    return x * x


def raise_on_2(x: int) -> int:
    if x == 2:
        raise ValueError("boom")
    return x * x


def hog_on_1(x: int) -> int:
    if x == 1:
        blob = bytearray(4 * 1024**3)  # 4 GiB: over the worker's address-space cap
        return len(blob)
    return x * x


def is_imported(module: str) -> bool:
    import sys

    return module in sys.modules


def warm_up_calls(_: int) -> tuple[int, int]:
    """(misses, hits) of this worker's ``process.warm_up`` cache."""
    from newsetl.pipeline.process import warm_up

    info = warm_up.cache_info()
    return info.misses, info.hits
