"""The default test run does not collect this folder: its tests need Django's
``auth.User`` (tests.auth_user.settings). tests/test_auth_user.py runs them in
a process of their own with VE_AUTH_USER_TESTS=1.
"""

import os

if os.environ.get("VE_AUTH_USER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]
