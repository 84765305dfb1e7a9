from __future__ import annotations

import pytest

from domain import events as ev
from domain import tenant
from domain.registry import Registry

from tests.domain.factories import T0


def _events(secret: str):
    yield ev.TenantRegistered(event_id="t", tenant_id="acme", aggregate_id="acme", aggregate_version=0, occurred_at=T0, name="Acme")
    yield ev.ApiKeyIssued(event_id="k", tenant_id="acme", aggregate_id="acme", aggregate_version=1, occurred_at=T0,
                          key_id="k1", key_sha256=tenant.hash_secret(secret))


def test_keys_authenticate_by_hash_and_revocation_takes_effect():
    r = Registry()
    for e in _events("s3cret"):
        r.apply(e)
        r.apply(e)  # duplicate delivery is harmless
    assert r.authenticate("qmx_k1_s3cret") == ("acme", "tenant")
    for bad in ("qmx_k1_wrong", "qmx_nokey_s3cret", "garbage", "qmx__x"):
        with pytest.raises(tenant.UnknownKey):
            r.authenticate(bad)
    r.apply(ev.ApiKeyRevoked(event_id="rv", tenant_id="acme", aggregate_id="acme", aggregate_version=2, occurred_at=T0, key_id="k1"))
    with pytest.raises(tenant.UnknownKey):
        r.authenticate("qmx_k1_s3cret")


def test_the_secret_is_never_stored():
    r = Registry()
    for e in _events("s3cret"):
        r.apply(e)
    assert "s3cret" not in repr(vars(r.tenants["acme"]))
