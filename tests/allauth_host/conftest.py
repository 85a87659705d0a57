"""The allauth bridge in a host project with django-allauth (account and headless).

The default test run does not collect this folder: its settings
(``tests.allauth_host.settings``) install allauth and need PostgreSQL. The
``allauth`` tox env sets VE_ALLAUTH_TESTS=1 and runs it.
"""

import os

if os.environ.get("VE_ALLAUTH_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]
