#!/usr/bin/env python
"""Django's command-line utility for semrec."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    # platform/ and plugins/ are source roots; an editable install puts them on
    # sys.path too, but a plain checkout must work without one.
    for source_root in ("platform", "plugins"):
        path = str(ROOT / source_root)
        if path not in sys.path:
            sys.path.insert(0, path)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "semrec.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
