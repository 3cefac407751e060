"""The data commands: `sluice spans`, `sluice schema infer`, `sluice drift show|pin`."""
from __future__ import annotations

import getpass
import sys
from pathlib import Path

from pipelines.cli.common import EXIT_NOTHING_NEW, add_common, add_who_and_why, load_config, paths


def cmd_spans(args) -> int:
    """Lists the spans; --new exits 0 and prints the newest span's number when no run
    judged it yet, else 99: the cheap first task of a scheduled DAG; accept N takes a
    span as it is."""
    from pipelines.jobs import span_jobs

    config, home = load_config(args), paths(args)
    if args.action == "accept":
        print(span_jobs.accept(home, config.data, args.number, args.reason, args.by or getpass.getuser()))
        return 0
    if not args.new:
        for span in span_jobs.found_spans(config.data):
            print(f"{span.name}: {', '.join(str(f) for f in span.files)}")
        return 0
    newest, is_new = span_jobs.new_span(home, config.data)
    if not is_new:
        print(f"nothing new: {newest.name} was judged already", file=sys.stderr)
        return EXIT_NOTHING_NEW
    print(newest.number)
    return 0


def cmd_schema_infer(args) -> int:
    from pipelines.jobs.schema_inference import infer_for

    output = Path(args.output) if args.output else None
    print("\n".join(infer_for(load_config(args), args.span, output)))
    return 0


def cmd_drift(args) -> int:
    """`sluice drift show` names the references the next run's drift gate measures
    against; `sluice drift pin [--to V]` pins the reference to a version's data."""
    from components.gates import drift_reference
    from sluice_config.errors import ConfigError

    config, home = load_config(args), paths(args)
    name, reference = config.model_name, config.drift.reference
    if args.drift_command == "pin":
        try:
            entry = drift_reference.pin(home.serving_dir, name, args.to, args.by or getpass.getuser(),
                                        args.reason or "")
        except ValueError as err:
            raise ConfigError(f"drift pin: {err}") from None
        print(f"{name}: the drift reference is now version {entry['version']}'s data "
              f"({entry['statistics_uri']})")
        return 0
    found = drift_reference.references(home.serving_dir, name, reference)
    print(f"{name}: drift.reference is {reference}; the next run measures against:")
    print("\n".join(f"  {r['name']}: {r['statistics_uri']}" for r in found) or
          "  nothing yet (no version pushed)")
    return 0


def add_commands(sub) -> None:
    spans = sub.add_parser("spans", help="list the spans of the config's data pattern; --new: "
                                         "exit 0 if a span arrived that no run judged yet, else 99")
    add_common(spans)
    spans.add_argument("--data", help="a pattern of spans to use instead of the config's")
    spans.add_argument("--new", action="store_true", help="print the newest span if it is new, "
                                                          "else exit 99 (a scheduler's check)")
    spans.add_argument("action", nargs="?", choices=("accept",),
                       help="accept N: take span N as it is (it stopped at the data gate, or "
                            "changed in place), recorded with --reason")
    spans.add_argument("number", nargs="?", type=int, help="the span's number")
    add_who_and_why(spans, "accept: why, recorded with it", "accept: who (default: the current user)")
    spans.set_defaults(func=cmd_spans)

    drift = sub.add_parser("drift", help="the drift gate's reference data: show it, pin it")
    drift_sub = drift.add_subparsers(dest="drift_command", required=True)
    show = drift_sub.add_parser("show", help="the references the next run measures drift against")
    add_common(show)
    show.set_defaults(func=cmd_drift)
    pin = drift_sub.add_parser("pin", help="pin the drift reference to a version's data")
    add_common(pin)
    pin.add_argument("--to", type=int, help="version whose training data becomes the reference "
                                            "(default: the version serving now)")
    add_who_and_why(pin, "why, recorded with the pin")
    pin.set_defaults(func=cmd_drift)

    schema = sub.add_parser("schema", help="schema tools")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    infer = schema_sub.add_parser("infer", help="infer a fresh schema and diff it with the curated one")
    add_common(infer)
    infer.add_argument("--data", help="CSV to infer from (default: the config's)")
    infer.add_argument("--span", metavar="N|FIRST..LAST",
                       help="where data is a pattern of spans: infer from these (default: the newest)")
    infer.add_argument("-o", "--output", help="also write the inferred schema here")
    infer.set_defaults(func=cmd_schema_infer)
