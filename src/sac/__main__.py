"""``python -m sac ...`` = the ``sac`` command (for environments without the console script on PATH)."""

import sys

from sac.cli import main

sys.exit(main())
