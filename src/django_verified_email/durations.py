"""Lengths of time in words, for people: "15 minutes", "23 hours", "7 days".

Pages say how long a wait lasts and emails how long a link works; a count of
seconds means nothing to someone locked out of their wallet. The unit is the
largest that reads naturally, and the count is rounded up: a wait is never
said to be shorter than it is.
"""

from __future__ import annotations

import math

from django.utils.translation import gettext, ngettext

MINUTE = 60  # seconds
HOUR = 3600  # seconds
DAY = 86400  # seconds
# Up to two days, a wait reads best in hours ("in 36 hours", not "in 2 days").
HOURS_UP_TO = 2 * DAY


def in_words(seconds: float) -> str:
    """Return ``seconds`` as a translated count of the largest fitting unit."""
    seconds = max(1, math.ceil(seconds))
    if seconds < MINUTE:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / MINUTE)
    if minutes < 60:
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    hours = math.ceil(seconds / HOUR)
    if seconds <= HOURS_UP_TO:
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    days = math.ceil(seconds / DAY)
    return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}


def try_again_in(seconds: float) -> str:
    """Return the sentence a refusal with a wait ends with: "Try again in 15 minutes."."""
    return gettext("Try again in %(wait)s.") % {"wait": in_words(seconds)}
