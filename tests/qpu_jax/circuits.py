"""Random circuits over the whole of qelib1.inc, for agreement tests."""

from __future__ import annotations

import numpy as np

ONE = ["x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "id"]
ONE_P = {"rx": 1, "ry": 1, "rz": 1, "u1": 1, "p": 1, "u2": 2, "u3": 3, "u": 3}
TWO = ["cx", "cy", "cz", "ch", "swap", "csx"]
TWO_P = {"crx": 1, "cry": 1, "crz": 1, "cu1": 1, "cp": 1, "rxx": 1, "rzz": 1, "cu3": 3}
THREE = ["ccx", "cswap"]


def random_qasm(n: int, gates: int, seed: int, measure: list[int] | None = None, resets: bool = True) -> str:
    rng = np.random.default_rng(seed)
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n}];", f"creg c[{n}];"]
    for _ in range(gates):
        kind = rng.integers(0, 10)
        if kind < 4:
            name = rng.choice(ONE + list(ONE_P))
            k = 1
        elif kind < 8 or n < 3:
            name = rng.choice(TWO + list(TWO_P))
            k = 2
        elif kind < 9:
            name = rng.choice(THREE)
            k = 3
        else:
            if resets:
                lines.append(f"reset q[{rng.integers(0, n)}];")
                continue
            name, k = "h", 1
        qs = rng.choice(n, size=min(k, n), replace=False) if k <= n else None
        if qs is None:
            continue
        params = ONE_P.get(name) or TWO_P.get(name) or 0
        ps = "(" + ",".join(f"{x:.6f}" for x in rng.uniform(-np.pi, np.pi, params)) + ")" if params else ""
        lines.append(f"{name}{ps} " + ",".join(f"q[{int(q)}]" for q in qs) + ";")
    for i, q in enumerate(measure if measure is not None else range(n)):
        lines.append(f"measure q[{q}] -> c[{i}];")
    return "\n".join(lines) + "\n"
