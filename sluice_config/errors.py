"""The config's error type and its "did you mean" hint: the bottom of sluice_config, so
every module that reads user input (config, spans) raises the same error without
importing the config module."""
from __future__ import annotations

import difflib


class ConfigError(ValueError):
    """A configuration file is invalid; the message says where and how to fix it."""


def did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""
