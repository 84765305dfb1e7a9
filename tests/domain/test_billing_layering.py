"""domain.billing stays pure: standard library, pydantic and the event catalogue only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import domain.billing

ALLOWED = {"pydantic", "domain.events", "domain.billing"}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" if node.module == "domain" else node.module
                         for alias in node.names)
    return found


def test_billing_imports_nothing_but_stdlib_pydantic_and_the_catalogue():
    package = Path(domain.billing.__file__).parent
    offenders = {}
    for path in sorted(package.glob("*.py")):
        bad = {m for m in imported_modules(path)
               if m.split(".")[0] not in sys.stdlib_module_names
               and not any(m == a or m.startswith(a + ".") for a in ALLOWED)}
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}, f"domain.billing must stay pure; move these imports to an adapter: {offenders}"
