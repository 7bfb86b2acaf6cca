"""``python -m sac.cli``."""

import sys

from sac.cli import main

sys.exit(main())
