"""Dependencies point inward: the domain imports no infrastructure, the device knows no tenants."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INFRA_LIBS = {"faust", "aiokafka", "clickhouse_connect", "chdb", "jax", "jaxlib", "fastapi", "uvicorn", "httpx"}


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_domain_imports_no_infrastructure_and_no_other_layer():
    bad = {f: n & (INFRA_LIBS | {"streams", "projections", "qpu_jax", "infra"}) for f, n in _imports("domain").items()}
    assert not {f: n for f, n in bad.items() if n}


def test_qpu_jax_knows_nothing_of_tenants_kafka_or_clickhouse():
    forbidden = {"faust", "aiokafka", "clickhouse_connect", "chdb", "domain", "streams", "projections", "infra"}
    bad = {f: n & forbidden for f, n in _imports("qpu_jax").items()}
    assert not {f: n for f, n in bad.items() if n}
