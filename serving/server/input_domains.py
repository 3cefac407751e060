"""Values a model answers but should not have been asked: an identity id outside its
buckets (a model maps it to some embedding row, or clips it, and answers anyway), a
fraction for an INT feature, a number outside the curated schema's range, a word
outside its string domain. The model's layout holds each raw feature's domain
(trainers.data.raw_domains); the server counts what falls outside per feature in
/metrics, marks the row in the request log, and with --strict-inputs refuses the
request, naming the feature, the value and the domain. REST and gRPC alike: both
answer through ModelServer.score."""
from __future__ import annotations

import math


def _outside(domain: dict, value) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return False  # missing: the required-value check's business
    if "values" in domain:
        return value not in domain["values"]
    if isinstance(value, str):
        return False  # the type check's business
    if domain.get("integer") and (not math.isfinite(value) or value != int(value)):
        return True
    return value < domain.get("min", value) or value > domain.get("max", value)


def outside(layout, columns: dict[str, list]) -> dict[str, list[tuple[int, object]]]:
    """feature -> [(row, value)] of the values outside its domain ({} on the usual
    request: a few comparisons per value of a bounded feature)."""
    found = {}
    for name, domain in layout.domains.items():
        values = columns.get(name)
        if values is None:
            continue
        if "values" in domain:
            allowed = set(domain["values"])
            bad = [(i, v) for i, v in enumerate(values) if v is not None and v != "" and v not in allowed]
        else:
            bad = [(i, v) for i, v in enumerate(values) if _outside(domain, v)]
        if bad:
            found[name] = bad
    return found


def describe(domain: dict) -> str:
    """'identity ids 0..1', 'integers 0..23 (the schema's int_domain)', ..."""
    if domain.get("source", "").startswith("identity"):
        return domain["source"]
    if "values" in domain:
        shown = ", ".join(repr(v) for v in domain["values"][:8])
        more = f", … ({len(domain['values'])} values)" if len(domain["values"]) > 8 else ""
        return f"one of {shown}{more} ({domain.get('source', 'the schema')})"
    kind = "integers" if domain.get("integer") else "numbers"
    low, high = domain.get("min"), domain.get("max")
    span = (f" {low}..{high}" if low is not None and high is not None
            else f" >= {low}" if low is not None else f" <= {high}" if high is not None else "")
    return f"{kind}{span}" + (f" ({domain['source']})" if "source" in domain and span else "")


def refusal(layout, found: dict[str, list[tuple[int, object]]]) -> str:
    """The --strict-inputs message: the first value outside (its row in the request),
    and how many in all."""
    name, [(row, value), *_] = next(iter(found.items()))
    if isinstance(value, float) and value.is_integer():  # gRPC's float tensors: 99.0 is REST's 99
        value = int(value)
    total = sum(len(v) for v in found.values())
    more = f" ({total} value(s) outside their domains in this request)" if total > 1 else ""
    return (f"row {row}: '{name}' = {value!r} is outside its domain, "
            f"{describe(layout.domains[name])}{more}")
