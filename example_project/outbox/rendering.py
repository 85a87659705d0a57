"""Showing a plain-text email as HTML with its links clickable."""

import re

from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

# Stops at whitespace and at characters that cannot be part of a link in a
# plain-text body; trailing punctuation is handed back to the text.
LINK_RE = re.compile(r"https?://[^\s<>\"']+")
TRAILING = ".,;:!?)"


def linkify(text):
    """Escape ``text`` and turn its http(s) links into anchors."""
    parts = []
    position = 0
    for match in LINK_RE.finditer(text):
        link = match.group(0)
        stripped = link.rstrip(TRAILING)
        end = match.start() + len(stripped)
        parts.append(escape(text[position : match.start()]))
        parts.append(
            format_html(
                '<a class="outbox-link" data-testid="outbox-link" href="{0}">{0}</a>', stripped
            )
        )
        position = end
    parts.append(escape(text[position:]))
    # Safe: every part was escaped above, or built by format_html.
    return mark_safe("".join(parts))
