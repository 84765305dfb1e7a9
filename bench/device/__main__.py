"""Benchmark the qmux device against Qiskit Aer's density-matrix method on the same noisy circuits.

    python -m bench.device [--sizes 4,6,8,10,12] [--reps 5] [--gpu]

Agreement is checked first (TVD of exact outcome probabilities < 1e-3); then warm time (median),
the first run of a never-seen circuit in an already-compiled bucket, compile time per bucket, batched
throughput of many small jobs, and a restarted process's first run from the compilation cache.
Installed peers (Cirq, PennyLane default.mixed, TensorCircuit) run the same noisy circuits (see
`peers`), are checked against Aer the same way and timed only if they agree. Peak memory per engine
is the largest rise of this process's RSS during one run (sampled every millisecond).
Writes bench/device/results/<timestamp>.json and prints ratios to Aer. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.device import families, peers

SLOW_S = 10.0  # a run slower than this is timed once: the shared machine's budget is small


def timed(fn, reps: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if times[-1] > SLOW_S:
            break
    return statistics.median(times), times


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_mb(fn) -> float:
    """Largest RSS rise (MiB) while fn runs: native allocations (XLA, Aer, NumPy) included."""
    base, peak, done = _rss_bytes(), [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.001)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        fn()
    finally:
        done.set()
        t.join()
    return max(0, max(peak[0], _rss_bytes()) - base) / 2**20


def tvd(p: dict[str, float], q: dict[str, float]) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def aer_runner(text: str, cal, n: int):
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    qc = QuantumCircuit.from_qasm_str(text).remove_final_measurements(inplace=False)
    qc.save_probabilities()
    sim = AerSimulator(method="density_matrix", noise_model=families.aer_noise_model(cal, n))
    return lambda: np.asarray(sim.run(qc, shots=1).result().data()["probabilities"])


def bench_family(name: str, text: str, other: str | None, n: int, reps: int, qpu_jax,
                 peers_to_run: list[str]) -> dict:
    cal = qpu_jax.default_calibration(n, seed=1)
    circuit = qpu_jax.parse_qasm(text)
    t = time.perf_counter()
    ours = qpu_jax.run(circuit, cal, shots=1000, seed=1)
    first_call = time.perf_counter() - t
    row: dict = {"family": name, "n": n, "bucket": list(ours.bucket)}
    aer = aer_runner(text, cal, n)
    aer_probs = families.with_readout(aer(), cal, n)
    row["tvd_vs_aer"] = tvd(ours.probabilities, aer_probs)
    row["agree"] = row["tvd_vs_aer"] < 1e-3
    row["qmux_warm_s"], row["qmux_times"] = timed(lambda: qpu_jax.run(circuit, cal, shots=1000, seed=1), reps)
    row["compile_s"] = max(0.0, first_call - row["qmux_warm_s"])
    row["aer_warm_s"], row["aer_times"] = timed(aer, reps)
    row["ratio_warm"] = row["qmux_warm_s"] / row["aer_warm_s"]
    if other is not None:  # a never-seen circuit that falls in the bucket compiled above
        fresh = qpu_jax.parse_qasm(other)
        t = time.perf_counter()
        r = qpu_jax.run(fresh, cal, shots=1000, seed=2)
        row["qmux_new_circuit_first_s"] = time.perf_counter() - t
        row["new_circuit_same_bucket"] = list(r.bucket) == row["bucket"]
        row["ratio_new_circuit"] = row["qmux_new_circuit_first_s"] / row["aer_warm_s"]
    row["qmux_peak_mb"] = peak_mb(lambda: qpu_jax.run(circuit, cal, shots=1000, seed=1))
    row["aer_peak_mb"] = peak_mb(aer)
    row["peers"] = {}
    for name in peers_to_run:
        row["peers"][name] = bench_peer(name, circuit, cal, n, aer_probs, reps)
        if row["peers"][name].get("first_s", 0.0) > PEER_GIVE_UP_S:
            peers_to_run.remove(name)  # it will only be slower on wider circuits
    row["process_max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


PEER_GIVE_UP_S = 60.0


def bench_peer(name: str, circuit, cal, n: int, aer_probs: dict[str, float], reps: int) -> dict:
    try:
        fn = peers.runner(name, circuit, cal, n)
        t = time.perf_counter()
        probs = peers.with_readout(fn(), cal, n)
        out: dict = {"first_s": time.perf_counter() - t, "tvd_vs_aer": tvd(probs, aer_probs)}
    except Exception as exc:  # a peer that cannot express or run the circuit is reported, not timed
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    out["agree"] = out["tvd_vs_aer"] < 1e-3
    if out["agree"]:
        out["warm_s"], out["times"] = timed(fn, reps)
        out["peak_mb"] = peak_mb(fn)
    return out


def bench_batch(qpu_jax, count: int = 64, depth: int = 20, reps: int = 5) -> dict:
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    widths = [2 + i % 4 for i in range(count)]  # 2..5 qubits
    texts = [families.random_layered(w, depth, seed=1000 + i) for i, w in enumerate(widths)]
    cal = qpu_jax.default_calibration(5, seed=1)
    circuits = [qpu_jax.parse_qasm(t) for t in texts]
    seeds = list(range(count))
    qpu_jax.run_batch(circuits, cal, shots=1000, seeds=seeds)  # compile the buckets
    ours, _ = timed(lambda: qpu_jax.run_batch(circuits, cal, shots=1000, seeds=seeds), reps)
    singles, _ = timed(lambda: [qpu_jax.run(c, cal, shots=1000, seed=s) for c, s in zip(circuits, seeds)], reps)
    sim = AerSimulator(method="density_matrix", noise_model=families.aer_noise_model(cal, 5))
    qcs = [QuantumCircuit.from_qasm_str(t) for t in texts]
    sim.run(qcs, shots=1000).result()
    aer, _ = timed(lambda: sim.run(qcs, shots=1000).result(), reps)
    return {"circuits": count, "depth": depth, "qmux_batch_s": ours, "qmux_one_by_one_s": singles, "aer_list_s": aer,
            "throughput_ratio": aer / ours, "throughput_ratio_one_by_one": aer / singles}


RESTART = """
import sys, time
import qpu_jax
qpu_jax.enable_compilation_cache(sys.argv[1])
from bench.device import families, peers
c = qpu_jax.parse_qasm(families.random_layered(int(sys.argv[2]), 20, seed=77))
cal = qpu_jax.default_calibration(int(sys.argv[2]), seed=1)
t = time.perf_counter(); qpu_jax.run(c, cal, shots=1000, seed=1); first = time.perf_counter() - t
t = time.perf_counter(); qpu_jax.run(c, cal, shots=1000, seed=1); warm = time.perf_counter() - t
print(first, warm)
"""


def bench_restart(cache: str, n: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = []
    for _ in range(2):  # the first process fills the cache, the second is the restarted worker
        p = subprocess.run([sys.executable, "-c", RESTART, cache, str(n)], capture_output=True, text=True, env=env)
        if p.returncode:
            return {"error": p.stderr.strip().splitlines()[-1]}
        out.append([float(x) for x in p.stdout.split()])
    return {"n": n, "cold_process_first_run_s": out[0][0], "restarted_first_run_s": out[1][0], "warm_s": out[1][1]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.device", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="widths for the random family (default 4,6,8,10,12; --gpu: 10..14)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--gpu", action="store_true", help="run on the default JAX GPU device at n = 10..14")
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--peer-max-n", type=int, default=10, help="run the peers up to this width (they are slow)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("10,11,12,13,14" if args.gpu else "4,6,8,10,12")).split(",")]
    cache = tempfile.mkdtemp(prefix="qpu_jax-bench-cache-")
    import jax

    import qpu_jax

    qpu_jax.enable_compilation_cache(cache)
    rows = []
    available = [p for p in peers.PEERS if peers.installed(p)]
    running = list(available)
    for n in sizes:
        rows.append(bench_family("random", families.random_layered(n, 20, 1), families.random_layered(n, 20, 2), n,
                                 args.reps, qpu_jax, running if n <= args.peer_max_n else []))
        print(_fmt(rows[-1]), flush=True)
    for n in [s for s in sizes if s <= 10][-2:]:
        for name, text in (("ghz", families.ghz(n)), ("qft", families.qft(n))):
            rows.append(bench_family(name, text, None, n, args.reps, qpu_jax, []))
            print(_fmt(rows[-1]), flush=True)
    batch = None if args.skip_batch else bench_batch(qpu_jax)
    restart = bench_restart(cache, 8)
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "jax_device": str(jax.devices()[0]), "rows": rows, "batch": batch,
              "restart": restart, "peers_missing": [m for m in peers.PEERS if m not in available]}
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"device-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print()
    print(table(report))
    print(f"\nwrote {path}")
    return 0


def _fmt(r: dict) -> str:
    line = (f"{r['family']:>7} n={r['n']:>2} tvd={r['tvd_vs_aer']:.1e} qmux={r['qmux_warm_s']:.4f}s "
            f"aer={r['aer_warm_s']:.4f}s ratio={r['ratio_warm']:.3f}")
    for name, p in r.get("peers", {}).items():
        line += f" {name}=" + (f"{p['warm_s']:.4f}s" if "warm_s" in p else p.get("error", "disagrees")[:40])
    return line


def table(report: dict) -> str:
    head = (f"{'family':>7} {'n':>3} {'TVD vs Aer':>10} {'qmux warm s':>12} {'Aer warm s':>11} {'qmux/Aer':>9} "
            f"{'new-circ 1st s':>14} {'new/Aer':>8} {'compile s':>9}")
    lines = [head, "-" * len(head)]
    for r in report["rows"]:
        new = r.get("qmux_new_circuit_first_s")
        new_s = f"{new:.4f}" if new is not None else "-"
        new_ratio = f"{r['ratio_new_circuit']:.3f}" if new is not None else "-"
        lines.append(f"{r['family']:>7} {r['n']:>3} {r['tvd_vs_aer']:>10.1e} {r['qmux_warm_s']:>12.4f} "
                     f"{r['aer_warm_s']:>11.4f} {r['ratio_warm']:>9.3f} "
                     f"{new_s:>14} {new_ratio:>8} {r['compile_s']:>9.2f}")
    lines.append("")
    head = f"{'family':>7} {'n':>3} {'engine':>14} {'warm s':>10} {'vs qmux':>8} {'TVD vs Aer':>10} {'peak MiB':>9}"
    lines += [head, "-" * len(head)]
    for r in report["rows"]:
        engines = [("qmux", {"warm_s": r["qmux_warm_s"], "tvd_vs_aer": r["tvd_vs_aer"], "peak_mb": r["qmux_peak_mb"]}),
                   ("qiskit-aer", {"warm_s": r["aer_warm_s"], "tvd_vs_aer": 0.0, "peak_mb": r["aer_peak_mb"]})]
        engines += list(r.get("peers", {}).items())
        for name, p in engines:
            if "warm_s" in p:
                lines.append(f"{r['family']:>7} {r['n']:>3} {name:>14} {p['warm_s']:>10.4f} "
                             f"{p['warm_s'] / r['qmux_warm_s']:>8.1f} {p['tvd_vs_aer']:>10.1e} {p['peak_mb']:>9.1f}")
            else:
                why = p.get("error") or f"disagrees with Aer (TVD {p['tvd_vs_aer']:.1e}): not timed"
                lines.append(f"{r['family']:>7} {r['n']:>3} {name:>14} {why}")
    b = report["batch"]
    if b:
        lines.append(f"\nbatch: {b['circuits']} circuits of 2-5 qubits, depth {b['depth']}: qmux run_batch "
                     f"{b['qmux_batch_s']:.4f}s, one by one {b['qmux_one_by_one_s']:.4f}s, Aer list {b['aer_list_s']:.4f}s "
                     f"-> throughput x{b['throughput_ratio']:.1f} (one by one x{b['throughput_ratio_one_by_one']:.1f})")
    rs = report["restart"]
    if "error" in rs:
        lines.append(f"restart: failed: {rs['error']}")
    else:
        lines.append(f"restart (n={rs['n']}): first run in a fresh process {rs['cold_process_first_run_s']:.3f}s without "
                     f"cache, {rs['restarted_first_run_s']:.3f}s from the persistent cache (warm {rs['warm_s']:.4f}s)")
    if report["peers_missing"]:
        lines.append(f"peers not installed (skipped): {', '.join(report['peers_missing'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
