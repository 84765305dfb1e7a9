from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from domain import events as ev

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def submitted(job_id: str = "j1", tenant: str = "acme", qpu: str = "qpu-a", at: datetime = T0, shots: int = 100,
              n: int = 2) -> ev.JobSubmitted:
    return ev.JobSubmitted(
        event_id=ev.deterministic_id(job_id, "JobSubmitted"), tenant_id=tenant, aggregate_id=job_id,
        aggregate_version=0, occurred_at=at, job_id=job_id, qpu_id=qpu, circuit_format="qasm2",
        circuit="OPENQASM 2.0;", num_qubits=n, num_gates=1, shots=shots, seed=1)


@pytest.fixture
def t0() -> datetime:
    return T0


@pytest.fixture
def later():
    return lambda s: T0 + timedelta(seconds=s)
