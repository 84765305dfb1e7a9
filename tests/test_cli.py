"""The CLI fails with one line saying what to fix and a non-zero exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from projections.readonly import is_read_only


def qmux(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "QMUX_HOME": "/nonexistent-qmux-home", "QMUX_GATEWAY_PORT": "1"}
    return subprocess.run([sys.executable, "-P", "-m", "infra.cli", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=120)


@pytest.mark.parametrize("args, needle", [
    (("submit", "no-such-file.qasm", "--key", "qmx_a_b"), "no such circuit file"),
    (("jobs",), "no API key"),
    (("result", "some-job", "--key", "qmx_a_b"), "gateway not reachable"),
    (("sql", "DROP TABLE qmux.events"), "read-only"),
    (("logs", "worker"), "no log at"),
    (("tenant", "add", "acme"), "operator key"),
])
def test_errors_are_one_line_and_exit_non_zero(args, needle):
    r = qmux(*args)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_read_only_check():
    assert is_read_only("SELECT 1") and is_read_only("  with x as (select 1) select * from x;")
    for bad in ("DROP TABLE t", "INSERT INTO t VALUES (1)", "SELECT 1; DROP TABLE t", "", "ALTER TABLE t DELETE WHERE 1"):
        assert not is_read_only(bad), bad
