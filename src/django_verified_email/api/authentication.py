"""Which DRF authentication classes the API accepts: ``API_AUTHENTICATION_CLASSES``."""

from functools import lru_cache

from django.utils.module_loading import import_string

from ..conf import app_settings


@lru_cache(maxsize=8)
def _imported(paths):
    return tuple(import_string(path) for path in paths)


def authentication_classes():
    """The classes the setting names, imported once per distinct value."""
    return _imported(tuple(app_settings.API_AUTHENTICATION_CLASSES))
