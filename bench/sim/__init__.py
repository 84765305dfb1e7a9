"""`python -m bench.sim` / `qmux sim`: the scheduling simulation harness."""

from bench.sim.cli import main

__all__ = ["main"]
