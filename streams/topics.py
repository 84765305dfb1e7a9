"""Every Kafka topic qmux uses: name, partitions and what keys it. Created explicitly at start-up
(the broker runs with auto-create off), with infinite retention: the log is the system of record."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str          # without the prefix
    keyed_by: str      # what the message key is
    partitions: int | None = None  # None: Settings.topic_partitions


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("admin", "tenant_id or qpu_id", partitions=1),       # tenants, keys, plans, QPUs, price books
    TopicSpec("submissions", "tenant_id"),                          # JobSubmitted, CancelRequested
    TopicSpec("jobs", "qpu_id"),                                    # JobAccepted / JobRejected, QuotaHeld
    TopicSpec("execution", "qpu_id"),                               # SlotReserved, JobStarted, ShotsMeasured, JobCompleted/Failed/Aborted
    TopicSpec("calibration", "qpu_id"),                             # CalibrationStarted / Completed / Failed
    TopicSpec("billing", "tenant_id"),                              # UsageCharged, QuotaSettled, InvoiceIssued
    TopicSpec("deadletter", "source topic", partitions=1),          # messages an agent could not process, with the reason
)


def topic_name(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def all_topics(prefix: str, default_partitions: int) -> list[tuple[str, int]]:
    return [(topic_name(prefix, t.name), t.partitions or default_partitions) for t in TOPICS]
