"""Parses the config's label rule ("tips > 0.2 * fare"): one small grammar, no eval()."""
from __future__ import annotations

import re

_RULE = re.compile(
    r"^\s*(?P<column>\w+)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?:(?P<scale>\d+(?:\.\d+)?)\s*\*\s*)?(?P<other>\w+(?:\.\d+)?)\s*$"
)
_NUMBER = re.compile(r"\d+(\.\d+)?")


def parse_rule(text: str) -> dict:
    """'tips > 0.2 * fare' -> {column: tips, op: '>', scale: 0.2, other: 'fare'}."""
    match = _RULE.match(text or "")
    if not match:
        raise ValueError(
            f"label.derive: cannot parse {text!r}; write it as "
            "'<column> <op> [<number> *] <column or number>', e.g. 'tips > 0.2 * fare'."
        )
    rule = match.groupdict()
    rule["scale"] = float(rule["scale"] or 1.0)
    return rule


def rule_columns(rule: dict) -> tuple[str, ...]:
    """The CSV columns a rule reads (the right side may be a constant)."""
    if _NUMBER.fullmatch(rule["other"]):
        return (rule["column"],)
    return (rule["column"], rule["other"])
