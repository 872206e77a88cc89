"""A context-local progress hook, so a CLI can watch a flow it runs in-process without
passing a callable through Prefect flow parameters (which must be serialisable)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from newsetl.models import BatchReport

ProgressHook = Callable[[BatchReport], None]
_hook: ContextVar[ProgressHook | None] = ContextVar("newsetl_progress", default=None)


def current() -> ProgressHook | None:
    return _hook.get()


@contextmanager
def reporting(hook: ProgressHook) -> Iterator[None]:
    token = _hook.set(hook)
    try:
        yield
    finally:
        _hook.reset(token)
