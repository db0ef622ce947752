#!/usr/bin/env python
"""Django's command-line utility; the same entry point as the `hector` console script."""

import sys

from hector_site.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
