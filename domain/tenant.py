"""The Tenant aggregate: who may submit, with which keys, on which plan."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain import events as ev

_NS = uuid.UUID("4f0c9a57-77d8-4b8e-9a1e-5d2f7c3b6e90")
KEY_PREFIX = "qmx"


class TenantError(Exception):
    pass


class UnknownKey(TenantError):
    pass


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(api_key: str) -> tuple[str, str]:
    """`qmx_<key id>_<secret>` -> (key id, secret). The key id is not secret; the secret never leaves the caller."""
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        raise UnknownKey("malformed API key")
    return parts[1], parts[2]


class Tenant(Aggregate):
    @classmethod
    def create_id(cls, tenant_id: str, **_: object) -> uuid.UUID:
        return uuid.uuid5(_NS, tenant_id)

    @event("Registered")
    def __init__(self, tenant_id: str, name: str, plan: str):
        self.tenant_id, self.name, self.plan = tenant_id, name, plan
        self.plan_terms: dict[str, Any] = {}
        self.keys: dict[str, dict[str, Any]] = {}  # key id -> {sha256, role, revoked}

    @event("KeyIssued")
    def issue_key(self, key_id: str, key_sha256: str, role: str) -> None:
        self.keys[key_id] = {"sha256": key_sha256, "role": role, "revoked": False}

    def revoke_key(self, key_id: str) -> None:
        if key_id not in self.keys:
            raise UnknownKey(f"tenant {self.tenant_id} has no key {key_id}")
        self._revoked(key_id)

    @event("KeyRevoked")
    def _revoked(self, key_id: str) -> None:
        self.keys[key_id]["revoked"] = True

    @event("PlanAssigned")
    def assign_plan(self, plan: str, terms: dict[str, Any]) -> None:
        self.plan, self.plan_terms = plan, dict(terms)

    def authenticate(self, key_id: str, secret: str) -> str:
        """The key's role if the secret matches a live key (constant-time compare), else UnknownKey."""
        entry = self.keys.get(key_id)
        expected = entry["sha256"] if entry else hash_secret("")
        ok = hmac.compare_digest(hash_secret(secret), expected)
        if not entry or not ok or entry["revoked"]:
            raise UnknownKey("unknown or revoked API key")
        return str(entry["role"])


def apply(tenant: Tenant | None, e: ev.Event) -> Tenant | None:
    match e:
        case ev.TenantRegistered() if tenant is None:
            return Tenant(tenant_id=e.tenant_id, name=e.name, plan=e.plan)
        case ev.ApiKeyIssued() if tenant is not None:
            tenant.issue_key(e.key_id, e.key_sha256, e.role)
        case ev.ApiKeyRevoked() if tenant is not None:
            tenant.revoke_key(e.key_id)
        case ev.PlanAssigned() if tenant is not None:
            tenant.assign_plan(str(e.plan.get("name", tenant.plan)), e.plan)
    return tenant
