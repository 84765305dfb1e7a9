"""Multi-tenant scheduling policies: plans, admission, fair share, placement, calibration,
noisy neighbours and abort retries.

Every module here is pure: inputs are values folded from events (or given as arguments), outputs
are decisions. Time is passed in (seconds since the epoch, or an aware datetime where a quota
window needs the calendar); randomness comes from explicit seeds. Nothing here reads a clock,
the environment, Kafka, ClickHouse or JAX, which is what makes a replay of the log exact and lets
the simulator in `bench/sim` drive the very same code.
"""
