"""`python -m pipelines.cli`: the same as `sluice`."""
import sys

from pipelines.cli import main

sys.exit(main())
