"""The default test run does not collect this folder: its tests need their own
user model (tests.uuid_user.settings). tests/test_uuid_user.py runs them in a
process of their own with VE_UUID_USER_TESTS=1.
"""

import os

if os.environ.get("VE_UUID_USER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]
