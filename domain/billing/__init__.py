"""Billing: price books, metering, the per-tenant ledger and hash chain, invoices and replay.

Pure domain code (standard library, pydantic and `domain.events` only): the billing agent runs
`Ledgers.apply` on every delivered event and emits what it returns; the auditor runs `rederive`
on the whole log and compares with `reconcile` and `verify_chain`.
"""

from domain.billing.chain import ChainReport, verify_chain
from domain.billing.invoices import period_of
from domain.billing.ledger import BillingLedger, LedgerError, Ledgers
from domain.billing.metering import JobMeter, NotBilled, Usage
from domain.billing.pricing import PriceBook, PriceBooks, PricingError, book_at, qpu_seconds_to_micro
from domain.billing.replay import Reconciliation, reconcile, rederive

__all__ = [
    "BillingLedger", "ChainReport", "JobMeter", "LedgerError", "Ledgers", "NotBilled", "PriceBook",
    "PriceBooks", "PricingError", "Reconciliation", "Usage", "book_at", "period_of",
    "qpu_seconds_to_micro", "reconcile", "rederive", "verify_chain",
]
