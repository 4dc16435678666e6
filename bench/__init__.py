"""Benchmarks: separate commands that print figures, never part of the test run."""
