"""The whole suite on the machine's PostgreSQL and Redis (service-backed run)."""

import os

from .settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("VE_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("VE_PG_PORT", "5432"),
        "NAME": os.environ.get("VE_PG_NAME", "test"),
        "USER": os.environ.get("VE_PG_USER", "postgres"),
        "PASSWORD": os.environ.get("VE_PG_PASSWORD", ""),
    }
}
# tests/test_routers.py: a second database, and a replica of the default one.
DATABASES["other"] = {**DATABASES["default"], "NAME": f"{DATABASES['default']['NAME']}_other"}
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("VE_REDIS_URL", "redis://127.0.0.1:6379/1"),
    }
}
