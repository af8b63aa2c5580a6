import sys

from bn_demo.cli import run

sys.exit(run())
