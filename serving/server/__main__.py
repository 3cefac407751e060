"""`python -m serving.server --serving-dir DIR [options]`: the model server on its own.
Infra validation and the tests start it this way; `sluice serve` runs the same server.
Serving sits below the pipeline and never imports or launches it."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from serving.server import options


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.server", description=__doc__)
    parser.add_argument("--serving-dir", required=True, help="folder of <model>/<version>/")
    options.add_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("sluice").setLevel(logging.INFO)
    options.serve(Path(args.serving_dir), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
