"""A flow command starts with Python's cyclic collector paused, and gives it back."""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys
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


def test_telling_archives_from_files_loads_neither_the_warc_source_nor_the_engine() -> None:
    """``newsetl ingest`` routes its arguments before the flow command starts (and with it
    the workers' forkserver): that check must stay cheap."""
    script = (
        "import sys\n"
        "import newsetl.sources.warc\n"
        "from newsetl.sources.warc.names import is_url, is_warc_name\n"
        "assert is_warc_name('CC-NEWS-1.warc.gz') and is_url('https://x.test/a.warc')\n"
        "assert not is_url('a.html') and not is_warc_name('a.html')\n"
        "prefixes = ('newsetl.sources.warc.', 'newsetl.pipeline')\n"
        "print(sorted(m for m in sys.modules if m.startswith(prefixes)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['newsetl.sources.warc.names']"
