"""A token bucket, as a value: its level is a function of the last take and the time now."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class TokenBucket:
    tokens_per_s: float
    burst: float
    tokens: float
    at: float | None = None  # seconds since the epoch of the last update; None: full

    @classmethod
    def full(cls, tokens_per_s: float, burst: float) -> TokenBucket:
        return cls(tokens_per_s, burst, burst, None)

    def level(self, now: float) -> float:
        if self.at is None:
            return self.burst
        # an event older than the last update must not refill the bucket backwards
        elapsed = max(0.0, now - self.at)
        return min(self.burst, self.tokens + elapsed * self.tokens_per_s)

    def retry_after_s(self, now: float) -> float:
        """Seconds until one token is available (0.0 if one is available now)."""
        missing = 1.0 - self.level(now)
        return 0.0 if missing <= 1e-12 else missing / self.tokens_per_s

    def take(self, now: float) -> TokenBucket:
        """Spend one token if there is one; an empty bucket is returned as it was (nothing allowed)."""
        level = self.level(now)
        if level < 1.0 - 1e-12:
            return self
        return replace(self, tokens=level - 1.0, at=max(now, self.at or now))

    def with_rate(self, tokens_per_s: float, burst: float) -> TokenBucket:
        return replace(self, tokens_per_s=tokens_per_s, burst=burst, tokens=min(self.tokens, burst))
