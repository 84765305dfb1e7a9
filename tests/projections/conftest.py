"""One embedded ClickHouse for the whole package (chDB holds one data directory per process);
each test gets its own fresh database in it, so tests never see each other's rows."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from projections.client import Client, close_all, connect
from projections.store import Store

_n = itertools.count()


@pytest.fixture(scope="package")
def chdb_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    close_all()  # an earlier package may hold another chDB directory
    client = connect(f"chdb://{tmp_path_factory.mktemp('chdb')}")
    yield client
    close_all()


@pytest.fixture
def store(chdb_client: Client) -> Iterator[Store]:
    s = Store(chdb_client, db=f"qmux_test_{next(_n)}")
    s.apply_schema()
    yield s
    chdb_client.command(f"DROP DATABASE IF EXISTS {s.db}")
