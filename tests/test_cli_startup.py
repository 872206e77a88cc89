"""A flow command starts with Python's cyclic collector paused, and gives it back."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator

import pytest

# the module, not the Typer object that newsetl.cli re-exports under the same name
cli_app = importlib.import_module("newsetl.cli.app")


@pytest.fixture
def owned() -> Iterator[None]:
    before = cli_app._Process.owned
    yield
    cli_app._Process.owned = before


def test_the_collector_is_off_inside_and_back_after_without_freezing_a_host_process(owned: None) -> None:
    cli_app._Process.owned = False
    frozen = gc.get_freeze_count()
    with cli_app._collector_paused():
        assert not gc.isenabled()
        junk = [[] for _ in range(1000)]
    del junk
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_the_commands_own_process_freezes_what_start_up_built(owned: None) -> None:
    cli_app._Process.owned = True
    try:
        with cli_app._collector_paused():
            kept = [{"n": i} for i in range(5000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()


def test_a_paused_collector_stays_paused(owned: None) -> None:
    gc.disable()
    try:
        with cli_app._collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
