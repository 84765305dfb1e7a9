"""What the gateway must know to admit a submission at once: who exists (registry) and each
tenant's standing against its plan (admission state), folded from the log with duplicates dropped."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain import events as ev
from domain.registry import Registry
from domain.scheduling import admission


@dataclass
class Standing:
    registry: Registry = field(default_factory=Registry)
    accounts: admission.State = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def apply(self, e: ev.Event) -> None:
        self.registry.apply(e)
        if e.event_id in self.seen:
            return
        self.seen.add(e.event_id)
        self.accounts = admission.apply(self.accounts, e)
