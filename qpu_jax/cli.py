"""`device run`: execute an OpenQASM 2 (or JSON gate list) file on the simulated QPU.

Mounted by the qmux CLI through `register(subparsers)`; also runs alone as `python -m qpu_jax device run ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

EXIT_BAD_INPUT = 2


class _Bad(Exception):
    pass


def register(subparsers) -> None:
    device = subparsers.add_parser("device", help="the simulated QPU (noisy density matrix, JAX)")
    dsub = device.add_subparsers(dest="device_command", required=True)
    r = dsub.add_parser("run", help="run a circuit file and print its outcome distribution and counts",
                        description="Run an OpenQASM 2.0 file (or a .json gate list) on the noisy density-matrix "
                                    "device. Without --calibration a default snapshot for the circuit's width is "
                                    "used (qpu_jax.default_calibration, a line coupling map).")
    r.add_argument("file", help="OpenQASM 2.0 file (.qasm) or JSON gate list (.json); '-' reads stdin")
    r.add_argument("--calibration", help="calibration snapshot JSON (qpu_jax.Calibration); default: "
                                         "default_calibration(width of the circuit)")
    r.add_argument("--shots", type=int, default=1024, help="number of shots (default 1024)")
    r.add_argument("--seed", type=int, default=0, help="sampling seed; same inputs and seed give the same counts")
    r.add_argument("--physical-qubits", help="comma-separated physical qubit for each circuit qubit, e.g. 3,4,5")
    r.add_argument("--calibration-age", type=float, default=0.0, help="seconds since calibration (drives drift)")
    r.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    r.set_defaults(func=cmd_run)
    device.set_defaults(func=lambda args: device.print_help() or EXIT_BAD_INPUT)


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise _Bad(f"cannot read {path}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError:
        raise _Bad(f"{path} is not UTF-8 text: pass an OpenQASM 2.0 or JSON file") from None


def cmd_run(args: argparse.Namespace) -> int:
    import qpu_jax

    try:
        text = _read(args.file)
        if args.file.endswith(".json") or text.lstrip().startswith(("{", "[")):
            circuit = qpu_jax.parse_json_circuit(text)
        else:
            circuit = qpu_jax.parse_qasm(text)
        if args.calibration:
            try:
                calibration = qpu_jax.Calibration.model_validate_json(_read(args.calibration))
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
                raise _Bad(f"calibration {args.calibration}: {loc}: {first['msg']}") from None
        else:
            calibration = qpu_jax.default_calibration(circuit.num_qubits)
        physical = None
        if args.physical_qubits:
            try:
                physical = [int(x) for x in args.physical_qubits.split(",")]
            except ValueError:
                raise _Bad(f"--physical-qubits={args.physical_qubits!r}: give integers separated by commas") from None
        result = qpu_jax.run(circuit, calibration, shots=args.shots, seed=args.seed, physical_qubits=physical,
                             calibration_age_s=args.calibration_age)
    except (_Bad, ValueError) as exc:
        print(f"qmux device run: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        print(f"{result.qubits} qubits, {args.shots} shots, {result.seconds:.3f} s wall, "
              f"{result.qpu_seconds:.4f} s modelled QPU time")
        for key in sorted(result.probabilities, key=lambda k: -result.probabilities[k])[:32]:
            print(f"  {key}  p={result.probabilities[key]:.6f}  n={result.counts.get(key, 0)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qpu_jax")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
