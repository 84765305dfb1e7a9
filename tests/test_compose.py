"""docker-compose.yml cannot run here (no Docker engine), so check it against what the code expects."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.settings import Settings
from streams.topics import TOPICS

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    return dict(env) if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_services_images_and_roles():
    c = _compose()["services"]
    assert {"kafka", "clickhouse", "gateway", "worker", "projector", "topics"} <= set(c)
    assert c["kafka"]["image"].startswith("apache/kafka:4")
    assert c["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    for role in ("gateway", "worker", "projector", "topics"):
        assert c[role]["build"] == "."
        assert c[role]["command"] == [role]  # the Dockerfile's ENTRYPOINT is `qmux`


def test_every_qmux_variable_is_a_real_setting_and_points_at_the_compose_services():
    c = _compose()["services"]
    fields = {f"QMUX_{name.upper()}" for name in Settings.model_fields}
    for role in ("gateway", "worker", "projector", "topics"):
        env = _env(c[role])
        unknown = {k for k in env if k.startswith("QMUX_")} - fields
        assert not unknown, f"{role} sets variables qmux does not read: {unknown}"
        assert env["QMUX_KAFKA_BOOTSTRAP"].split(":")[0] == "kafka"
        assert env["QMUX_CLICKHOUSE_DSN"].startswith("http://") and "@clickhouse:8123" in env["QMUX_CLICKHOUSE_DSN"]
        assert env["QMUX_TOPIC_PREFIX"] == Settings.model_fields["topic_prefix"].default
        # a Settings object must accept the service's environment as it is
        Settings(**{k[5:].lower(): v for k, v in env.items() if k.startswith("QMUX_") and "${" not in v})


def test_ports_match_the_code_and_bind_to_loopback_on_the_host():
    c = _compose()["services"]
    gw_env = _env(c["gateway"])
    assert f"127.0.0.1:{gw_env['QMUX_GATEWAY_PORT']}:{gw_env['QMUX_GATEWAY_PORT']}" in c["gateway"]["ports"]
    assert int(gw_env["QMUX_GATEWAY_PORT"]) == Settings.model_fields["gateway_port"].default
    assert "127.0.0.1:8123:8123" in c["clickhouse"]["ports"]
    kafka_env = _env(c["kafka"])
    assert kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics are created explicitly, as locally
    assert kafka_env["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert "kafka:9092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert f"127.0.0.1:{Settings.model_fields['kafka_port'].default}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    for p in c["kafka"]["ports"] + c["clickhouse"]["ports"] + c["gateway"]["ports"]:
        assert p.startswith("127.0.0.1:"), p
    dsn = gw_env["QMUX_CLICKHOUSE_DSN"]
    ch = _env(c["clickhouse"])
    assert dsn.startswith(f"http://{ch['CLICKHOUSE_USER']}:{ch['CLICKHOUSE_PASSWORD']}@")


def test_dockerfile_installs_the_project_and_runs_qmux():
    text = (ROOT / "Dockerfile").read_text()
    for pkg in ("streams", "domain", "projections", "qpu_jax", "infra"):
        assert f"COPY {pkg} {pkg}" in text
    assert 'ENTRYPOINT ["qmux"]' in text
    assert len(TOPICS) >= 7
