"""The calibration snapshot: the one source of every noise parameter a run uses.

A snapshot is a pydantic model so it travels as JSON inside `CalibrationCompleted` and round-trips
through `model_dump(mode="json")`. Times are microseconds, error rates are probabilities.
"""

from __future__ import annotations

import math
import random

from pydantic import BaseModel, ConfigDict, Field, model_validator


class QubitCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    t1_us: float = Field(gt=0, description="energy relaxation time T1")
    t2_us: float = Field(gt=0, description="dephasing time T2; must not exceed 2*T1")
    gate_error_1q: float = Field(ge=0, le=1, description="depolarizing parameter of every 1-qubit gate")
    readout_p1_given_0: float = Field(ge=0, le=1, description="P(read 1 | prepared 0)")
    readout_p0_given_1: float = Field(ge=0, le=1, description="P(read 0 | prepared 1)")

    @model_validator(mode="after")
    def _physical_t2(self) -> QubitCalibration:
        if self.t2_us > 2 * self.t1_us * (1 + 1e-12):
            raise ValueError(f"t2_us={self.t2_us} exceeds 2*t1_us={2 * self.t1_us}: no physical channel has T2 > 2*T1; "
                             "lower t2_us or raise t1_us")
        return self


class PairCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    qubits: tuple[int, int]
    gate_error_2q: float = Field(ge=0, le=1, description="depolarizing parameter of every 2-qubit gate on this pair")


class Drift(BaseModel):
    """Deterministic drift of error rates with time since calibration (off unless present)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_hour: float = Field(default=0.10, ge=0, description="mean relative growth of error rates per hour")
    spread: float = Field(default=0.5, ge=0, le=1, description="per-qubit rates vary by +-spread around the mean")
    seed: int = 0


class Calibration(BaseModel):
    """Noise parameters of one QPU at one calibration epoch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    qubits: list[QubitCalibration] = Field(min_length=1)
    pairs: list[PairCalibration] = Field(default_factory=list, description="the coupling map with 2-qubit errors")
    gate_time_1q_us: float = Field(default=0.035, ge=0)
    gate_time_2q_us: float = Field(default=0.3, ge=0)
    readout_time_us: float = Field(default=1.0, ge=0, description="measurement time per shot")
    reset_time_us: float = Field(default=200.0, ge=0, description="qubit reset/repetition delay per shot")
    uncoupled_gate_error_2q: float | None = Field(
        default=None, ge=0, le=1,
        description="2-qubit error for pairs outside the coupling map; default: the worst coupled pair's")
    idle_relaxation: bool = Field(default=False, description="relax idle qubits while others are gated")
    drift: Drift | None = None

    @model_validator(mode="after")
    def _pairs_in_range(self) -> Calibration:
        n = len(self.qubits)
        for p in self.pairs:
            a, b = p.qubits
            if a == b or not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"pair {list(p.qubits)} is not two distinct qubits of 0..{n - 1}")
        return self

    @property
    def num_qubits(self) -> int:
        return len(self.qubits)

    @property
    def coupling_map(self) -> list[tuple[int, int]]:
        return [p.qubits for p in self.pairs]

    def gate_error_2q(self, a: int, b: int) -> float:
        for p in self.pairs:
            if p.qubits in ((a, b), (b, a)):
                return p.gate_error_2q
        if self.uncoupled_gate_error_2q is not None:
            return self.uncoupled_gate_error_2q
        return max((p.gate_error_2q for p in self.pairs), default=0.0)

    def drifted(self, age_s: float) -> Calibration:
        """This snapshot after `age_s` seconds: error rates grow and T1/T2 shrink by a per-qubit factor.

        The factor for qubit q is 1 + rate_q * hours, rate_q drawn from (drift.seed, q): the same
        age always gives the same snapshot, so a run stays reproducible from its inputs.
        """
        if self.drift is None or age_s <= 0:
            return self
        d, hours = self.drift, age_s / 3600.0

        def factor(q: int) -> float:
            r = random.Random(f"{d.seed}:{q}").random()
            return 1.0 + d.per_hour * (1.0 + d.spread * (2.0 * r - 1.0)) * hours

        qubits = []
        for q, c in enumerate(self.qubits):
            f = factor(q)
            qubits.append(QubitCalibration(
                t1_us=c.t1_us / f, t2_us=c.t2_us / f, gate_error_1q=min(0.75, c.gate_error_1q * f),
                readout_p1_given_0=min(0.5, c.readout_p1_given_0 * f),
                readout_p0_given_1=min(0.5, c.readout_p0_given_1 * f)))
        pairs = [PairCalibration(qubits=p.qubits, gate_error_2q=min(
            0.9375, p.gate_error_2q * math.sqrt(factor(p.qubits[0]) * factor(p.qubits[1])))) for p in self.pairs]
        return self.model_copy(update={"qubits": qubits, "pairs": pairs, "drift": None})


def default_calibration(num_qubits: int, coupling_map: list[tuple[int, int]] | None = None,
                        seed: int = 0) -> Calibration:
    """Plausible transmon numbers: T1 ~ 80-150 us, T2 ~ 0.6-1.2 T1, 1q error ~ 3e-4, 2q ~ 8e-3, readout ~ 1-3%.

    Without a coupling map the qubits form a line 0-1-...-(n-1).
    """
    if not isinstance(num_qubits, int) or num_qubits < 1:
        raise ValueError(f"num_qubits must be a positive integer, got {num_qubits!r}")
    rnd = random.Random(f"default-calibration:{seed}")
    qubits = []
    for _ in range(num_qubits):
        t1 = rnd.uniform(80.0, 150.0)
        qubits.append(QubitCalibration(
            t1_us=round(t1, 3), t2_us=round(t1 * rnd.uniform(0.6, 1.2), 3),
            gate_error_1q=round(rnd.uniform(2e-4, 5e-4), 6),
            readout_p1_given_0=round(rnd.uniform(0.005, 0.02), 5),
            readout_p0_given_1=round(rnd.uniform(0.01, 0.03), 5)))
    edges = coupling_map if coupling_map is not None else [(i, i + 1) for i in range(num_qubits - 1)]
    pairs = [PairCalibration(qubits=(int(a), int(b)), gate_error_2q=round(rnd.uniform(5e-3, 1.2e-2), 5))
             for a, b in edges]
    return Calibration(qubits=qubits, pairs=pairs)
