"""Shared fixtures: the real corpus in ../shared/corpus, temporary warehouses, settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsetl.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("NEWSETL_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
SEED = CORPUS / "seed" / "000_308f56fdb2bc4e5a.txt"

# Tests never talk to a Prefect Cloud/server the developer happens to have configured.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def corpus_path(*parts: str) -> Path:
    """A path inside the shared corpus, or skip the test with a clear message."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real-data corpus not found at {path} (set NEWSETL_CORPUS to its location)")
    return path


def corpus_html_pages() -> list[Path]:
    """Every HTML page of the corpus (plain or gzipped), or skip when it is absent."""
    pages: list[Path] = []
    for part in ("article-extraction-benchmark", "fundus", "trafilatura"):
        root = corpus_path(part)
        pages += sorted(p for p in root.rglob("*") if p.is_file() and ".htm" in p.name)
    return pages


STORY_PARAGRAPH = "The council met on Tuesday to discuss the harbour, the budget and the new school. "


def write_story_pages(folder: Path, n: int) -> Path:
    """``n`` small, distinct HTML stories in a new ``folder`` (distinct across folders too)."""
    folder.mkdir()
    for i in range(n):
        body = "".join(f"<p>{folder.name} {i} {j} {STORY_PARAGRAPH * 3}</p>" for j in range(4))
        (folder / f"{i:03d}.html").write_text(
            f"<html><head><title>Story {i}</title></head><body><article>{body}</article></body></html>"
        )
    return folder


@pytest.fixture
def corpus() -> Path:
    return corpus_path()


@pytest.fixture
def seed_file() -> Path:
    return corpus_path("seed", SEED.name)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "news.duckdb"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    """Two worker processes, like the target machine; small batches to exercise batching."""
    return Settings.make(db=db_path, workers=2, batch_size=40, lock_timeout_s=20)


@pytest.fixture
def inline_settings(db_path: Path) -> Settings:
    """In-process extraction: fastest for small inputs."""
    return Settings.make(db=db_path, workers=0, batch_size=50, lock_timeout_s=20)


@pytest.fixture(scope="session")
def corpus_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole corpus ingested once per session (plus one revised page), search indexed.

    Shared: open it read-only, or copy it before changing anything.
    """
    from .analyst_data import build_corpus_warehouse

    corpus = corpus_path()
    root = tmp_path_factory.mktemp("corpus-warehouse")
    db = root / "news.duckdb"
    build_corpus_warehouse(db, corpus, root / "revised")
    return db


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("prefect-home")
    yield home


@pytest.fixture(scope="session")
def shared_prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One Prefect home for the CLI tests, so their commands share one local Prefect server
    (as a user's do); the server is stopped when the session ends."""
    from newsetl.cli.local_server import Paths, stop_server

    home = tmp_path_factory.mktemp("prefect-home")
    yield home
    stop_server(Paths(home))
