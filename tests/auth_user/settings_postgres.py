"""``auth.User`` (the profile store) on the machine's PostgreSQL and Redis.

Used by ``benchmarks/scale_postgres.py --store profile``. Its database must
be one of its own: a database migrated for the test app's user model cannot
serve ``auth.User``.
"""

from tests.auth_user.settings import *  # noqa: F403
from tests.settings_postgres import CACHES, DATABASES  # noqa: F401
