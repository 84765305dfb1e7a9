"""The process-wide client: shared per DSN, serialised for chDB, one embedded directory at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from projections.client import EmbeddedEngineBusy, connect


def test_one_shared_client_per_dsn(chdb_client, tmp_path):
    path = chdb_client.path
    assert connect(f"chdb://{path}") is chdb_client
    assert connect(f"chdb://{path}/") is chdb_client


def test_calls_from_many_threads_are_safe(chdb_client):
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: chdb_client.query(f"SELECT sum(number) FROM numbers({i})").result_rows[0][0],
                            range(1, 41)))
    assert got == [i * (i - 1) // 2 for i in range(1, 41)]


def test_a_second_embedded_directory_is_refused_with_a_way_out(chdb_client, tmp_path):
    with pytest.raises(EmbeddedEngineBusy, match="close_all"):
        connect(f"chdb://{tmp_path}/other")


@pytest.mark.parametrize("dsn", ["chdb://relative/path", "mysql://x", ""])
def test_bad_dsns_say_what_to_use(dsn):
    with pytest.raises(ValueError, match="chdb:///"):
        connect(dsn)
