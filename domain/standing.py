"""What the gateway must know to admit a submission at once: who exists (registry) and each
tenant's standing against its plan (admission state), folded from the log with duplicates dropped."""

from __future__ import annotations

from dataclasses import dataclass, field

from collections import deque

from domain import dispatch
from domain import events as ev
from domain.registry import Registry
from domain.scheduling import admission, explain


THROTTLE_S = 600.0  # a tenant throttled after a noisy-neighbour incident may not run pulse-level work this long


@dataclass
class Standing:
    registry: Registry = field(default_factory=Registry)
    accounts: admission.State = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    queues: dict[str, dispatch.State] = field(default_factory=dict)   # the scheduler's state, mirrored
    started: dict[str, float] = field(default_factory=dict)           # job -> start time
    service_times: dict[str, deque[float]] = field(default_factory=dict)  # qpu -> recent durations (s)
    throttled_until: dict[str, float] = field(default_factory=dict)   # tenant -> end of its throttle (epoch s)
    notices: dict[str, list[dict[str, object]]] = field(default_factory=dict)  # tenant -> incidents touching it

    def apply(self, e: ev.Event) -> None:
        self.registry.apply(e)
        if e.event_id in self.seen:
            return
        self.seen.add(e.event_id)
        self.accounts = admission.apply(self.accounts, e)
        if isinstance(e, ev.NoisyNeighbourDetected):
            self._incident(e)
        qpu_id = getattr(e, "qpu_id", None)
        if qpu_id is None:
            return
        self.queues[qpu_id] = dispatch.fold(self.queues.get(qpu_id) or dispatch.new_state(qpu_id), e)
        if isinstance(e, ev.JobStarted):
            self.started[e.job_id] = e.occurred_at.timestamp()
        elif isinstance(e, (ev.JobCompleted, ev.JobFailed)) and e.job_id in self.started:
            took = e.occurred_at.timestamp() - self.started.pop(e.job_id)
            self.service_times.setdefault(qpu_id, deque(maxlen=100)).append(max(0.0, took))

    def _incident(self, e: ev.NoisyNeighbourDetected) -> None:
        notice = {"event_id": e.event_id, "at": e.occurred_at.isoformat(), "qpu_id": e.qpu_id, "action": e.action,
                  "qubits": list(e.qubits), "suspect": e.suspect_tenant_id}
        for t in e.affected_tenants:
            self.notices.setdefault(t, []).append({**notice, "suspect": None, "role": "affected"})
        if e.suspect_tenant_id:
            self.notices.setdefault(e.suspect_tenant_id, []).append({**notice, "role": "suspect"})
            if e.action == "throttle":
                self.throttled_until[e.suspect_tenant_id] = e.occurred_at.timestamp() + THROTTLE_S

    def throttled(self, tenant_id: str, now: float) -> float:
        """Seconds left of the tenant's throttle (0 when none)."""
        return max(0.0, self.throttled_until.get(tenant_id, 0.0) - now)

    def explain(self, qpu_id: str, job_id: str, now: float) -> explain.Explanation | None:
        """Why a queued job is where it is, with an ETA fitted on this QPU's observed service times."""
        state = self.queues.get(qpu_id)
        if state is None or not any(q["job_id"] == job_id for q in state["queue"]):
            return None
        running_left = 0.0
        times = list(self.service_times.get(qpu_id, ()))
        started = [self.started[j] for j in state["active"] if j in self.started]
        if started and times:
            running_left = max(0.0, sum(times) / len(times) - (now - min(started)))
        return explain.explain(job_id, dispatch.entries(state), dispatch.decayed_usage(state, now), now,
                               observed_service_times=times, running_remaining_s=running_left)
