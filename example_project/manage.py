#!/usr/bin/env python
"""Run the Pocket Wallet example project (see the README: scripts/demo does the set-up)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pocket_wallet.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
