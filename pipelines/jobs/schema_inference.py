"""Infers a fresh schema from a CSV and diffs it against the curated one.

The curated schema under schemas/ is the contract ExampleValidator enforces. When the
data legitimately changes, `sluice schema infer` shows what a fresh inference would
say, so the curator can update the contract deliberately instead of silently.
"""
from __future__ import annotations

from pathlib import Path

from tensorflow_metadata.proto.v0 import schema_pb2


def infer_schema(csv_path: Path, identity_buckets: dict[str, int] | None = None
                 ) -> schema_pb2.Schema:
    """TFDV's inferred schema plus value ranges for numeric features where the data
    supports them (see add_value_ranges)."""
    import tensorflow_data_validation as tfdv
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.run.beam_args import IN_MEMORY_BEAM

    stats = tfdv.generate_statistics_from_csv(str(csv_path), pipeline_options=PipelineOptions(list(IN_MEMORY_BEAM)))
    schema = tfdv.infer_schema(stats)
    allow_missing_values(schema)
    add_value_ranges(schema, stats, identity_buckets or {})
    return schema


def allow_missing_values(schema: schema_pb2.Schema) -> None:
    """A column with missing values is optional: TFDV's inference gives it
    `value_count {min: 1}`, but ExampleGen writes an empty cell as a feature with no
    values, so the very file the schema came from would stop at the data gate with
    "Missing values" anomalies. Such features keep at most one value and may have none."""
    for feature in schema.feature:
        if feature.presence.min_fraction < 1.0 and feature.HasField("value_count"):
            feature.value_count.ClearField("min")


def add_value_ranges(schema: schema_pb2.Schema, stats, identity_buckets: dict[str, int]) -> None:
    """Value-range constraints ExampleValidator then enforces: an identity feature's ids
    lie in [0, buckets - 1] (the config says so); a numeric feature never seen below
    zero gets min 0 (counts, amounts, durations). Upper bounds of continuous features
    are left to the drift gate: a new maximum is not an error, a new distribution is."""
    numeric = {}
    for feature in stats.datasets[0].features:
        if feature.HasField("num_stats"):
            numeric[".".join(feature.path.step) or feature.name] = feature.num_stats
    for feature in schema.feature:
        found = numeric.get(feature.name)
        if found is None or feature.type not in (schema_pb2.INT, schema_pb2.FLOAT):
            continue
        domain = feature.int_domain if feature.type == schema_pb2.INT else feature.float_domain
        if feature.name in identity_buckets and feature.type == schema_pb2.INT:
            domain.min, domain.max = 0, identity_buckets[feature.name] - 1
        elif found.min >= 0:
            domain.min = 0


def load_schema(path: Path) -> schema_pb2.Schema:
    import tensorflow_data_validation as tfdv

    return tfdv.load_schema_text(str(path))


def write_schema(schema: schema_pb2.Schema, path: Path) -> None:
    import tensorflow_data_validation as tfdv

    path.parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, str(path))


def _describe(feature: schema_pb2.Feature, schema: schema_pb2.Schema) -> dict:
    domain: set = set()
    if feature.HasField("domain"):
        domain = {d.name: set(d.value) for d in schema.string_domain}.get(
            feature.domain, set()
        )
    bounds = feature.int_domain if feature.HasField("int_domain") else (
        feature.float_domain if feature.HasField("float_domain") else None)
    return {
        "type": schema_pb2.FeatureType.Name(feature.type),
        "required": feature.presence.min_fraction >= 1.0,
        "domain": domain,
        "range": (f"[{bounds.min if bounds.HasField('min') else ''}, "
                  f"{bounds.max if bounds.HasField('max') else ''}]") if bounds else "none",
    }


def diff_schemas(curated: schema_pb2.Schema, inferred: schema_pb2.Schema) -> list[str]:
    """Human-readable differences, one line per feature property that changed."""
    old = {f.name: _describe(f, curated) for f in curated.feature}
    new = {f.name: _describe(f, inferred) for f in inferred.feature}
    lines = [f"+ {name}: new column ({new[name]['type']})" for name in new if name not in old]
    lines += [f"- {name}: column no longer in the data" for name in old if name not in new]
    for name in sorted(set(old) & set(new)):
        a, b = old[name], new[name]
        if a["type"] != b["type"]:
            lines.append(f"~ {name}: type {a['type']} -> {b['type']}")
        if a["required"] != b["required"]:
            lines.append(f"~ {name}: required {a['required']} -> {b['required']}")
        if a["range"] != b["range"]:
            lines.append(f"~ {name}: value range {a['range']} -> {b['range']}")
        if added := sorted(b["domain"] - a["domain"]):
            lines.append(f"~ {name}: new values {added[:10]}")
    return lines


def infer_for(config, span: str | None, output: Path | None) -> list[str]:
    """`sluice schema infer`: infers a schema from the config's data (for a pattern of
    spans, the newest span or --span), writes it to output if given, and -> the lines
    that compare it with the curated schema as it was before this call."""
    import tempfile

    from sluice_config import spans

    with tempfile.TemporaryDirectory() as scratch:
        data = _data_file(config, span, Path(scratch))
        inferred = infer_schema(data, {f.name: f.buckets for f in config.features if f.kind == "identity"})
    curated = load_schema(config.schema) if config.schema.is_file() else None  # before writing
    lines = []
    if output:
        write_schema(inferred, output)
        lines.append(f"wrote {output}")
    if curated is None:
        return lines + [f"no curated schema at {config.schema} yet: nothing to compare with. Review the "
                        "inferred schema, save it there and check it in."]
    diff = diff_schemas(curated, inferred)
    return lines + [f"{data if not spans.is_pattern(config.data) else config.data} vs curated "
                    f"{config.schema} (as it was before this command):",
                    *(diff or ["  no differences"])]


def _data_file(config, span: str | None, scratch: Path) -> Path:
    """The file a schema is inferred from: the config's CSV; for a pattern of spans the
    newest span (or --span N, or FIRST..LAST), its files joined under scratch."""
    import csv

    from pipelines.run import span_window
    from sluice_config import spans

    if not spans.is_pattern(config.data):
        return config.data
    chosen = spans.select(spans.find(config.data), span, 1, str(config.data))
    files = [f for s in chosen for f in s.files]
    if len(files) == 1:
        return files[0]
    with open(files[0], newline="") as handle:
        header = next(csv.reader(handle))
    return span_window.joined(files, header, scratch)
