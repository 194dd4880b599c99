"""Beanpole's platform engine, run as a zip archive: `python3 engine.pyz COMMAND ...`."""

import sys

from beanpole_engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
