"""The auditor's replay end to end through a real broker: the synthetic log is written to a private
local Kafka broker, then read back from offset 0 (aiokafka, read_committed) and re-derived,
reconciled and chain-verified exactly as `qmux audit replay` does.

    python -m bench.replay.kafka [--events 200000] [--seed 7]

Prints a table and writes bench/replay/results/replay-kafka-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import socket
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.replay.synth import generate
from domain.billing import reconcile, rederive, verify_chain
from infra.audit import billing_stream, chain_input
from infra.kafka import broker
from infra.settings import Settings
from streams import log_reader
from streams.topics import TOPICS, topic_name

RESULTS = Path(__file__).with_name("results")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _produce(settings: Settings, messages) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=20, max_batch_size=512 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        pending = []
        for m in messages:
            pending.append(await producer.send(topic_name(settings.topic_prefix, m.topic), m.value, key=m.key.encode()))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    messages = generate(a.events, seed=a.seed)
    with tempfile.TemporaryDirectory(prefix="qmux-replay-bench-") as home:
        s = Settings(home=Path(home), kafka_bootstrap=None, kafka_port=_free_port(), kafka_controller_port=_free_port(),
                     topic_prefix="replaybench.", clickhouse_dsn=None)
        broker.start(s, progress=lambda m: None)
        try:
            broker.ensure_topics(s)
            t0 = time.perf_counter()
            asyncio.run(_produce(s, messages))
            t_write = time.perf_counter() - t0
            gc.collect()
            gc.disable()
            t0 = time.perf_counter()
            records = asyncio.run(log_reader.read_records(s, [t.name for t in TOPICS]))
            t_read = time.perf_counter() - t0
            decoded, bad = log_reader.decode_all(records)
            t_decode = time.perf_counter() - t0 - t_read
            events = [e for e, _ in decoded]
            rec = reconcile(rederive(events), billing_stream(decoded, s), None)
            chain = verify_chain(chain_input(decoded, s))
            t_total = time.perf_counter() - t0
            gc.enable()
        finally:
            broker.stop(s)
    n = len(records)
    diffs = {t: v.difference_log_micro for t, v in rec.tenants.items()}
    row = {"events": n, "undecodable": len(bad), "write_s": round(t_write, 3), "read_s": round(t_read, 3),
           "decode_s": round(t_decode, 3), "verdict_s": round(t_total, 3),
           "events_per_s": round(n / t_total), "read_events_per_s": round(n / t_read),
           "ok": rec.ok and chain.ok and not bad, "differences_micro": diffs}
    print(f"{'events':>8} {'read s':>8} {'decode s':>9} {'verdict s':>10} {'events/s':>10} {'read ev/s':>10}  verdict")
    print(f"{n:>8} {t_read:>8.2f} {t_decode:>9.2f} {t_total:>10.2f} {row['events_per_s']:>10,} "
          f"{row['read_events_per_s']:>10,}  {'OK' if row['ok'] else 'DIFFERENCES'} {diffs}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"replay-kafka-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(row, indent=2))
    print(f"wrote {out}")
    return 0 if row["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
