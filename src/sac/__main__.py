"""``python -m sac ...`` = the ``sac`` command (for environments without the console script on PATH)."""

from sac.cli import main

if __name__ == "__main__":
    main()
