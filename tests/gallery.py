"""`python -m tests.gallery`: refresh the README's screenshot gallery (docs/screenshots/) by running the
browser test with its screenshots written there instead of to build/screenshots/."""

import os
import sys

import pytest

if __name__ == "__main__":
    os.environ["BN_SCREENSHOTS"] = "docs/screenshots"
    sys.exit(pytest.main(["-m", "browser", "tests/test_browser.py", *sys.argv[1:]]))
