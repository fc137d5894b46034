"""Run the grading command line: `python -m grading --help`."""

import sys

from grading.cli import main

sys.exit(main())
