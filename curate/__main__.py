import sys

from curate.cli import run

sys.exit(run())
