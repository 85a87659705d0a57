"""The language the app's pages and emails actually come out in.

Django renders a message it has no translation for in the fallback: the
``LANGUAGE_CODE`` catalogue, else the English msgid. A page in a language the
app has no catalogue for (Arabic, say) is then English (or the default
language) text, and must say so: its ``lang`` and ``dir``, and its dates,
follow the text, not the language the request asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.utils import translation

#: A message every catalogue of the app translates (each email ends with it),
#: so its text tells which catalogue answered.
PROBE = "This message was sent automatically by %(site_name)s. Please do not reply."


def _base(language: str) -> str:
    return language.lower().replace("_", "-").split("-")[0]


def rendered() -> str | None:
    """Return the language the app's text comes out in now; None when translation is off."""
    active = translation.get_language()
    if active is None:
        return None  # deactivate_all(): the msgids, and no language to state
    text = translation.gettext(PROBE)
    if text == PROBE:
        return active if _base(active) == "en" else "en"
    default = settings.LANGUAGE_CODE
    if _base(default) != _base(active):
        with translation.override(default):
            if translation.gettext(PROBE) == text:
                return default  # the active language has no catalogue: Django fell back
    return active


@contextmanager
def as_rendered() -> Iterator[None]:
    """Activate the language the text comes out in, for what states it (``lang``, dates)."""
    language = rendered()
    if language is None or language == translation.get_language():
        yield
        return
    with translation.override(language):
        yield
