"""The JSON gate list: the same circuits as OpenQASM 2, for clients that build circuits as data.

Schema (an object, or just its "gates" list)::

    {"num_qubits": 3,                 # optional: default 1 + the largest qubit index used
     "num_clbits": 3,                 # optional: default num_qubits
     "gates": [
        {"name": "h", "qubits": [0]},
        {"name": "cx", "qubits": [0, 1]},
        {"name": "rz", "qubits": [2], "params": [0.5]},        # numbers, or expressions like "pi/4"
        {"name": "reset", "qubits": [1]},
        {"name": "barrier", "qubits": [0, 1, 2]},
        {"name": "measure", "qubits": [0], "clbits": [0]}      # terminal only
     ]}

Gate names are those of qelib1.inc (plus U and CX). Each entry becomes one OpenQASM statement on
its own line, so the QASM parser's checks apply and its errors map back to `gates[i]`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from qpu_jax.circuit import Circuit, CircuitError, parse_qasm

_EXPR = re.compile(r"^[\d\s.+\-*/()eE]*(?:(?:pi|sin|cos|tan|exp|ln|sqrt)[\d\s.+\-*/()eE]*)*$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HEADER_LINES = 3


def _param(v: Any, where: str) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise CircuitError(f"{where}: a parameter must be a number or an expression string, got {v!r}")
    if isinstance(v, str):
        if not v.strip() or not _EXPR.match(v):
            raise CircuitError(f"{where}: parameter {v!r} is not an arithmetic expression of numbers and pi")
        return v
    if not math.isfinite(v):
        raise CircuitError(f"{where}: parameter {v!r} is not a finite number")
    return repr(float(v))


def _indices(v: Any, where: str, what: str) -> list[int]:
    if not isinstance(v, list) or not v or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                                                   for i in v):
        raise CircuitError(f"{where}: '{what}' must be a non-empty list of non-negative integers, got {v!r}")
    return v


def parse_json_circuit(obj: dict | list | str) -> Circuit:
    """The JSON gate list (see the module docstring) -> Circuit; errors name the offending `gates[i]`."""
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise CircuitError(f"circuit is not valid JSON ({exc.msg} at line {exc.lineno}): "
                               "send an object with a 'gates' list") from None
    if isinstance(obj, list):
        obj = {"gates": obj}
    if not isinstance(obj, dict) or not isinstance(obj.get("gates"), list):
        raise CircuitError("JSON circuit must be an object with a 'gates' list (or the list itself)")
    unknown = set(obj) - {"num_qubits", "num_clbits", "gates"}
    if unknown:
        raise CircuitError(f"JSON circuit has unknown keys {sorted(unknown)}: allowed are num_qubits, num_clbits, gates")
    lines: list[str] = []
    top_q, top_c = -1, -1
    for i, g in enumerate(obj["gates"]):
        where = f"gates[{i}]"
        if not isinstance(g, dict) or not isinstance(g.get("name"), str) or not _NAME.match(g["name"]):
            raise CircuitError(f"{where}: each gate is an object with a 'name' (e.g. \"cx\") and 'qubits'")
        extra = set(g) - {"name", "qubits", "params", "clbits"}
        if extra:
            raise CircuitError(f"{where}: unknown keys {sorted(extra)}; allowed are name, qubits, params, clbits")
        name = g["name"]
        qubits = _indices(g.get("qubits"), where, "qubits")
        top_q = max(top_q, *qubits)
        if name == "measure":
            clbits = _indices(g.get("clbits"), where, "clbits")
            if len(clbits) != len(qubits):
                raise CircuitError(f"{where}: measure needs one clbit per qubit")
            top_c = max(top_c, *clbits)
            lines.append(" ".join(f"measure q[{q}] -> c[{c}];" for q, c in zip(qubits, clbits)))
            continue
        params = g.get("params", [])
        if not isinstance(params, list):
            raise CircuitError(f"{where}: 'params' must be a list")
        ps = f"({', '.join(_param(p, where) for p in params)})" if params else ""
        lines.append(f"{name}{ps} {', '.join(f'q[{q}]' for q in qubits)};")
    n = obj.get("num_qubits", top_q + 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1 or n <= top_q:
        raise CircuitError(f"num_qubits={n!r} must be a positive integer above every qubit index used ({top_q})")
    m = obj.get("num_clbits", max(n, top_c + 1))
    if not isinstance(m, int) or isinstance(m, bool) or m < 1 or m <= top_c:
        raise CircuitError(f"num_clbits={m!r} must be a positive integer above every clbit index used ({top_c})")
    text = "\n".join(['OPENQASM 2.0;', 'include "qelib1.inc";', f"qreg q[{n}]; creg c[{m}];", *lines])
    try:
        return parse_qasm(text)
    except CircuitError as exc:
        raise CircuitError(_to_gate_index(str(exc))) from None


def _to_gate_index(msg: str) -> str:
    m = re.match(r"(?:OpenQASM 2 )?line (\d+)(?:, column \d+)?: (.*)$", msg, re.S)
    if not m or int(m.group(1)) <= _HEADER_LINES:
        return msg
    return f"gates[{int(m.group(1)) - _HEADER_LINES - 1}]: {m.group(2)}"
