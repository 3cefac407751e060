"""sluice and the vanilla TFX taxi example as shipped, side by side, on the taxi rows
repeated to 15k, 150k and 1M rows (each copy's trip_start_timestamp shifted, so the
pre-flight does not refuse a file of repeated rows). Cold runs in fresh folders, one
after the other; wall time and peak RSS summed over the process tree (bench/
pipeline_vs_tfx.measure). Prints the table and the issue-15 targets, met or not.

usage: .venv/bin/python bench/scale.py [--rows 15002,150020,1005134] [--skip-vanilla]
       [--beam-arg ARG ...]   (passed to sluice, e.g. to compare Beam modes)
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pipeline_vs_tfx import BIN, measure  # noqa: E402

TAXI = HERE.parent / "data" / "taxi" / "data.csv"


def repeated_taxi(rows: int, folder: Path) -> Path:
    """<folder>/data.csv: the taxi rows repeated until `rows`, each copy distinct."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(TAXI, newline="") as f:
        reader = csv.DictReader(f)
        header, source = reader.fieldnames, list(reader)
    out = folder / "data.csv"
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        for i in range(rows):
            row = dict(source[i % len(source)])
            copy = i // len(source)
            if copy and row["trip_start_timestamp"]:
                row["trip_start_timestamp"] = str(int(row["trip_start_timestamp"]) + copy)
            writer.writerow(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="15002,150020,1005134")
    parser.add_argument("--skip-vanilla", action="store_true")
    parser.add_argument("--beam-arg", action="append", default=[])
    args = parser.parse_args()
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    sizes = [int(r) for r in args.rows.split(",")]
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            data = repeated_taxi(rows, Path(tmp, f"data{rows}"))
            sluice = measure([str(BIN / "sluice"), "run", "--trainer", "keras", "--steps", "1000",
                              "--data", str(data), "--home", str(Path(tmp, f"sluice{rows}")),
                              *[f"--beam-arg={a}" for a in args.beam_arg]], env)
            vanilla = None if args.skip_vanilla else measure(
                [str(BIN / "python"), str(HERE / "vanilla_taxi.py"), "shipped",
                 str(Path(tmp, f"vanilla{rows}")), str(data.parent)], env)
            table[rows] = (sluice, vanilla)
            line = f"{rows:>10,} rows  sluice {sluice[0]:7.1f} s {sluice[1]:5.2f} GB rc {sluice[2]}"
            if vanilla:
                line += f"   vanilla as shipped {vanilla[0]:7.1f} s {vanilla[1]:5.2f} GB rc {vanilla[2]}"
            print(line, flush=True)
    print("\ntargets (sluice, 2 cores)")
    small = table.get(min(sizes))
    for rows, (sluice, _) in table.items():
        if 100_000 <= rows < 1_000_000 and small:
            ratio = sluice[0] / small[0][0]
            print(f"  {rows:,} rows <= 1.3x the {min(sizes):,}-row wall: {ratio:.2f}x "
                  f"{'met' if ratio <= 1.3 else 'NOT met'}")
        if rows >= 1_000_000:
            print(f"  {rows:,} rows <= 120 s: {sluice[0]:.1f} s {'met' if sluice[0] <= 120 else 'NOT met'}; "
                  f"<= 2.5 GB: {sluice[1]:.2f} GB {'met' if sluice[1] <= 2.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
