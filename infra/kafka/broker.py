"""One local Apache Kafka node (broker and KRaft controller in one JVM) under HOME/kafka.

    fetch(settings)          jars into <repo>/.cache/kafka/<version>/lib (Maven, once)
    start(settings)          format storage once, start the JVM, wait until it answers metadata
    ensure_topics(settings)  every topic of streams.topics, explicitly, infinite retention
    stop(settings)           SIGTERM, then SIGKILL after 30 s
    status(settings), log_tail(settings)

With QMUX_KAFKA_BOOTSTRAP set, qmux never starts or stops a broker: `start` only ensures topics.
"""

from __future__ import annotations

import base64
import fcntl
import shutil
import socket
import string
import time
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra import procs
from infra.kafka import admin
from infra.kafka.fetch import KafkaError, lib_dir
from infra.kafka.fetch import fetch as _fetch
from infra.settings import Settings
from streams.topics import all_topics

NAME = "kafka"
HERE = Path(__file__).resolve().parent
READY_TIMEOUT = 120.0  # a cold JVM on a busy two-core machine takes far longer than the usual 3 s
STOP_TIMEOUT = 30.0
TOPIC_CONFIGS = {"retention.ms": "-1", "retention.bytes": "-1"}

__all__ = ["KafkaError", "fetch", "start", "stop", "ensure_topics", "status", "log_tail", "data_dir", "log_path"]


def data_dir(settings: Settings) -> Path:
    return settings.home / "kafka" / "data"


def log_path(settings: Settings) -> Path:
    return procs.log_path(settings, NAME)


def log_tail(settings: Settings, lines: int = 50) -> str:
    return procs.log_tail(settings, NAME, lines)


def fetch(settings: Settings, progress: Callable[[str], None] = print) -> Path:
    """The folder of the broker's jars for settings.kafka_version, resolving them with Maven on first use."""
    return _fetch(settings.kafka_version, progress)


def _fail(settings: Settings, what: str) -> KafkaError:
    tail = log_tail(settings, 30) or "(the log is empty)"
    return KafkaError(f"{what}. Broker log: {log_path(settings)}; its last lines:\n{tail}")


def _port_served(port: int) -> bool:
    # a connection probe rather than a test bind: after a crash the dead broker's connections linger
    # in TIME_WAIT for a minute, which can fail a test bind while the broker itself binds fine
    return admin.port_open("127.0.0.1", port)


def _write_config(settings: Settings) -> Path:
    home = settings.home / "kafka"
    home.mkdir(parents=True, exist_ok=True)
    data_dir(settings).mkdir(parents=True, exist_ok=True)
    template = string.Template((HERE / "server.properties").read_text())
    props = home / "server.properties"
    props.write_text(template.substitute(port=settings.kafka_port, controller_port=settings.kafka_controller_port,
                                         data_dir=data_dir(settings)))
    return props


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaError("`java` is not on PATH: Kafka 4.x needs Java 17 or later "
                         "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless), or set QMUX_KAFKA_BOOTSTRAP")
    return java


def _format(settings: Settings, lib: Path, props: Path) -> None:
    """Write the KRaft metadata (cluster id, bootstrap records) into a fresh data directory."""
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    # `--cluster-id=ID`, not `-t ID`: one id in 64 starts with "-", which the tool would take for a flag
    cmd = [_java(), "-cp", str(lib / "*"), f"-Dlog4j2.configurationFile={HERE / 'log4j2.xml'}",
           "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not (data_dir(settings) / "meta.properties").exists():
        raise KafkaError(f"formatting {data_dir(settings)} failed (exit {done.returncode}):\n"
                         f"{(done.stdout + done.stderr).strip()[-3000:]}")


def start(settings: Settings, progress: Callable[[str], None] = print, timeout: float = READY_TIMEOUT) -> None:
    """Start the local broker unless it runs already, and wait until it answers metadata requests."""
    if not settings.local_kafka:
        progress(f"kafka: using the cluster at {settings.bootstrap}")
        ensure_topics(settings)
        return
    lock_path = settings.home / "run" / f"{NAME}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # two `qmux up` at once must not both launch a JVM on the same data directory: the second waits,
    # then finds the first one's broker running
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _start_locked(settings, progress, timeout)


def _start_locked(settings: Settings, progress: Callable[[str], None], timeout: float) -> None:
    alive = lambda: procs.is_running(settings, NAME)  # noqa: E731
    running = procs.pid(settings, NAME)
    if running is not None:
        try:
            admin.run(admin.wait_ready(settings.bootstrap, timeout, alive))
        except (TimeoutError, RuntimeError) as exc:
            raise _fail(settings, f"the broker (pid {running}) runs but does not answer on {settings.bootstrap}: {exc}") from None
        progress(f"kafka: already running (pid {running}) on {settings.bootstrap}")
        return
    stale = procs.pid_path(settings, NAME).exists()  # our broker died: its sockets may take a moment to go
    for what, port in (("QMUX_KAFKA_PORT", settings.kafka_port), ("QMUX_KAFKA_CONTROLLER_PORT", settings.kafka_controller_port)):
        deadline = time.monotonic() + (15.0 if stale else 0.0)
        while _port_served(port) and time.monotonic() < deadline:
            time.sleep(0.25)
        if _port_served(port):
            raise KafkaError(f"127.0.0.1:{port} is served by another process: stop it, or set {what} to a free port "
                             f"(or QMUX_KAFKA_BOOTSTRAP to use a running cluster)")
    lib = fetch(settings, progress)
    props = _write_config(settings)
    if not (data_dir(settings) / "meta.properties").exists():
        _format(settings, lib, props)
        progress(f"kafka: formatted {data_dir(settings)}")
    argv = [_java(), f"-Xmx{settings.kafka_heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.xml'}", "-cp", str(lib / "*"),
            "kafka.Kafka", str(props)]
    pid = procs.spawn(settings, NAME, argv, cwd=settings.home / "kafka")
    progress(f"kafka: started {settings.kafka_version} (pid {pid}) on {settings.bootstrap}, log {log_path(settings)}")
    try:
        took = admin.run(admin.wait_ready(settings.bootstrap, timeout, alive))
    except RuntimeError:
        raise _fail(settings, "the broker exited during start-up") from None
    except TimeoutError as exc:
        raise _fail(settings, f"the broker did not become ready: {exc}; it is left running, "
                              f"`qmux down` stops it") from None
    progress(f"kafka: ready after {took:.1f}s")


def ensure_topics(settings: Settings) -> list[str]:
    """Create every qmux topic that does not exist yet; returns the names created."""
    topics = all_topics(settings.topic_prefix, settings.topic_partitions)
    try:
        return admin.run(admin.ensure_topics(settings.bootstrap, topics, TOPIC_CONFIGS))
    except Exception as exc:
        raise KafkaError(f"could not create the topics on {settings.bootstrap}: {exc!r}; "
                         f"is the broker up (`qmux status`)?") from None


def stop(settings: Settings) -> bool:
    """Stop the local broker; False when it was not running (or the cluster is not ours to stop)."""
    if not settings.local_kafka:
        return False
    try:
        return procs.stop(settings, NAME, timeout=STOP_TIMEOUT)
    except procs.ProcessError as exc:
        raise KafkaError(str(exc)) from None


def status(settings: Settings) -> dict[str, Any]:
    """Whether the broker runs and answers, where, and which topics it has."""
    out: dict[str, Any] = {"local": settings.local_kafka, "bootstrap": settings.bootstrap,
                           "version": settings.kafka_version if settings.local_kafka else None,
                           "pid": procs.pid(settings, NAME) if settings.local_kafka else None}
    if settings.local_kafka:
        out["log"] = str(log_path(settings))
        out["jars"] = (lib_dir(settings.kafka_version) / ".complete").exists()
    probe = out["pid"] is not None or not settings.local_kafka
    topics = None
    if probe:
        try:
            with admin.quiet():
                topics = admin.run(admin.list_topics(settings.bootstrap, timeout_ms=3_000))
        except Exception:
            topics = None
    out["reachable"] = topics is not None
    out["running"] = out["pid"] is not None if settings.local_kafka else out["reachable"]
    out["topics"] = topics
    return out
