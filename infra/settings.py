"""The one typed settings object. Read once at start-up from QMUX_* variables and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMUX_", extra="ignore", frozen=True)

    home: Path = Field(Path(".qmux"), description="local state: broker data, chDB, logs, pid files")
    kafka_bootstrap: str | None = Field(
        None, description="an existing Kafka cluster; when unset qmux starts its own local broker"
    )
    kafka_port: int = Field(19092, description="local broker's client port (127.0.0.1)")
    kafka_controller_port: int = Field(19093, description="local broker's KRaft controller port")
    kafka_heap: str = "1g"
    kafka_version: str = "4.4.0"
    topic_prefix: str = "qmux."
    topic_partitions: int = Field(4, ge=1, description="partitions of each keyed topic")
    clickhouse_dsn: str | None = Field(
        None, description="chdb:///PATH (embedded, default under home) or http://user:pw@host:8123/db"
    )
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8742
    gateway_url: str | None = Field(None, description="where the CLI finds the gateway")
    worker_web_port: int = 6067
    max_body_bytes: int = 256 * 1024
    max_shots: int = 100_000
    calibration_interval_s: float = Field(600.0, gt=0, description="calibrate a QPU this often (at a job boundary)")
    calibration_seconds: float = Field(0.5, ge=0, description="how long a (simulated) calibration takes")
    calibration_failure_probability: float = Field(0.0, ge=0, le=1, description="injected calibration failures")
    abort_probability: float = Field(0.0, ge=0, le=1, description="injected hardware aborts per attempt")
    fault_seed: int = Field(0, description="seed of the injected faults (deterministic per job and attempt)")
    invoice_check_s: float = Field(60.0, gt=0, description="how often the billing agent issues due invoices")
    api_key: str | None = Field(None, description="the CLI's API key (tenant, analyst, auditor or operator)")
    operator_key: str | None = Field(
        None, description="bootstrap operator API key; when unset `qmux up` writes one to HOME/operator.key"
    )

    @field_validator("home")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def local_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{self.home / 'chdb'}"

    @property
    def gateway(self) -> str:
        return self.gateway_url or f"http://{self.gateway_host}:{self.gateway_port}"


def load() -> Settings:
    return Settings()
