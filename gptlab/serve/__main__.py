"""`python -m gptlab.serve` runs `gptlab serve`."""

import sys

from gptlab.serve.cli import main

sys.exit(main())
