"""The hardening suites on the machine's MariaDB and Redis (service-backed run).

MariaDB has no expression indexes, so Django skips the test app's Lower()
constraint here; its unique generated column ``email_lower`` (the
quickstart's MariaDB recipe) is the rule, and its index serves the
lookups. PyMySQL (pure Python) stands in for mysqlclient, which needs the
MariaDB client headers to build.
"""

import os

import pymysql

from .settings import *  # noqa: F403

# Django asks the MySQLdb module for mysqlclient's version; PyMySQL speaks the
# same DB-API and reports an old one unless told otherwise.
pymysql.version_info = (2, 2, 1, "final", 0)
pymysql.install_as_MySQLdb()

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.mysql",
        "HOST": os.environ.get("VE_MARIADB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("VE_MARIADB_PORT", "3306"),
        "NAME": os.environ.get("VE_MARIADB_NAME", "test"),
        "USER": os.environ.get("VE_MARIADB_USER", "root"),
        "PASSWORD": os.environ.get("VE_MARIADB_PASSWORD", ""),
        "OPTIONS": {"charset": "utf8mb4"},
        "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("VE_REDIS_URL", "redis://127.0.0.1:6379/2"),
    }
}
