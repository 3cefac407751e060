"""Trainer modules a user could have written, run by the tests: copy one to start."""
