"""Lakes for the tests: a SQLite catalog on local disk, and a PostgreSQL catalog with its data
on S3 (moto), both started for real (see tests/services.py)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
from newsetl.storage.base import Warehouse

from ..services import S3, Postgres, postgres_bin

_names = itertools.count()


@pytest.fixture(scope="session")
def pg() -> Iterator[Postgres]:
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)")
    server = Postgres(bindir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3]:
    pytest.importorskip("moto", reason="moto[server] is a dev dependency (make install)")
    server = S3().start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3: S3, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The AWS_* variables of the local S3, for this process (DuckDB's httpfs and boto3)."""
    for k, v in s3.env.items():
        monkeypatch.setenv(k, v)
    return s3.env


def sqlite_lake(tmp_path: Path) -> Settings:
    return Settings.make(db=f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}", lock_timeout_s=20)


def postgres_lake(pg: Postgres, data_path: str) -> Settings:
    name = f"lake{os.getpid()}_{next(_names)}"
    return Settings.make(db=f"ducklake:postgres:{pg.database(name)}", data_path=data_path, lock_timeout_s=20)


@pytest.fixture(params=["sqlite", "postgres-s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A fresh lake of each kind (in-process extraction: worker processes would not see the
    test's S3 variables)."""
    if request.param == "sqlite":
        return sqlite_lake(tmp_path).with_(workers=0, batch_size=25)
    pg = request.getfixturevalue("pg")
    s3 = request.getfixturevalue("s3")
    request.getfixturevalue("s3_env")
    return postgres_lake(pg, f"s3://{s3.bucket}/{tmp_path.name}/").with_(workers=0, batch_size=25)


def rows(settings: Settings | Warehouse, sql: str) -> list[tuple[object, ...]]:
    store = settings if isinstance(settings, Warehouse) else open_warehouse(settings)
    with store.session(read_only=True) as conn:
        return conn.execute(sql).fetchall()
