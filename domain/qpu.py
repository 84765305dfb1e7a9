"""The QPU aggregate: a registered processor, its current calibration epoch, and whether it is in service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain import events as ev

_NS = uuid.UUID("a3d51f6e-0b7c-4a2d-8e19-6c4b2f8d1e07")


class Qpu(Aggregate):
    @classmethod
    def create_id(cls, qpu_id: str, **_: object) -> uuid.UUID:
        return uuid.uuid5(_NS, qpu_id)

    @event("Registered")
    def __init__(self, qpu_id: str, num_qubits: int, coupling_map: list[tuple[int, int]], calibration: dict[str, Any]):
        self.qpu_id, self.num_qubits = qpu_id, num_qubits
        self.coupling_map = [tuple(p) for p in coupling_map]
        self.snapshot = calibration
        self.epoch = 0
        self.calibrated_at: datetime | None = None
        self.calibrating = False
        self.drained = False

    @event("CalibrationStarted")
    def start_calibration(self, epoch: int) -> None:
        self.calibrating = True

    @event("Calibrated")
    def calibrated(self, epoch: int, snapshot: dict[str, Any], at: datetime) -> None:
        self.epoch, self.snapshot, self.calibrated_at, self.calibrating = epoch, snapshot, at, False

    @event("Drained")
    def drain(self) -> None:
        self.drained = True

    @event("Resumed")
    def resume(self) -> None:
        self.drained = False

    @property
    def in_service(self) -> bool:
        return not (self.drained or self.calibrating)


def apply(qpu: Qpu | None, e: ev.Event) -> Qpu | None:
    match e:
        case ev.QpuRegistered() if qpu is None:
            return Qpu(qpu_id=e.qpu_id, num_qubits=e.num_qubits, coupling_map=e.coupling_map, calibration=e.calibration)
        case ev.CalibrationStarted() if qpu is not None:
            qpu.start_calibration(e.epoch)
        case ev.CalibrationCompleted() if qpu is not None:
            qpu.calibrated(e.epoch, e.snapshot, e.occurred_at)
        case ev.QpuDrained() if qpu is not None:
            qpu.drain()
        case ev.QpuResumed() if qpu is not None:
            qpu.resume()
    return qpu
