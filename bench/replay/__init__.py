"""Replay benchmark (see __main__)."""
