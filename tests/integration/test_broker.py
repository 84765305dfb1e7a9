"""The local broker is a real Kafka: topics as declared, no auto-create, durable across restarts, and
readable by a Kafka client that is not ours (kcat)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError as AIOKafkaError

from infra import procs
from infra.kafka import admin, broker
from infra.settings import Settings
from streams.topics import all_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def kcat(*args: str) -> str:
    exe = shutil.which("kcat")
    if exe is None:
        pytest.fail("kcat is not installed: run `bash infra/install-tools.sh` (Debian package kcat)", pytrace=False)
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kcat {' '.join(args)} failed ({done.returncode}): {done.stderr}"
    return done.stdout


def kcat_messages(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message of `topic` as kcat's JSON envelope (topic, partition, offset, key, payload)."""
    out = kcat("-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-J")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


async def produce(bootstrap: str, topic: str, key: str, value: dict[str, Any], timeout_ms: int = 10_000) -> Any:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                request_timeout_ms=timeout_ms)
    await producer.start()
    try:
        return await producer.send_and_wait(topic, json.dumps(value).encode(), key=key.encode())
    finally:
        await producer.stop()


def test_broker_answers_metadata(stack_settings: Settings) -> None:
    cluster = admin.run(_describe_cluster(stack_settings.bootstrap))
    assert [(b["host"], b["port"]) for b in cluster["brokers"]] == [("127.0.0.1", stack_settings.kafka_port)]
    st = broker.status(stack_settings)
    assert st["running"] and st["reachable"] and st["pid"] == procs.pid(stack_settings, "kafka")


async def _describe_cluster(bootstrap: str) -> dict[str, Any]:
    async with admin.admin(bootstrap) as a:
        return await a.describe_cluster()


def test_every_topic_exists_with_its_partitions_and_infinite_retention(stack_settings: Settings) -> None:
    expected = dict(all_topics(stack_settings.topic_prefix, stack_settings.topic_partitions))
    # kcat is an independent client: its view of the metadata is the broker's, not our code's
    meta = json.loads(kcat("-L", "-J", "-b", stack_settings.bootstrap))
    seen = {t["topic"]: len(t["partitions"]) for t in meta["topics"]}
    assert {name: seen.get(name) for name in expected} == expected
    configs = admin.run(admin.topic_configs(stack_settings.bootstrap, list(expected)))
    for name in expected:
        assert configs[name]["retention.ms"] == "-1", name
        assert configs[name]["retention.bytes"] == "-1", name
    assert broker.ensure_topics(stack_settings) == []  # a second call changes nothing


def test_auto_create_is_off(stack_settings: Settings) -> None:
    assert admin.run(admin.broker_configs(stack_settings.bootstrap))["auto.create.topics.enable"] == "false"
    ghost = f"qmux.no-such-topic-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    with pytest.raises(AIOKafkaError):
        admin.run(produce(stack_settings.bootstrap, ghost, "k", {"x": 1}, timeout_ms=2_000))
    assert time.monotonic() - t0 < 30
    assert ghost not in admin.run(admin.list_topics(stack_settings.bootstrap))


def test_idempotent_produce_is_read_back_as_json_by_kcat(stack_settings: Settings) -> None:
    # a topic of its own: the catalogue topics belong to the agents that other tests run
    topic = f"broker-test.roundtrip-{uuid.uuid4().hex[:8]}"
    admin.run(admin.ensure_topics(stack_settings.bootstrap, [(topic, 3)], broker.TOPIC_CONFIGS))
    event = {"event_id": str(uuid.uuid4()), "type": "Ping", "n": 42, "text": "ünïcode"}
    meta = admin.run(produce(stack_settings.bootstrap, topic, "tenant-7", event))
    got = kcat_messages(stack_settings.bootstrap, topic)
    assert [(m["key"], m["partition"], m["offset"]) for m in got] == [("tenant-7", meta.partition, meta.offset)]
    assert json.loads(got[0]["payload"]) == event


def test_stop_and_start_keep_the_data_also_after_a_crash(private_settings) -> None:
    s: Settings = private_settings()
    broker.start(s, progress=lambda _: None)
    broker.ensure_topics(s)
    first = procs.pid(s, "kafka")
    broker.start(s, progress=lambda _: None)  # already running: nothing happens
    assert procs.pid(s, "kafka") == first
    event = {"event_id": "e-1", "amount_micro": 1_234_567}
    admin.run(produce(s.bootstrap, "qmux.billing", "tenant-1", event))

    assert broker.stop(s) is True
    assert not broker.status(s)["running"] and not _listening(s.kafka_port)
    assert not procs.pid_path(s, "kafka").exists()
    broker.start(s, progress=lambda _: None)
    assert [json.loads(m["payload"]) for m in kcat_messages(s.bootstrap, "qmux.billing")] == [event]

    # a crash leaves the pid file behind, naming a dead process
    assert procs.kill(s, "kafka", signal.SIGKILL)
    assert procs.wait_exit(s, "kafka", 10) and procs.pid_path(s, "kafka").exists()
    broker.start(s, progress=lambda _: None)
    assert procs.pid(s, "kafka") not in (None, first)
    assert [json.loads(m["payload"]) for m in kcat_messages(s.bootstrap, "qmux.billing")] == [event]
    assert broker.ensure_topics(s) == []


def _listening(port: int) -> bool:
    return admin.port_open("127.0.0.1", port)


def test_a_taken_port_is_reported_before_anything_starts(private_settings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        s: Settings = private_settings(kafka_port=squatter.getsockname()[1])
        with pytest.raises(broker.KafkaError, match="QMUX_KAFKA_PORT"):
            broker.start(s, progress=lambda _: None)
    assert procs.pid(s, "kafka") is None


def test_a_broker_that_dies_at_start_up_fails_with_its_log(private_settings) -> None:
    s: Settings = private_settings(kafka_heap="not-a-size")
    with pytest.raises(broker.KafkaError, match="exited during start-up") as err:
        broker.start(s, progress=lambda _: None)
    assert str(broker.log_path(s)) in str(err.value)
    assert "Invalid maximum heap size" in str(err.value)


def test_with_an_external_cluster_nothing_local_is_started_or_stopped(stack_settings, private_settings) -> None:
    s: Settings = private_settings(kafka_bootstrap=stack_settings.bootstrap, topic_prefix="ext-test.")
    broker.start(s, progress=lambda _: None)
    assert procs.pid(s, "kafka") is None and not broker.log_path(s).exists()
    names = admin.run(admin.list_topics(s.bootstrap))
    assert {n for n, _ in all_topics("ext-test.", s.topic_partitions)} <= set(names)
    assert broker.stop(s) is False
    assert broker.status(stack_settings)["running"]


def test_procs_supervises_a_detached_process(tmp_path) -> None:
    s = Settings(home=tmp_path)
    # ignores SIGTERM, so that stop must escalate; reports the environment it was given
    script = ("import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "print('up', os.environ['QMUX_PROBE'], 'PATH' in os.environ, flush=True); time.sleep(60)")
    p = procs.spawn(s, "stubborn", [sys.executable, "-c", script], env={"QMUX_PROBE": "7"})
    try:
        assert procs.pid(s, "stubborn") == p and procs.is_running(s, "stubborn")
        with pytest.raises(procs.ProcessError, match="already running"):
            procs.spawn(s, "stubborn", [sys.executable, "-c", script])
        deadline = time.monotonic() + 10
        while not procs.log_tail(s, "stubborn", 1).startswith("up") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs.log_tail(s, "stubborn", 1) == "up 7 True"
        t0 = time.monotonic()
        assert procs.stop(s, "stubborn", timeout=0.5) is True
        assert 0.5 <= time.monotonic() - t0 < 5
        assert not procs.is_running(s, "stubborn") and not procs.pid_path(s, "stubborn").exists()
        assert procs.stop(s, "stubborn") is False
    finally:
        procs.kill(s, "stubborn")  # a no-op unless an assertion above failed


def test_a_pid_file_naming_someone_elses_process_is_stale(tmp_path) -> None:
    s = Settings(home=tmp_path)
    procs.pid_path(s, "ghost").parent.mkdir(parents=True)
    # this very process is alive, but it did not start at the time the pid file records
    procs.pid_path(s, "ghost").write_text(f"{os.getpid()} 1\n")
    assert procs.pid(s, "ghost") is None and not procs.is_running(s, "ghost")
    assert procs.stop(s, "ghost") is False and not procs.pid_path(s, "ghost").exists()
