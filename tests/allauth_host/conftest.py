"""The allauth bridge in a host project with django-allauth (account and headless).

The default test run does not collect this folder: its settings
(``tests.allauth_host.settings``) install allauth and need PostgreSQL. The
``allauth`` tox env sets VE_ALLAUTH_TESTS=1 and runs it. Its real-browser
walk (test_browser_walk.py, marker ``browser``) also needs VE_BROWSER_TESTS=1
(scripts/test-browser) and is skipped without it.
"""

import os

if os.environ.get("VE_ALLAUTH_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]
