"""Injected hardware faults for the simulated fleet: deterministic in (seed, what, which attempt)."""

from __future__ import annotations

import random


def calibration_fails(seed: int, calibration_event_id: str, probability: float) -> bool:
    return probability > 0 and random.Random(f"calibration:{seed}:{calibration_event_id}").random() < probability
